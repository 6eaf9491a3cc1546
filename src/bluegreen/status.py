"""Read-only questions about a blue/green pair: how far behind is green, what did syncs do, and
does green hold the same rows as blue.

None of these writes anything: the plan is built with ``prepare(install=False)`` so asking for
the status of a green that was never synced does not turn it into one.
"""

from __future__ import annotations

import decimal
from dataclasses import asdict, dataclass, field
from typing import Any

from bluegreen.dialects.base import Dialect
from bluegreen.errors import ConfigError
from bluegreen.sync.plan import SyncPlan, Target
from bluegreen.sync.runner import Syncer
from bluegreen.sync.state import GreenState
from bluegreen.verify import TableDigest, table_digest
from bluegreen.watermark import Watermark


@dataclass
class PairStatus:
    """Where green stands against blue right now."""

    installed: bool
    watermark: Watermark
    blue_version: Watermark
    pending: dict[str, int] = field(default_factory=dict)
    last_window: dict[str, Any] | None = None
    skipped: tuple[str, ...] = ()

    @property
    def lag_versions(self) -> int | None:
        """Versions green is behind; None when green has seen nothing (the whole log is due)."""
        if self.watermark.origin:
            return None
        return max(0, self.blue_version.version - self.watermark.version)

    @property
    def pending_changes(self) -> int:
        return sum(self.pending.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "state_installed": self.installed,
            "watermark": str(self.watermark),
            "blue_version": self.blue_version.version,
            "lag_versions": self.lag_versions,
            "pending_changes": self.pending_changes,
            "pending_by_table": dict(self.pending),
            "last_window": self.last_window,
            "not_synced": list(self.skipped),
        }


def plain(row: dict[str, Any]) -> dict[str, Any]:
    """Driver numbers as Python ones: SUM() comes back as Decimal on some engines."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, decimal.Decimal):
            value = int(value) if value == value.to_integral_value() else float(value)
        out[key] = value
    return out


def green_watermark(state: GreenState) -> tuple[bool, Watermark]:
    """(state tables installed, watermark); a green never synced is at the origin."""
    if not state.installed():
        return False, Watermark.start()
    mark = state.read()[0]
    state.db.rollback()
    return True, mark


def pair_status(syncer: Syncer) -> PairStatus:
    """Watermark, blue's version, lag and pending changes (per synced table), last window."""
    plan = syncer.prepare(install=False)
    installed, mark = green_watermark(syncer.state)
    last = syncer.state.last_window() if installed else None
    last = plain(last) if last is not None else None
    syncer.green.rollback()
    blue = syncer.blue
    try:
        blue.begin_snapshot()
        current = blue.current_watermark()
        pending = {str(s.blue.name): blue.count_changes(s.blue, mark) for s in plan.sources}
    finally:
        blue.rollback()
    return PairStatus(installed, mark, current, pending, last, plan.skipped)


def require_state(state: GreenState, where: str) -> None:
    """A ConfigError when green has no bluegreen state tables (nothing was ever synced)."""
    if not state.installed():
        raise ConfigError(
            f"green ({where}) has no bluegreen state tables: it was never synced",
            fix="run `bluegreen sync --blue <url> --green <url>` first",
        )


@dataclass
class SyncStats:
    """Totals over green's window history, and per table."""

    totals: dict[str, Any]
    tables: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {"totals": self.totals, "tables": self.tables}


def sync_stats(state: GreenState, where: str) -> SyncStats:
    """Everything green's history tables know about the syncs of this stream."""
    require_state(state, where)
    try:
        return SyncStats(plain(state.totals()), [plain(r) for r in state.table_totals()])
    finally:
        state.db.rollback()


@dataclass(frozen=True)
class TableComparison:
    """One green target against the blue columns that feed it."""

    blue_table: str
    green_table: str
    blue: TableDigest
    green: TableDigest
    not_compared: tuple[str, ...] = ()  # green columns not fed by a plain blue value

    @property
    def matches(self) -> bool:
        return self.blue.rows == self.green.rows and self.blue.digest == self.green.digest

    def as_dict(self) -> dict[str, Any]:
        return {
            "blue_table": self.blue_table,
            "green_table": self.green_table,
            "blue": asdict(self.blue),
            "green": asdict(self.green),
            "matches": self.matches,
            "not_compared": list(self.not_compared),
        }


@dataclass
class Verification:
    """The comparison of every synced table, with the positions both sides were read at."""

    tables: list[TableComparison]
    watermark: Watermark | None
    blue_version: Watermark

    @property
    def ok(self) -> bool:
        return all(t.matches for t in self.tables)

    @property
    def in_flight(self) -> bool:
        """Blue had changes green had not applied when they were read (a mismatch may be them)."""
        return (
            self.watermark is None
            or self.watermark.origin
            or (self.watermark.version != self.blue_version.version)
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "watermark": str(self.watermark) if self.watermark is not None else None,
            "blue_version": self.blue_version.version,
            "tables": [t.as_dict() for t in self.tables],
        }


def compared_columns(target: Target) -> tuple[list[str], list[str]]:
    """(blue columns, green columns) of a target whose green value is the blue value itself.

    Version columns, lookups (green holds a key, not the value) and casts (the value changed
    type on the way) are left out of the hash and reported as not compared; row counts still
    cover every row."""
    pairs = [
        (s.blue, s.green)
        for s in target.sources
        if s.blue is not None and not s.version and s.lookup is None and s.cast is None
    ]
    return [b for b, _ in pairs], [g for _, g in pairs]


def not_compared(target: Target) -> tuple[str, ...]:
    _, compared = compared_columns(target)
    return tuple(s.green for s in target.sources if s.green not in compared)


def compare(blue: Dialect, green: Dialect, plan: SyncPlan, state: GreenState) -> Verification:
    """Row counts and content hashes of every synced table, through the plan's column sources.

    Blue's tables are all read in one snapshot, green's in another together with its watermark,
    so each side is internally consistent even while writers and syncs run.
    """
    blue_digests: list[tuple[str, Target, TableDigest]] = []
    try:
        blue.begin_snapshot()
        current = blue.current_watermark()
        for source in plan.sources:
            for target in source.targets:
                cols, _ = compared_columns(target)
                blue_digests.append(
                    (str(source.blue.name), target, table_digest(blue, source.blue.name, cols))
                )
    finally:
        blue.rollback()
    out: list[TableComparison] = []
    installed = state.installed()
    try:
        green.begin_snapshot()
        mark = state.read()[0] if installed else None
        for blue_name, target, bd in blue_digests:
            _, gcols = compared_columns(target)
            gd = table_digest(green, target.green.name, gcols)
            out.append(
                TableComparison(blue_name, str(target.green.name), bd, gd, not_compared(target))
            )
    finally:
        green.rollback()
    return Verification(out, mark, current)
