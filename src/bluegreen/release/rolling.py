"""The rolling upgrade: the method without change tracking, to compare the cutover against.

Freeze blue read-only, copy it to a stage database, run the upgrade script on the stage, verify
(row counts of every blue table the stage still has, plus an optional check of your own), move
the stage's identity counters, switch traffic to the stage. A failure before the switch
unfreezes blue and drops the stage copy; routing is left unchanged.

Blue is read-only from the freeze to the switch: copy plus upgrade plus verify, all of it. The
receipt's ``freeze_seconds`` is that window, measured the same way as the cutover's, so the two
methods can be compared on one database.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bluegreen.dialects import dialect_class
from bluegreen.dialects.base import Dialect
from bluegreen.errors import BlueGreenError, ConfigError, TerminalError
from bluegreen.release.baseline import clean_copy
from bluegreen.release.pair import ReleasePair, secret
from bluegreen.release.records import (
    GateFailed,
    Phase,
    PhaseHooks,
    PhasePlan,
    Receipt,
    failure_text,
    run_plan,
)
from bluegreen.release.store import ReleaseStore
from bluegreen.release.switch import TrafficSwitch
from bluegreen.release.traffic import FreezeAndSwitch

Upgrade = str | Path | Callable[[Dialect], None]
"""SQL text, a path to a .sql file, or a callable that upgrades the stage through its dialect."""
Check = Callable[[Dialect, Dialect], list[str]]
"""Your own verification: (frozen blue, upgraded stage) -> problems (empty: fine)."""


@dataclass
class RollingReceipt(Receipt):
    """What the rolling upgrade did; ``freeze_seconds`` is blue's read-only window."""

    pair: dict[str, Any] = field(default_factory=dict)
    switch: str = ""
    freeze_started_at: str | None = None
    freeze_ended_at: str | None = None
    freeze_seconds: float | None = None
    counts: dict[str, list[int]] = field(default_factory=dict)
    not_on_stage: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    identities: list[str] = field(default_factory=list)
    routing_after: str | None = None
    blue_unfrozen: bool | None = None
    stage_dropped: bool | None = None

    def facts(self) -> list[tuple[str, str]]:
        out = []
        if self.freeze_seconds is not None:
            out.append(("read-only window", f"{self.freeze_seconds:.3f} s"))
        out.append(("tables counted", str(len(self.counts))))
        if self.not_on_stage:
            out.append(("not on the stage after the upgrade", ", ".join(self.not_on_stage)))
        if self.routing_after:
            out.append(("traffic now on", self.routing_after))
        if self.blue_unfrozen is not None:
            out.append(("blue unfrozen after the failure", "yes" if self.blue_unfrozen else "NO"))
        if self.stage_dropped is not None:
            out.append(("stage dropped", "yes" if self.stage_dropped else "NO"))
        return out


class _Rolling(FreezeAndSwitch[RollingReceipt]):
    def __init__(
        self,
        pair: ReleasePair,
        switch: TrafficSwitch,
        upgrade: Upgrade,
        check: Check | None,
        replace_stage: bool,
        receipt: RollingReceipt,
    ) -> None:
        super().__init__(pair, switch, receipt)
        self.upgrade = upgrade
        self.check = check
        self.replace_stage = replace_stage
        self.copy_attempted = False

    def phases(self) -> list[Phase]:
        b, s = self.pair.blue_label, self.pair.green_label
        return [
            Phase(
                "preflight",
                f"routing on {b}; {b} writable; {s} free; script readable",
                self.preflight,
            ),
            Phase("freeze", f"make {b} read-only and confirm it", self.freeze),
            Phase("copy", f"copy {b} to the stage {s}", self.copy),
            Phase("upgrade", f"run the upgrade script on {s}", self.run_upgrade),
            Phase("verify", f"row counts of {b}'s tables on {s}; your check", self.verify),
            Phase("switch", f"move {s}'s identities; point traffic at {s}", self.point),
        ]

    def _script(self) -> str | None:
        if callable(self.upgrade):
            return None
        if isinstance(self.upgrade, Path):
            try:
                return self.upgrade.read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(
                    f"cannot read the upgrade script {self.upgrade}: {exc}", fix="check the path"
                ) from exc
        return str(self.upgrade)

    def preflight(self) -> str:
        p = self.pair
        active = self.switch.active()
        if active is not None and active != p.blue_label:
            raise GateFailed(
                f"{self.switch.describe()} sends traffic to {active}",
                fix=f"point it at {p.blue_label} first",
            )
        self._script()
        cls = dialect_class(p.green_url)
        if cls.database_exists(p.green_url) and not self.replace_stage:
            raise GateFailed(
                f"the stage database ({p.green_label}) already exists",
                fix="drop it, or pass replace_stage=True",
            )
        with self.sessions.scope():
            blue = self.sessions.open(p.blue_url)
            if blue.is_frozen():
                raise GateFailed(
                    f"{p.blue_label} is frozen already",
                    fix="unfreeze it (or roll back what froze it) first",
                )
        return f"traffic on {active or 'unknown'}"

    def freeze(self) -> str:
        with self.sessions.scope():
            self.freeze_blue(
                self.sessions.open(self.pair.blue_url), "check the database user's rights"
            )
        return f"{self.pair.blue_label} read-only"

    def copy(self) -> str:
        t = time.perf_counter()
        with self.sessions.scope():
            blue = self.sessions.open(self.pair.blue_url)
            self.copy_attempted = True
            blue.copy_database(self.pair.green_url, replace=self.replace_stage)
            stage = self.sessions.open(self.pair.green_url)
            clean_copy(stage)
        return f"copied in {time.perf_counter() - t:.2f} s"

    def run_upgrade(self) -> str:
        with self.sessions.scope():
            stage = self.sessions.open(self.pair.green_url)
            script = self._script()
            if script is None:
                assert callable(self.upgrade)
                self.upgrade(stage)
            else:
                stage.run_script(script, doing=f"run the upgrade script on {self.pair.green_label}")
            stage.rollback()
        return "upgrade script ran"

    def verify(self) -> str:
        r = self.receipt
        with self.sessions.scope():
            blue = self.sessions.open(self.pair.blue_url)
            stage = self.sessions.open(self.pair.green_url)
            bs, ss = blue.introspect(), stage.introspect()
            for name, table in sorted(bs.tables.items()):
                other = ss.find(name)
                if other is None:
                    r.not_on_stage.append(str(name))
                    continue
                nb = int(blue.query(f"SELECT count(*) FROM {blue.qualify(table.name)}")[0][0])
                ns = int(stage.query(f"SELECT count(*) FROM {stage.qualify(other.name)}")[0][0])
                r.counts[str(name)] = [nb, ns]
                if nb != ns:
                    r.problems.append(f"{name}: {nb} row(s) on blue, {ns} on the stage")
            if self.check is not None:
                r.problems += list(self.check(blue, stage))
        if r.problems:
            raise TerminalError(
                "the upgraded stage does not match blue: " + "; ".join(r.problems),
                fix="fix the upgrade script; blue was unfrozen and the stage dropped",
            )
        return f"{len(r.counts)} table(s) counted"

    def point(self) -> str:
        r = self.receipt
        with self.sessions.scope():
            stage = self.sessions.open(self.pair.green_url)
            r.identities = stage.advance_identities()
            stage.rollback()
            self.point_at_green("check the switch")
            try:
                ReleaseStore(stage).set_role("production")
            except BlueGreenError as exc:
                r.warnings.append(f"the stage could not be marked production: {exc.message}")
        return f"traffic on {self.pair.green_label} after {r.freeze_seconds:.3f} s read-only"

    def abort(self) -> None:
        r = self.receipt
        self.sessions.close_all()
        routing_ok = self.route_back()
        self.release_blue(routing_ok, "routing is not confirmed back on blue: blue was left FROZEN")
        if self.copy_attempted and routing_ok:
            try:
                cls = dialect_class(self.pair.green_url)
                cls.drop_database(self.pair.green_url)
                r.stage_dropped = not cls.database_exists(self.pair.green_url)
            except Exception as exc:
                r.stage_dropped = False
                r.warnings.append(f"the stage could not be dropped: {failure_text(exc)[0]}")


def rolling_upgrade(
    blue: str | SecretStr,
    stage: str | SecretStr,
    switch: TrafficSwitch,
    upgrade: Upgrade,
    *,
    blue_label: str = "blue",
    stage_label: str = "stage",
    replace_stage: bool = False,
    check: Check | None = None,
    hooks: PhaseHooks | None = None,
    dry_run: bool = False,
) -> RollingReceipt:
    """Upgrade a copy of blue while blue is read-only, then switch to it (module docstring).

    Raises :class:`ReleaseFailed` on failure, after unfreezing blue and dropping the stage."""
    pair = ReleasePair(secret(blue), secret(stage), blue_label, stage_label)
    receipt = RollingReceipt(
        operation="rolling-upgrade", pair=pair.as_dict(), switch=switch.describe()
    )
    runner = _Rolling(pair, switch, upgrade, check, replace_stage, receipt)
    return run_plan(
        PhasePlan("rolling-upgrade", runner.phases()),
        receipt,
        hooks=hooks,
        dry_run=dry_run,
        done="switched",
        gates=("preflight",),
        undo=runner.abort,  # unfreeze blue, drop the stage
        committed=lambda: runner.switched,
        close=runner.sessions.close_all,
    )
