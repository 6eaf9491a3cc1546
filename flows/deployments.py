"""The deployments declared in ``prefect.yaml``, as Prefect ``RunnerDeployment`` objects.

``prefect deploy --all`` reads prefect.yaml for work pools; ``bluegreen serve`` reads the same
file through this module and serves the same deployments from one process, so the two ways of
running bluegreen cannot drift apart.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml
from prefect.client.schemas.objects import ConcurrencyLimitConfig
from prefect.deployments.runner import RunnerDeployment
from prefect.flows import load_flow_from_entrypoint
from prefect.schedules import Schedule

from bluegreen.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PREFECT_YAML = PROJECT_ROOT / "prefect.yaml"


def read_specs(path: Path = PREFECT_YAML) -> list[dict[str, Any]]:
    """The ``deployments`` of prefect.yaml, with YAML anchors and merge keys resolved."""
    if not path.is_file():
        raise ConfigError(
            f"{path} does not exist",
            fix="run from the bluegreen checkout, which holds prefect.yaml at its root",
        )
    data = yaml.safe_load(path.read_text()) or {}
    specs = data.get("deployments") or []
    names = [s.get("name") for s in specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates or not all(names):
        raise ConfigError(
            f"{path}: every deployment needs a unique name (duplicates: {duplicates})",
            fix="give each entry under `deployments:` its own `name`",
        )
    return specs


def _schedule(item: dict[str, Any]) -> Schedule:
    known = {"interval", "cron", "timezone", "active", "parameters", "slug"}
    unknown = set(item) - known
    if unknown or ("interval" in item) == ("cron" in item):
        raise ConfigError(
            f"prefect.yaml schedule {item} is not supported by `bluegreen serve`",
            fix="give each schedule exactly one of `interval` (seconds) or `cron`, plus "
            "optional timezone, active, parameters, slug",
        )
    fields = dict(item)
    if "interval" in fields:
        fields["interval"] = dt.timedelta(seconds=float(fields["interval"]))
    return Schedule(**fields)


def _concurrency(spec: dict[str, Any]) -> ConcurrencyLimitConfig | int | None:
    limit = spec.get("concurrency_limit")
    if isinstance(limit, dict):
        return ConcurrencyLimitConfig(**limit)
    return limit


def runner_deployment(spec: dict[str, Any], root: Path = PROJECT_ROOT) -> RunnerDeployment:
    """A servable deployment for one prefect.yaml entry (the entrypoint is loaded here)."""
    path, _, func = spec["entrypoint"].rpartition(":")
    flow = load_flow_from_entrypoint(f"{root / path}:{func}", use_placeholder_flow=False)
    return flow.to_deployment(
        name=spec["name"],
        description=spec.get("description"),
        tags=list(spec.get("tags") or []),
        parameters=dict(spec.get("parameters") or {}),
        schedules=[_schedule(s) for s in spec.get("schedules") or []],
        concurrency_limit=_concurrency(spec),
    )


def runner_deployments(path: Path = PREFECT_YAML) -> list[RunnerDeployment]:
    """Every deployment of prefect.yaml, ready for :func:`prefect.serve`."""
    return [runner_deployment(spec, path.parent) for spec in read_specs(path)]
