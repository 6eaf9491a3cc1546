"""One sync window as Prefect task runs: a retried window task with one task run per phase.

The engine's window keeps ONE green transaction open across its phases and commits the rows
and the watermark together, so a failed phase rolls the whole window back. The unit that can be
retried is therefore the window, not the phase: ``sync_window`` carries the retries (transient
errors only) and its phase tasks carry none. A retried window starts again from green's
watermark, which the failed attempt left untouched; applying by state makes that harmless.

After its commit the window measures the lag on its own connections (blue's version and the
changed keys that arrived meanwhile): the flow stops when nothing is pending, without opening
a window only to find it empty.
"""

from __future__ import annotations

from dataclasses import dataclass

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from bluegreen.sync.plan import Phase
from bluegreen.sync.state import TableStats, WindowRecord
from bluegreen.sync.window import StageStats, Window
from bluegreen.watermark import Watermark
from tasks.retry import is_transient, retry_if_transient
from tasks.session import PairSession
from tasks.status import Lag, measure_lag

# Database tasks: never cached, never persisted (see tasks/__init__.py).
DB_TASK = {"cache_policy": NO_CACHE, "persist_result": False}

# Defaults for the retried tasks; the flow overrides them from its parameters.
RETRIES = 3
RETRY_DELAY_SECONDS = 10.0


@task(
    name="connect-and-plan",
    retries=RETRIES,
    retry_delay_seconds=RETRY_DELAY_SECONDS,
    retry_condition_fn=retry_if_transient,
    **DB_TASK,
)
def prepare_sync(session: PairSession) -> list[str]:
    """Connect both sides, install green's state tables, build the plan; return the tables."""
    logger = get_run_logger()
    try:
        session.ensure_open()
        plan = session.syncer.prepare(refresh=True)
    except BaseException as exc:
        if is_transient(exc):
            session.mark_broken()
        raise
    tables = [str(s.blue.name) for s in plan.sources]
    logger.info("syncing %s table(s) %s: %s", len(tables), session.describe(), ", ".join(tables))
    for line in plan.skipped:
        logger.warning("not synced: %s", line)
    return tables


@task(name="fetch-changes", **DB_TASK)
def fetch_changes(window: Window) -> bool:
    """Lock green's watermark, open blue's snapshot, check every table's change log."""
    opened = window.open()
    logger = get_run_logger()
    if opened:
        logger.info("window %s -> %s: change logs cover every table", window.since, window.upto)
    else:
        logger.info("nothing new since %s", window.since)
    return opened


@task(name="stage", **DB_TASK)
def stage_changes(window: Window) -> StageStats:
    """Stream every table's net changes from blue's snapshot into green's stages."""
    staged = window.stage()
    get_run_logger().info(
        "staged %s changed key(s) in %s batch(es) (read %.2f s, load %.2f s)",
        staged.rows,
        staged.batches,
        staged.read_seconds,
        staged.stage_seconds,
    )
    return staged


def _apply(window: Window, phase: Phase) -> dict[str, TableStats]:
    done = window.apply(phase)
    moved = {name: s for name, s in done.items() if s.total}
    if moved:
        get_run_logger().info(
            "%s: %s",
            phase,
            "; ".join(
                f"{name} +{s.inserts} ~{s.updates} -{s.deletes + s.deferred_deletes}"
                for name, s in sorted(moved.items())
            ),
        )
    return done


@task(name="apply-dimensions", **DB_TASK)
def apply_dimensions(window: Window) -> dict[str, TableStats]:
    """Upsert parents before children (the window's green transaction stays open)."""
    return _apply(window, "dimensions")


@task(name="apply-facts", **DB_TASK)
def apply_facts(window: Window) -> dict[str, TableStats]:
    """Upsert and delete the tables nothing references, children first."""
    return _apply(window, "facts")


@task(name="deferred-deletes", **DB_TASK)
def apply_deferred_deletes(window: Window) -> dict[str, TableStats]:
    """Delete from referenced (dimension) tables last, once no child points at the rows."""
    return _apply(window, "deferred_deletes")


@task(name="commit-window", **DB_TASK)
def commit_window(window: Window) -> WindowRecord:
    """Move the watermark, write the history row and commit: rows and watermark together."""
    return window.commit()


@dataclass(frozen=True)
class WindowResult:
    """What a window task returns to the flow."""

    record: WindowRecord | None  # None: blue had nothing new since green's watermark
    lag: Lag | None  # after the window; None when it could not be measured (transient error)


@task(
    name="sync-window",
    task_run_name="window-{number}",
    retries=RETRIES,
    retry_delay_seconds=RETRY_DELAY_SECONDS,
    retry_condition_fn=retry_if_transient,
    **DB_TASK,
)
def sync_window(session: PairSession, number: int) -> WindowResult:
    """One window from green's watermark to blue's current version, then the lag after it."""
    window: Window | None = None
    try:
        window = session.syncer.window()
        if fetch_changes(window):
            stage_changes(window)
            apply_dimensions(window)
            apply_facts(window)
            apply_deferred_deletes(window)
            record: WindowRecord | None = commit_window(window)
        else:
            record = None
    except BaseException as exc:
        if window is not None:
            window.abort()
        if is_transient(exc):
            # The connection that failed may be dead: the retry reconnects both sides.
            session.mark_broken()
            get_run_logger().warning(
                "window %s rolled back after a transient error; green stays at its watermark",
                number,
            )
        raise
    assert window is not None and window.since is not None
    since = record.to_mark if record is not None else window.since
    return WindowResult(record, _lag_after(session, since, number))


def _lag_after(session: PairSession, since: Watermark, number: int) -> Lag | None:
    """The lag once green is at ``since``; None after a transient error (the window stands:
    its commit is done, and the flow's next window finds out what is pending)."""
    logger = get_run_logger()
    try:
        lag = measure_lag(session.syncer, since)
    except BaseException as exc:
        if not is_transient(exc):
            raise
        session.mark_broken()
        logger.warning("window %s: could not measure the lag after it: %s", number, exc)
        return None
    logger.info(
        "after window %s: %s changed key(s) pending, %s version(s) behind production",
        number,
        lag.pending_keys,
        lag.versions_behind,
    )
    return lag
