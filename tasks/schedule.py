"""The sync schedule of a pair, as the release flows control it: pause, wait, resume.

A release step that changes green (a schema change, a re-seed) or freezes production (a
cutover, a rolling upgrade) must not race the scheduled sync. The sync runs from deployments of
the ``bluegreen-sync`` flow; the ones that sync a pair are those whose ``pair`` parameter names
it (``sync-green`` in prefect.yaml syncs ``default``). Pausing such a deployment stops its
schedule and deletes its auto-scheduled runs; resuming it schedules again.

Flows run outside any deployment (a script, a test, a first try) find no such deployment: that
is not an error, and the log says so, because the operator must then start syncing themselves.

Waiting for runs asks the API for runs of ``bluegreen-sync`` named ``sync-<pair>`` (the flow's
run name) that are pending, running or cancelling, whoever started them. For a sync started
after the wait, the flows also hold the pair's sync guard (:func:`sync_excluded`): such a run
stops at once, Cancelled.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from uuid import UUID

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterName,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.client.schemas.responses import DeploymentResponse
from prefect.logging import get_run_logger
from prefect.runtime import flow_run
from pydantic import SecretStr

from bluegreen.errors import TerminalError
from flows.guard import exclusive, guard_name

SYNC_FLOW = "bluegreen-sync"
"""The name of the scheduled sync flow (flows/sync.py)."""
BUSY = [StateType.PENDING, StateType.RUNNING, StateType.CANCELLING]

# Not database tasks, but never worth caching either: they act on the API's current state.
API_TASK = {"cache_policy": NO_CACHE, "persist_result": False}

log = logging.getLogger("bluegreen.orchestration")


def _logger() -> logging.Logger | logging.LoggerAdapter:
    try:
        return get_run_logger()
    except Exception:  # outside a run (a hook on another thread): the engine's logger
        return log


def sync_deployments(pair: str) -> list[DeploymentResponse]:
    """The deployments of the sync flow whose ``pair`` parameter is ``pair``."""
    with get_client(sync_client=True) as client:
        found = client.read_deployments(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[SYNC_FLOW]))
        )
    return [d for d in found if (d.parameters or {}).get("pair", "default") == pair]


def _full(d: DeploymentResponse) -> str:
    return f"{SYNC_FLOW}/{d.name}"


@dataclass
class SchedulePause:
    """The sync deployments one release run paused, so it resumes exactly those on failure."""

    pair: str
    paused: list[UUID] = field(default_factory=list)
    names: dict[UUID, str] = field(default_factory=dict)

    def pause(self) -> list[str]:
        """Pause every sync deployment of the pair that is not paused yet (idempotent)."""
        logger = _logger()
        found = sync_deployments(self.pair)
        if not found:
            logger.warning(
                "no deployment of %s syncs pair %r (this run is not part of a deployment "
                "setup?): there is no sync schedule to pause; make sure no sync of this pair "
                "runs until this release step has finished",
                SYNC_FLOW,
                self.pair,
            )
            return []
        done = []
        with get_client(sync_client=True) as client:
            for d in found:
                self.names[d.id] = _full(d)
                if d.paused:
                    logger.info("sync schedule %s was already paused", _full(d))
                    continue
                client.pause_deployment(d.id)
                if d.id not in self.paused:
                    self.paused.append(d.id)
                done.append(_full(d))
                logger.info("paused the sync schedule %s", _full(d))
        return done

    def restore(self) -> list[str]:
        """Resume the deployments this run paused (after a failure: leave things as found)."""
        logger = _logger()
        done = []
        with get_client(sync_client=True) as client:
            for deployment_id in self.paused:
                client.resume_deployment(deployment_id)
                done.append(self.names.get(deployment_id, str(deployment_id)))
                logger.info("resumed the sync schedule %s", done[-1])
        self.paused.clear()
        return done


def resume_sync(pair: str) -> list[str]:
    """Resume every sync deployment of ``pair`` (the pair is ready to sync); their names."""
    logger = _logger()
    found = sync_deployments(pair)
    if not found:
        logger.warning(
            "no deployment of %s syncs pair %r (run outside a deployment setup?): no sync "
            "schedule to resume; keep green current by running the sync-green deployment with "
            "pair=%r, or `bluegreen sync`",
            SYNC_FLOW,
            pair,
            pair,
        )
        return []
    with get_client(sync_client=True) as client:
        for d in found:
            if d.paused:
                client.resume_deployment(d.id)
                logger.info("resumed the sync schedule %s", _full(d))
            else:
                logger.info("sync schedule %s is active", _full(d))
    return [_full(d) for d in found]


def busy_sync_runs(pair: str) -> list[str]:
    """Names and states of the pair's sync runs that are pending, running or cancelling."""
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[SYNC_FLOW])),
            flow_run_filter=FlowRunFilter(
                name=FlowRunFilterName(any_=[f"sync-{pair}"]),
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=BUSY)),
            ),
        )
    me = flow_run.id
    return [
        f"{r.name} ({r.state.name if r.state else '?'}, id {r.id})"
        for r in runs
        if str(r.id) != str(me)
    ]


@task(name="pause-sync-schedule", **API_TASK)
def pause_sync_schedule(schedule: SchedulePause) -> list[str]:
    """Pause the pair's sync deployments (the ones already paused stay as they are)."""
    return schedule.pause()


@task(name="resume-sync-schedule", **API_TASK)
def resume_sync_schedule(pair: str) -> list[str]:
    """Resume every sync deployment of the pair (or say that there is none)."""
    return resume_sync(pair)


@task(name="restore-sync-schedule", **API_TASK)
def restore_sync_schedule(schedule: SchedulePause) -> list[str]:
    """Resume the sync deployments this run paused, and only those."""
    return schedule.restore()


@task(name="wait-for-sync-idle", **API_TASK)
def wait_for_sync_idle(pair: str, timeout: float = 600.0, poll: float = 2.0) -> None:
    """Return once no sync run of the pair is pending or running; fail after ``timeout``."""
    logger = get_run_logger()
    deadline = time.monotonic() + timeout
    said = False
    while busy := busy_sync_runs(pair):
        if time.monotonic() > deadline:
            raise TerminalError(
                f"sync run(s) of pair {pair!r} still busy after {timeout:g} s: " + ", ".join(busy),
                fix="wait for them to finish (or cancel them in the UI), then run this flow "
                "again; the sync schedule was left as it was before this run",
            )
        if not said:
            logger.info("waiting for the running sync to finish: %s", ", ".join(busy))
            said = True
        time.sleep(poll)
    logger.info("no sync run of pair %r is pending or running", pair)


@contextlib.contextmanager
def sync_excluded(
    green_url: SecretStr, stream: str, *, timeout: float = 600.0, poll: float = 1.0
) -> Iterator[None]:
    """Hold the pair's sync guard for the block: a sync started meanwhile stops, Cancelled.

    Waits (up to ``timeout``) for a sync that holds it to finish; then the guard is this
    run's until the block ends."""
    deadline = time.monotonic() + timeout
    name = guard_name(green_url, stream)
    while True:
        with exclusive(name) as held:
            if held:
                yield
                return
        if time.monotonic() > deadline:
            raise TerminalError(
                f"another sync of this copy kept running for {timeout:g} s (guard {name})",
                fix="wait for it to finish (or cancel it in the UI), then run this flow again",
            )
        time.sleep(poll)
