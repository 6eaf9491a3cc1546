"""How a release flow holds the pair's sync while it works, and lets it go again.

A flow that rebuilds the standby pauses the pair's sync schedule, waits for running syncs and
holds the sync guard for as long as it writes; a flow that freezes production keeps the sync
paused when production was left frozen. What each does on failure (resume what it paused, or
say why the sync stays paused) is here so the flows agree on it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterator

from prefect import get_run_logger

from bluegreen.release import ReleasePair
from tasks.schedule import (
    SchedulePause,
    pause_sync_schedule,
    restore_sync_schedule,
    sync_excluded,
    wait_for_sync_idle,
)


@contextlib.contextmanager
def rebuilding(
    pair: str,
    target: ReleasePair,
    *,
    timeout: float,
    untouched: Collection[str],
    half_built: str,
) -> Iterator[None]:
    """Pause the sync of ``pair``, wait for its running syncs, and hold the guard of
    ``target``'s green while the block rebuilds it (each step waits up to ``timeout``).

    On failure the schedules paused here are resumed when green was not touched (the guard was
    never held, or the failure's receipt names a phase in ``untouched``); otherwise the sync
    stays paused and ``half_built`` is logged as an error."""
    schedule = SchedulePause(pair)
    pause_sync_schedule(schedule)
    touched = False
    try:
        wait_for_sync_idle(pair, timeout=timeout)
        with sync_excluded(target.green_url, target.stream, timeout=timeout):
            touched = True
            yield
    except BaseException as exc:
        failed = getattr(exc, "receipt", None)
        if not touched or (failed is not None and failed.failed_phase in untouched):
            restore_sync_schedule(schedule)
        else:
            get_run_logger().error("%s", half_built)
        raise


def may_resume(exc: BaseException, production: str, frozen: str) -> bool:
    """False (and an error logged) when the failure ``exc`` left ``production`` ``frozen``
    (routing not confirmed back on it): its sync must then stay paused."""
    failed = getattr(exc, "receipt", None)
    if getattr(failed, "blue_unfrozen", None) is False:
        get_run_logger().error(
            "%s was left %s (routing could not be confirmed): the sync stays paused; see the "
            "receipt's warnings",
            production,
            frozen,
        )
        return False
    return True
