"""Runs windows: once, until caught up, or following blue forever (until told to stop).

A *run* builds the plan from the two live schemas, installs green's state tables if needed
(idempotent), then loops windows. It stops when green has caught up with blue's version as it
was when the run started, when its time budget is spent, or when the stop event is set.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bluegreen.dialects.base import Dialect
from bluegreen.sync.plan import SyncPlan, build_plan
from bluegreen.sync.shape import Shaper
from bluegreen.sync.state import GreenState, TableStats, WindowRecord
from bluegreen.sync.window import StepHook, Window
from bluegreen.watermark import Watermark

log = logging.getLogger("bluegreen.sync")

PlanBuilder = Callable[[Dialect, Dialect], tuple[SyncPlan, Shaper | None]]


@dataclass
class RunSummary:
    """What a run did: its windows, and whether green reached blue's version at the start."""

    windows: list[WindowRecord] = field(default_factory=list)
    caught_up: bool = False
    seconds: float = 0.0

    @property
    def totals(self) -> TableStats:
        out = TableStats()
        for w in self.windows:
            out.add(w.totals)
        return out

    def table_totals(self) -> dict[str, TableStats]:
        out: dict[str, TableStats] = {}
        for w in self.windows:
            for name, s in w.tables.items():
                out.setdefault(name, TableStats()).add(s)
        return out

    def summary(self) -> str:
        t = self.totals
        applied = [w for w in self.windows if w.changes]
        return (
            f"{len(applied)} window(s): {t.inserts} inserts, {t.updates} updates, "
            f"{t.deletes + t.deferred_deletes} ({t.deferred_deletes}) deletes in "
            f"{self.seconds:.2f} s; {'caught up' if self.caught_up else 'not caught up'}"
        )


class Syncer:
    """Syncs one blue/green pair; owns neither connection (the caller closes them)."""

    def __init__(
        self,
        blue: Dialect,
        green: Dialect,
        *,
        tables: list[str] | None = None,
        batch_size: int = 50_000,
        stream: str = "default",
        plan_builder: PlanBuilder | None = None,
        on_step: StepHook | None = None,
    ) -> None:
        self.blue = blue
        self.green = green
        self.tables = tables or None
        self.batch_size = batch_size
        self.state = GreenState(green, stream)
        self.plan_builder = plan_builder
        self.on_step = on_step
        self._plan: SyncPlan | None = None
        self._shaper: Shaper | None = None
        self._installed = False

    def prepare(self, refresh: bool = False, install: bool = True) -> SyncPlan:
        """Install green's state (idempotent) and build the plan from both live schemas.

        ``install=False`` builds the plan without touching green (``sync --dry-run``, ``status``,
        ``verify``); a later ``prepare()`` still installs the state tables before any window.
        """
        if self._plan is None or refresh or (install and not self._installed):
            if install:
                self.state.install()
                self._installed = True
            if self.plan_builder is not None:
                self._plan, self._shaper = self.plan_builder(self.blue, self.green)
            else:
                self._plan = build_plan(
                    self.blue.introspect(),
                    self.green.introspect(),
                    self.blue.tracked_tables(),
                    self.tables,
                )
                self._shaper = None
            for line in self._plan.skipped:
                log.warning("not synced: %s", line)
        return self._plan

    def reconnect(self) -> None:
        """Reopen a connection lost in an earlier attempt (a transient error), so a retried
        window or run starts clean."""
        self.blue.ensure_connected()
        self.green.ensure_connected()

    def window(self) -> Window:
        """A fresh window over the current plan (call its phases, or ``run()``).

        A plan builder with a ``stale()`` method (the mapping workbook's) is asked before every
        window; when its input changed (an edited workbook) the plan is rebuilt and re-checked
        here, before the window opens, so an invalid edit stops the sync with nothing applied."""
        self.reconnect()
        stale = getattr(self.plan_builder, "stale", None)
        if self._plan is not None and stale is not None and stale():
            log.info("plan input changed: rebuilding the sync plan")
            self.prepare(refresh=True)
        plan = self.prepare()
        return Window(
            self.blue,
            self.green,
            plan,
            self.state,
            batch_size=self.batch_size,
            shaper=self._shaper,
            on_step=self.on_step,
        )

    def once(self) -> WindowRecord | None:
        """One window; None when blue had nothing new."""
        return self.window().run()

    def until_caught_up(
        self,
        time_budget: float | None = None,
        stop: threading.Event | None = None,
        on_window: Callable[[WindowRecord], None] | None = None,
    ) -> RunSummary:
        """Windows until green holds everything blue had committed when the run started."""
        t0 = time.perf_counter()
        self.reconnect()
        self.prepare()
        target = self.blue.current_watermark()
        self.blue.rollback()
        summary = RunSummary()
        while True:
            record = self.once()
            if record is not None:
                summary.windows.append(record)
                if on_window:
                    on_window(record)
            mark = record.to_mark if record else self.state.read()[0]
            self.green.rollback()
            if record is None or _reached(mark, target):
                summary.caught_up = True
                break
            if stop is not None and stop.is_set():
                break
            if time_budget is not None and time.perf_counter() - t0 >= time_budget:
                break
        summary.seconds = time.perf_counter() - t0
        return summary

    def follow(
        self,
        interval: float,
        stop: threading.Event,
        time_budget: float | None = None,
        on_window: Callable[[WindowRecord], None] | None = None,
        paused: threading.Event | None = None,
    ) -> RunSummary:
        """A window every ``interval`` seconds (at once again when one applied rows)."""
        t0 = time.perf_counter()
        summary = RunSummary()
        while not stop.is_set():
            if paused is not None and paused.is_set():
                stop.wait(min(interval, 0.5))
                continue
            record = self.once()
            if record is not None:
                summary.windows.append(record)
                if on_window:
                    on_window(record)
            if time_budget is not None and time.perf_counter() - t0 >= time_budget:
                break
            if record is None or not record.changes:
                stop.wait(interval)
        summary.caught_up = False
        summary.seconds = time.perf_counter() - t0
        return summary


def _reached(mark: Watermark, target: Watermark) -> bool:
    return not mark.origin and mark.version >= target.version and not target.origin
