"""Prepare green: check (or enable) change tracking on blue, create green, record the baseline.

Two ways to create green:

- ``copy``: a copy of blue (SQLite's backup API; PostgreSQL ``CREATE DATABASE ... TEMPLATE``,
  which needs blue and green on one server and locks every session out of blue while the files
  are copied: a blackout of blue for the copy's duration, see ``Dialect.copy_blocks_source``).
  The copy is cleaned into a green (no tracking, no freeze, no stale state); the baseline is read
  inside the copy or captured on blue before it.
- ``load``: an initial load into an existing, empty green through the sync plan (mapping
  workbook included), in bounded batches with progress reports; the baseline is read inside the
  snapshot the load reads.

Either way green's state tables are installed, the baseline written, green marked ``standby``,
and a first sync replays the overlap. The flow then enables the sync schedule.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal

from bluegreen.dialects.base import Dialect
from bluegreen.errors import ConfigError
from bluegreen.release.baseline import CopyResult, copy_as_green, record_baseline, reset_state
from bluegreen.release.load import LoadReport, ProgressFn, initial_load
from bluegreen.release.pair import ReleasePair, Sessions
from bluegreen.release.records import (
    Finding,
    GateFailed,
    Phase,
    PhaseHooks,
    PhasePlan,
    Receipt,
    run_plan,
)
from bluegreen.release.store import ReleaseStore
from bluegreen.schema import Table
from bluegreen.sync.runner import RunSummary
from bluegreen.watermark import Watermark

log = logging.getLogger("bluegreen.release")

Method = Literal["copy", "load"]


@dataclass
class BlueCheck:
    """Blue's readiness: tracking and primary keys of the tables a sync would read."""

    findings: list[Finding] = field(default_factory=list)
    tracked: list[str] = field(default_factory=list)
    enabled: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    def summary(self) -> str:
        if self.ok:
            extra = f", tracking enabled on {len(self.enabled)}" if self.enabled else ""
            return f"blue ready: {len(self.tracked)} tracked table(s){extra}"
        return "; ".join(f.line() for f in self.errors)


def check_blue(
    blue: Dialect, tables: list[str] | tuple[str, ...] = (), *, enable: bool = False
) -> BlueCheck:
    """Is change tracking on for every table to sync, and does each have a primary key?

    ``enable`` turns tracking on (database and tables; on SQL Server the dialect also allows
    snapshot isolation) for the tables that lack it. Tables without a primary key are findings:
    change tracking needs one, and green's apply matches rows by it."""
    schema = blue.introspect()
    chosen: list[Table] = (
        [schema.table(t) for t in tables] if tables else list(schema.tables.values())
    )
    check = BlueCheck()
    keyless = [t for t in chosen if not t.primary_key]
    for t in keyless:
        check.findings.append(
            Finding(
                "error",
                f"table {t.name}",
                "has no primary key: change tracking needs one and green's apply matches by it",
                f"add a primary key to {t.name}, or leave it out of the pair's tables",
            )
        )
    tracked = set(blue.tracked_tables())
    missing = [t for t in chosen if t.name not in tracked and t.primary_key]
    if missing and enable:
        done = blue.enable_tracking(missing)
        check.enabled = [str(n) for n in done]
        tracked = set(blue.tracked_tables())
        missing = [t for t in missing if t.name not in tracked]
    for t in missing:
        check.findings.append(
            Finding(
                "error",
                f"table {t.name}",
                "change tracking is not enabled on it",
                f"run `bluegreen tracking enable --db <blue url> --table {t.name}` (or prepare "
                "with enable_tracking=True)",
            )
        )
    check.tracked = sorted(str(n) for n in tracked if n in {t.name for t in chosen})
    blue.rollback()
    return check


@dataclass
class PrepareReceipt(Receipt):
    """What prepare (or a re-seed) did: how green was made and the baseline it started from."""

    pair: dict[str, Any] = field(default_factory=dict)
    method: str = ""
    blue_check: BlueCheck | None = None
    baseline: Watermark | None = None
    baseline_source: str = ""
    copy: CopyResult | None = None
    load: LoadReport | None = None
    replay: RunSummary | None = None
    plan: str = ""

    def facts(self) -> list[tuple[str, str]]:
        out = [("method", self.method), ("baseline", f"{self.baseline} ({self.baseline_source})")]
        if self.load is not None:
            out.append(("rows loaded", str(sum(self.load.rows.values()))))
        if self.replay is not None:
            out.append(("first sync", self.replay.summary()))
        return out


@dataclass
class _Prepare:
    pair: ReleasePair
    method: Method
    replace: bool
    clear: bool
    enable_tracking: bool
    on_progress: ProgressFn | None
    receipt: PrepareReceipt
    sessions: Sessions = field(default_factory=Sessions)
    blue: Dialect | None = None

    def phases(self) -> list[Phase]:
        how = (
            "copy blue into green (blue is read; on PostgreSQL it is locked for the copy)"
            if self.method == "copy"
            else "load green's tables from one blue snapshot through the sync plan, in batches"
        )
        return [
            Phase("check", "change tracking and primary keys on blue", self.check),
            Phase("create", how, self.create),
            Phase(
                "baseline",
                "install green's state; record the baseline; mark green standby",
                self.baseline,
            ),
            Phase(
                "replay", "first sync from the baseline (replays the overlap by state)", self.replay
            ),
        ]

    def check(self) -> str:
        self.blue = self.sessions.open(self.pair.blue_url)
        result = check_blue(self.blue, self.pair.tables, enable=self.enable_tracking)
        self.receipt.blue_check = result
        if not result.ok:
            raise GateFailed(
                f"blue is not ready: {result.summary()}",
                fix="fix the findings above, or run prepare with enable_tracking=True",
            )
        if self.blue.is_frozen():
            raise GateFailed(
                f"blue ({self.pair.blue_label}) is frozen",
                fix="unfreeze it (rollback of the cutover that froze it) before preparing",
            )
        return result.summary()

    def create(self) -> str:
        assert self.blue is not None
        if self.method == "copy":
            result = copy_as_green(self.blue, self.pair.green_url, replace=self.replace)
            self.receipt.copy = result
            self.receipt.baseline = result.baseline
            self.receipt.baseline_source = result.baseline_source
            return f"copied in {result.seconds:.2f} s; baseline {result.baseline}"
        green = self.sessions.open(self.pair.green_url)
        plan, shaper = self.pair.plan(self.blue, green)
        report = initial_load(
            self.blue,
            green,
            plan,
            shaper,
            batch_size=self.pair.batch_size,
            clear=self.clear,
            on_progress=self.on_progress,
        )
        self.receipt.load = report
        self.receipt.baseline = report.baseline
        self.receipt.baseline_source = "read inside the snapshot the load read"
        self.sessions.close(green)
        total = sum(report.rows.values())
        return f"loaded {total} row(s) in {report.batches} batch(es), {report.seconds:.2f} s"

    def baseline(self) -> str:
        assert self.blue is not None and self.receipt.baseline is not None
        green = self.sessions.open(self.pair.green_url)
        reset_state(green, self.pair.stream)
        syncer = self.pair.syncer(self.blue, green)
        plan = syncer.prepare(install=True)
        self.receipt.plan = plan.describe()
        record_baseline(green, self.pair.stream, self.receipt.baseline, plan)
        ReleaseStore(green).set_role("standby")
        self.sessions.close(green)
        return f"watermark {self.receipt.baseline}; green is standby"

    def replay(self) -> str:
        blue = self.sessions.open(self.pair.blue_url)
        green = self.sessions.open(self.pair.green_url)
        summary = self.pair.syncer(blue, green).until_caught_up()
        self.receipt.replay = summary
        return summary.summary()


def plan_prepare(pair: ReleasePair, method: Method = "copy") -> PhasePlan:
    """The phases prepare would run (for a dry run)."""
    runner = _Prepare(pair, method, False, False, False, None, PrepareReceipt())
    return PhasePlan("prepare-green", runner.phases())


def prepare_green(
    pair: ReleasePair,
    *,
    method: Method = "copy",
    replace: bool = False,
    clear: bool = False,
    enable_tracking: bool = False,
    on_progress: ProgressFn | None = None,
    hooks: PhaseHooks | None = None,
    dry_run: bool = False,
    operation: str = "prepare-green",
    leading: list[Phase] | None = None,
) -> PrepareReceipt:
    """Create green from blue and start it at a consistent baseline (see the module docstring).

    ``replace``: a copy may overwrite an existing green database. ``clear``: a load may empty
    green's target tables first. ``enable_tracking``: turn tracking on where blue lacks it.
    ``leading``: phases run before these (the re-seed's guards).
    Raises :class:`ReleaseFailed` (its ``receipt`` names the phase) on any failure."""
    if method not in ("copy", "load"):
        raise ConfigError(f"unknown prepare method {method!r}", fix="use 'copy' or 'load'")
    receipt = PrepareReceipt(operation=operation, pair=pair.as_dict(), method=method)
    runner = _Prepare(pair, method, replace, clear, enable_tracking, on_progress, receipt)
    return run_plan(
        PhasePlan(operation, [*(leading or []), *runner.phases()]),
        receipt,
        hooks=hooks,
        dry_run=dry_run,
        close=runner.sessions.close_all,
    )
