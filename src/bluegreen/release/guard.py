"""The schema guard in every sync: green's schema changing between two windows re-checks the
mapping before the next window applies anything.

:class:`SchemaGuard` wraps the sync's plan builder. It fingerprints green's schema when it builds
the plan and, before every window (the runner asks ``stale()``), compares green's current
fingerprint: a change makes the runner rebuild the plan, which re-checks the mapping against the
new schema, and a mapping that no longer fits stops the window before anything is applied.
"""

from __future__ import annotations

import logging

from bluegreen.dialects.base import Dialect
from bluegreen.release.records import utcnow
from bluegreen.sync.plan import SyncPlan, build_plan
from bluegreen.sync.runner import PlanBuilder
from bluegreen.sync.shape import Shaper

log = logging.getLogger("bluegreen.release")


class SchemaGuard:
    """A plan builder for the Syncer that notices green's schema changing between windows.

    Wraps another builder (the mapping workbook's) or builds the same-named-tables plan. Its
    ``stale()`` is true when green's schema fingerprint (or the inner builder's input) changed
    since the plan was built, so the runner rebuilds and re-checks before the next window."""

    def __init__(self, inner: PlanBuilder | None = None, tables: list[str] | None = None) -> None:
        self.inner = inner
        self.tables = tables or None
        self.fingerprint: str | None = None
        self.changes: list[str] = []
        self._green: Dialect | None = None

    def __call__(self, blue: Dialect, green: Dialect) -> tuple[SyncPlan, Shaper | None]:
        schema = green.introspect()
        green.rollback()
        previous = self.fingerprint
        if previous is not None and previous != schema.fingerprint():
            log.warning("green's schema changed since the last window: re-checking the mapping")
            self.changes.append(f"{previous} -> {schema.fingerprint()} at {utcnow()}")
        self._green = green
        if self.inner is not None:
            plan, shaper = self.inner(blue, green)
        else:
            plan = build_plan(blue.introspect(), schema, blue.tracked_tables(), self.tables)
            blue.rollback()
            shaper = None
        self.fingerprint = schema.fingerprint()
        return plan, shaper

    def current(self) -> str | None:
        if self._green is None:
            return None
        fp = self._green.introspect().fingerprint()
        self._green.rollback()
        return fp

    def stale(self) -> bool:
        inner_stale = getattr(self.inner, "stale", None)
        if inner_stale is not None and inner_stale():
            return True
        if self._green is None or self.fingerprint is None:
            return False
        return self.current() != self.fingerprint
