"""The connections and the engine ``Syncer`` of one sync run, reopened after a transient error.

A window's green transaction lives on one connection across its phase tasks, so the run keeps
its connections in one object that the tasks share. A transient error (lost connection,
deadlock, lock timeout) may leave a connection unusable; the failing task marks the session
broken and the retried attempt starts from fresh connections and a fresh plan.
"""

from __future__ import annotations

import contextlib
import logging

from bluegreen.config import Settings
from bluegreen.dialects import Dialect, connect, redact
from bluegreen.sync.runner import PlanBuilder, Syncer
from bluegreen.sync.window import StepHook

log = logging.getLogger("bluegreen.orchestration")


def plan_builder_for(settings: Settings) -> PlanBuilder | None:
    """The mapping workbook's plan builder; None syncs same-named tables of the same shape.

    The workbook is checked against both live schemas when the plan is built (an invalid
    mapping is a terminal error listing every finding) and re-read when it changes on disk.
    The mapping package (and openpyxl) is imported only for a pair that has a workbook.
    """
    if settings.mapping is None:
        return None
    from bluegreen.mapping import MappingPlanBuilder

    return MappingPlanBuilder(settings.mapping, tables=list(settings.tables) or None)


class PairSession:
    """Blue and green connections plus the ``Syncer`` over them, for one run of one pair."""

    def __init__(self, settings: Settings, on_step: StepHook | None = None) -> None:
        self.settings = settings
        self.on_step = on_step
        self.blue: Dialect | None = None
        self.green: Dialect | None = None
        self._syncer: Syncer | None = None
        self.broken = False
        self.reconnects = 0

    def describe(self) -> str:
        """Production -> copy, without credentials."""
        blue, green = self.settings.require_urls()
        return f"{redact(blue.get_secret_value())} -> {redact(green.get_secret_value())}"

    @property
    def syncer(self) -> Syncer:
        self.ensure_open()
        assert self._syncer is not None
        return self._syncer

    def ensure_open(self) -> None:
        """Connect if not connected; reconnect if the last attempt broke the session."""
        if self.broken:
            log.info("reconnecting to both databases after a transient error")
            self.close()
            self.reconnects += 1
        if self._syncer is not None:
            return
        blue_url, green_url = self.settings.require_urls()
        builder = plan_builder_for(self.settings)
        self.blue = connect(blue_url)
        try:
            self.green = connect(green_url)
        except BaseException:
            self.close()
            raise
        self._syncer = Syncer(
            self.blue,
            self.green,
            tables=list(self.settings.tables) or None,
            batch_size=self.settings.batch_size,
            stream=self.settings.stream,
            plan_builder=builder,
            on_step=self.on_step,
        )
        self.broken = False

    def mark_broken(self) -> None:
        """The next attempt must start from fresh connections."""
        self.broken = True

    def close(self) -> None:
        for side in (self.blue, self.green):
            if side is not None:
                with contextlib.suppress(Exception):
                    side.rollback()
                side.close()
        self.blue = self.green = None
        self._syncer = None
