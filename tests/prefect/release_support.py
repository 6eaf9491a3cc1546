"""Helpers of the release-flow tests: a sync deployment per pair, flows run in a thread (a
paused flow blocks its caller), paused runs found and resumed through the API."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
from prefect.client.schemas.objects import FlowRun
from prefect.states import State

from blocks.switch import default_variable
from bluegreen.dialects import connect
from flows.sync import sync_green
from tests.conftest import EnginePair
from tests.prefect.conftest import eventually

__all__ = ["default_variable"]


def data(pair: EnginePair, side: str) -> dict[str, list[tuple]]:
    """The synced columns of both tables (green may have gained columns of its own)."""
    out = {}
    for table, cols in (("customers", "id, name"), ("orders", "id, customer_id, amount")):
        conn = pair.raw(side)
        try:
            cur = conn.cursor()
            cur.execute(f"SELECT {cols} FROM {table} ORDER BY id")
            out[table] = [tuple(r) for r in cur.fetchall()]
        finally:
            conn.close()
    return out


def is_frozen(url: str) -> bool:
    db = connect(url)
    try:
        return db.is_frozen()
    finally:
        db.rollback()
        db.close()


def create_sync_deployment(pair: str, *, paused: bool = True) -> UUID:
    """A deployment of the sync flow for ``pair`` (as prefect.yaml's sync-green is for
    ``default``), so the release flows have a schedule to pause and resume."""
    deployment = sync_green.to_deployment(
        name=f"sync-{pair}", parameters={"pair": pair}, interval=3600
    )
    deployment_id = deployment.apply()
    if paused:
        with get_client(sync_client=True) as client:
            client.pause_deployment(deployment_id)
    return deployment_id


def deployment_paused(deployment_id: UUID) -> bool:
    with get_client(sync_client=True) as client:
        return bool(client.read_deployment(deployment_id).paused)


@pytest.fixture(name="sync_deployment")
def sync_deployment_fixture() -> Iterator[Callable[..., UUID]]:
    """Create sync deployments for pairs; deleted (with their runs) at the end."""
    made: list[UUID] = []

    def make(pair: str, *, paused: bool = True) -> UUID:
        made.append(create_sync_deployment(pair, paused=paused))
        return made[-1]

    yield make
    with get_client(sync_client=True) as client:
        for deployment_id in made:
            client.delete_deployment(deployment_id)


class FlowThread:
    """Run a flow call in a thread (with the test's Prefect settings) and join its state."""

    def __init__(self, fn: Callable[..., Any], **kwargs: Any) -> None:
        self.state: State[Any] | None = None
        self.error: BaseException | None = None
        context = contextvars.copy_context()

        def run() -> None:
            try:
                self.state = fn(**kwargs, return_state=True)
            except BaseException as exc:
                self.error = exc

        self.thread = threading.Thread(target=context.run, args=(run,), daemon=True)
        self.thread.start()

    def join(self, timeout: float = 120.0) -> State[Any]:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the flow run did not end in time"
        if self.error is not None:
            raise self.error
        assert self.state is not None
        return self.state


def paused_run(name: str, pause_key: str, timeout: float = 150.0) -> FlowRun:
    """The flow run called ``name`` once it is Paused at its pause ``pause_key`` ("1", ...).

    The wait is long because the harness's API writes to one SQLite file: under load its
    services can hold the write lock past a 30 s busy timeout, and the flow's own API calls
    (pausing the sync schedule) wait and retry behind them."""

    def find() -> FlowRun | None:
        with get_client(sync_client=True) as client:
            runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name]))
            )
        for run in runs:
            state = run.state
            if state and state.is_paused() and state.state_details.pause_key == pause_key:
                return run
        return None

    run = eventually(find, timeout=timeout, every=0.2)
    assert run is not None, f"flow run {name} did not pause (pause {pause_key})"
    return run  # type: ignore[return-value]
