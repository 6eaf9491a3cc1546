"""Making a green from a copy, and recording the baseline watermark it is consistent with.

A copy of blue is not yet a green: it carries blue's change tracking (its triggers would log the
sync's own writes), possibly blue's write freeze (a rolling upgrade copies a frozen blue), and,
when the source was itself a green once, that green's state and release records. All of that
is removed here, then the baseline watermark is written into fresh state tables.

The baseline must be *consistent* with the copy's rows:

- where the engine's copy carries the exact change-log position (``copy_keeps_watermark``:
  SQLite's backup API copies one snapshot, change clock included), the position is read inside
  the copy before anything writes to it;
- otherwise blue's position is captured *before* the copy starts, and the first sync replays
  the overlap (changes between the capture and the copy are already in the copy; applying
  them again by state is harmless).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field

from pydantic import SecretStr

from bluegreen.dialects import connect
from bluegreen.dialects.base import Dialect
from bluegreen.release.store import ReleaseStore
from bluegreen.sync.plan import SyncPlan
from bluegreen.sync.state import GreenState, WindowRecord
from bluegreen.watermark import Watermark

log = logging.getLogger("bluegreen.release")


@dataclass
class CopyResult:
    """What a copy produced: the baseline it is consistent with, and what was cleaned off it."""

    baseline: Watermark | None
    baseline_source: str
    seconds: float
    dropped_tracking: list[str] = field(default_factory=list)
    was_frozen: bool = False


def copy_as_green(source: Dialect, target: SecretStr, *, replace: bool) -> CopyResult:
    """Copy ``source`` to ``target`` and clean the copy into a green (see the module doc).

    ``source`` stays usable afterwards (PostgreSQL's copy closes and reopens its connection)."""
    t0 = time.perf_counter()
    tracked = bool(source.tracked_tables())
    source.rollback()
    baseline: Watermark | None = None
    how = "blue has no change tracking: no baseline"
    if tracked and not type(source).copy_keeps_watermark:
        baseline = source.current_watermark()
        source.rollback()
        how = "captured on blue before the copy; the first sync replays the overlap"
    source.copy_database(target, replace=replace)
    copy = connect(target)
    try:
        if tracked and type(source).copy_keeps_watermark:
            baseline = copy.current_watermark()
            copy.rollback()
            how = "read inside the copy (the copy holds blue's change clock)"
        result = CopyResult(baseline, how, 0.0)
        clean_copy(copy, result)
    finally:
        copy.close()
    result.seconds = time.perf_counter() - t0
    return result


def clean_copy(copy: Dialect, result: CopyResult | None = None) -> None:
    """Unfreeze the copy, drop its change tracking and forget its source's release records."""
    frozen = copy.is_frozen()
    copy.rollback()
    if frozen:
        copy.unfreeze()
    dropped = copy.drop_tracking()
    ReleaseStore(copy).forget_all()
    if result is not None:
        result.was_frozen = frozen
        result.dropped_tracking = [str(n) for n in dropped]


def reset_state(green: Dialect, stream: str) -> None:
    """Empty green's state tables (a copy of a former green holds that green's watermark)."""
    state = GreenState(green, stream)
    if not state.installed():
        return
    with green.transaction():
        for table in (state.t_tables, state.t_history, state.t_watermark):
            green.execute(f"DELETE FROM {table}", doing="reset green's state")


def record_baseline(
    green: Dialect, stream: str, mark: Watermark, plan: SyncPlan | None = None
) -> None:
    """Install green's state tables and set the stream's watermark to ``mark``."""
    state = GreenState(green, stream)
    state.install()
    now = dt.datetime.now(dt.UTC)
    record = WindowRecord(
        window_id=0,
        from_mark=Watermark.start(),
        to_mark=mark,
        started_at=now,
        finished_at=now,
        read_seconds=0.0,
        apply_seconds=0.0,
        total_seconds=0.0,
        mapping_fingerprint=plan.mapping_fingerprint if plan is not None else None,
    )
    with green.transaction():
        state.write(record, plan.green_fingerprint if plan is not None else None, history=False)
    log.info("green's baseline watermark is %s", mark)
