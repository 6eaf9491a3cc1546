"""The release flows' deployments in prefect.yaml: on demand, their entrypoints load, the
served deployments (flows/serve.py reads the same file) include them, and the re-seed error
names the deployment that fixes it."""

from __future__ import annotations

from prefect import Task
from prefect.cache_policies import NO_CACHE
from prefect.flows import Flow, load_flow_from_entrypoint

import flows.cutover
import flows.pause_for_schema_change
import flows.prepare_green
import flows.reseed_green
import flows.rollback
import flows.rolling_upgrade
from bluegreen.errors import ReseedRequired
from flows.deployments import PROJECT_ROOT, read_specs, runner_deployments
from tasks.retry import retry_if_transient

RELEASE = {
    "prepare-green": ("flows/prepare_green.py:prepare_green", "bluegreen-prepare-green"),
    "pause-for-schema-change": (
        "flows/pause_for_schema_change.py:pause_for_schema_change",
        "bluegreen-pause-for-schema-change",
    ),
    "cutover": ("flows/cutover.py:cutover", "bluegreen-cutover"),
    "rollback": ("flows/rollback.py:rollback", "bluegreen-rollback"),
    "reseed-green": ("flows/reseed_green.py:reseed_green", "bluegreen-reseed-green"),
    "rolling-upgrade": ("flows/rolling_upgrade.py:rolling_upgrade", "bluegreen-rolling-upgrade"),
}


def test_release_deployments_are_on_demand_and_their_entrypoints_load():
    specs = {s["name"]: s for s in read_specs()}
    for name, (entrypoint, flow_name) in RELEASE.items():
        spec = specs[name]
        assert spec["entrypoint"] == entrypoint
        assert spec["schedules"] == [] and spec["parameters"] == {"pair": "default"}
        assert spec["tags"] == ["bluegreen"] and spec["work_pool"]["name"] == "bluegreen"
        path, _, func = entrypoint.rpartition(":")
        flow = load_flow_from_entrypoint(
            f"{PROJECT_ROOT / path}:{func}", use_placeholder_flow=False
        )
        assert isinstance(flow, Flow) and flow.name == flow_name
        assert "pair" in flow.parameters.properties
        # the UI asks for what has no default: the rolling upgrade's script and stage only
        required = set(flow.parameters.required or [])
        assert required == ({"upgrade_script", "stage"} if name == "rolling-upgrade" else set())


def test_serve_serves_the_release_deployments():
    served = {d.name: d for d in runner_deployments()}
    for name in RELEASE:
        assert served[name].schedules == []
        assert served[name].parameters == {"pair": "default"}


def test_reseed_error_names_the_reseed_deployment():
    fix = ReseedRequired("dbo.orders", "the change log was cleaned up").fix or ""
    assert "reseed-green" in fix
    assert "reseed-green" in {s["name"] for s in read_specs()}


def test_database_tasks_are_never_cached_and_retry_only_transient_errors():
    modules = [
        flows.cutover,
        flows.pause_for_schema_change,
        flows.prepare_green,
        flows.reseed_green,
        flows.rollback,
        flows.rolling_upgrade,
    ]
    found = {}
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, Task) and value.__module__ == module.__name__:
                found[value.name] = value
    assert {"check-blue", "prepare-green", "cutover", "rollback", "reseed-green"} <= set(found)
    for name, task in found.items():
        assert task.cache_policy is NO_CACHE, name
        assert task.persist_result is False, name
        if name != "swap-production":  # saves a block: no database
            assert task.retry_condition_fn is retry_if_transient, name
