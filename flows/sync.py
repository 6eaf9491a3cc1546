"""The scheduled sync: apply windows until the copy has caught up or the time budget is spent.

Each window is one retried task run whose phases (fetch changes, stage, apply dimensions,
apply facts, deferred deletes, commit) are task runs of their own, so the UI shows where a
window spent its time and where it failed. The window commits its rows and its watermark in
one green transaction; a failure anywhere rolls the window back and only a transient error
(lost connection, deadlock, lock timeout) is retried. Terminal errors (invalid mapping, a
watermark older than the change log, schema drift) fail the run at once, the fix in the message.

Windows always run to production's current version, so one run drains any backlog. After its
commit a window counts the changed keys that arrived on production meanwhile (the run's lag):
the run keeps going while that count is above zero, and stops when it is zero, when a window
finds no changed row, or when the budget is spent.
"""

from __future__ import annotations

import time
from typing import Any

from prefect import flow, get_run_logger
from prefect.states import Cancelled, State

from blocks.pair import BlueGreenPair
from bluegreen.config import Settings
from bluegreen.errors import ConfigError
from flows.guard import exclusive, guard_name
from tasks.artifacts import SyncReport, publish
from tasks.faults import run_hooks
from tasks.logs import engine_logs
from tasks.session import PairSession
from tasks.window import prepare_sync, sync_window


def load_pair(name: str) -> BlueGreenPair:
    """The saved pair block ``name``, or a terminal error that says how to create it."""
    try:
        return BlueGreenPair.load(name)
    except ValueError as exc:
        raise ConfigError(
            f"no bluegreen Pair block named {name!r}: {exc}",
            fix=(
                "create it in the Prefect UI (Blocks -> + -> bluegreen Pair) or in Python "
                "(BlueGreenPair(...).save(name)); `bluegreen serve` creates 'default' from "
                "BLUEGREEN_BLUE_URL / BLUEGREEN_GREEN_URL"
            ),
        ) from None


@flow(name="bluegreen-sync", flow_run_name="sync-{pair}", persist_result=False)
def sync_green(
    pair: str = "default",
    time_budget: float | None = None,
    retries: int = 3,
    retry_delay_seconds: float = 10.0,
) -> dict[str, Any] | State[Any]:
    """Bring the copy of a blue/green pair up to production's current version.

    Args:
        pair: name of the saved ``bluegreen Pair`` block.
        time_budget: seconds this run may keep applying windows (default: the block's).
        retries: attempts a window gets after a transient error (lost connection, deadlock).
        retry_delay_seconds: pause before each retry.
    """
    logger = get_run_logger()
    block = load_pair(pair)
    settings = block.to_settings()
    _, green_url = settings.require_urls()
    budget = time_budget if time_budget is not None else settings.time_budget
    with exclusive(guard_name(green_url, settings.stream)) as held:
        if not held:
            message = f"another sync of {block.describe()} is running; this run stops"
            logger.warning(message)
            return Cancelled(message=message)
        with engine_logs():
            report = run_windows(pair, settings, budget, retries, retry_delay_seconds)
    logger.info(
        "%s: %s window(s), %s",
        report.outcome,
        len(report.windows),
        report.lag and f"{report.lag.pending_keys} changed key(s) pending",
    )
    return report.as_dict()


def run_windows(
    pair: str,
    settings: Settings,
    budget: float | None,
    retries: int,
    retry_delay_seconds: float,
) -> SyncReport:
    """The loop: prepare, windows until nothing is pending or out of time; always the artifacts."""
    logger = get_run_logger()
    report = SyncReport(pair)
    session = PairSession(settings, on_step=run_hooks)
    retry = {"retries": retries, "retry_delay_seconds": retry_delay_seconds}
    window_task = sync_window.with_options(**retry)
    t0 = time.perf_counter()
    try:
        prepare_sync.with_options(**retry)(session)
        while True:
            report.opened += 1
            result = window_task(session, number=report.opened)
            record = result.record
            report.lag = result.lag
            # Caught up: blue had nothing new, or nothing this window's tables care about (a
            # version can move without a change to them: PostgreSQL's snapshot horizon moves
            # with every transaction of the cluster) ...
            if record is None or not record.changes:
                report.caught_up = True
                break
            report.windows.append(record)
            # ... or nothing arrived while the window ran (unknown if the lag could not be
            # measured: the next window finds out).
            if result.lag is not None and result.lag.pending_keys == 0:
                report.caught_up = True
                break
            if budget is not None and time.perf_counter() - t0 >= budget:
                break
        report.outcome = "caught up" if report.caught_up else f"time budget of {budget:g} s spent"
    except BaseException as exc:
        report.outcome = f"failed ({type(exc).__name__})"
        raise
    finally:
        report.seconds = time.perf_counter() - t0
        session.close()
        try:
            publish(report)
        except Exception as exc:  # an artifact must never hide the sync's own outcome
            logger.warning("could not publish the run's artifacts: %s", exc)
    return report
