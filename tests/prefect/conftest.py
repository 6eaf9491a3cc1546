"""One Prefect test server for every orchestration test, and pair blocks over real databases.

tests/conftest.py already pointed PREFECT_HOME at a private temporary folder before Prefect
was imported. Here the whole session shares ONE ``prefect_test_harness`` (a SQLite-backed
server in a subprocess, with the event triggers and actions services that automations need);
starting one per test would cost seconds each.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from uuid import UUID

os.environ.pop("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", None)
os.environ.pop("PREFECT_RUNNER_HEARTBEAT_FREQUENCY", None)

import pytest
from prefect.artifacts import Artifact
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.objects import Log, TaskRun
from prefect.logging.handlers import APILogHandler
from prefect.settings import (
    PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
    get_current_settings,
    temporary_settings,
)
from prefect.testing.utilities import prefect_test_harness

from blocks import BlueGreenPair, DatabaseConnection
from tests.conftest import EnginePair


@pytest.fixture(scope="session", autouse=True)
def prefect_server() -> Iterator[None]:
    """The session's Prefect API (heartbeats off: a test run must not keep emitting events)."""
    with (
        prefect_test_harness(server_startup_timeout=120),
        temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
    ):
        assert get_current_settings().flows.heartbeat_frequency is None
        yield


def create_schema(pair: EnginePair) -> None:
    """A dimension and a fact that references it, on both sides; tracking on blue."""
    pair.ddl(
        f"CREATE TABLE customers (id INTEGER PRIMARY KEY, name {pair.t('text')} NOT NULL)",
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, "
        "customer_id INTEGER NOT NULL REFERENCES customers (id), amount INTEGER NOT NULL)",
    )
    blue = pair.blue()
    blue.enable_tracking(list(blue.introspect().tables.values()))
    blue.close()


def add_customers(pair: EnginePair, ids: range, orders_each: int = 0) -> None:
    """Customers ``ids`` (and ``orders_each`` orders for each), in one blue transaction."""
    stmts = []
    for i in ids:
        stmts.append(f"INSERT INTO customers (id, name) VALUES ({i}, 'customer {i}')")
        for j in range(orders_each):
            oid = i * 100 + j
            stmts.append(
                f"INSERT INTO orders (id, customer_id, amount) VALUES ({oid}, {i}, {oid % 97})"
            )
    pair.run("blue", *stmts)


def rows(pair: EnginePair, side: str) -> dict[str, list[tuple]]:
    return {t: pair.rows(side, t) for t in ("customers", "orders")}


SavePair = Callable[..., str]


@pytest.fixture
def save_pair() -> SavePair:
    """Save a ``BlueGreenPair`` block for an engine pair; returns its (unique) name."""

    def save(pair: EnginePair, *, blue_url: str | None = None, **fields: object) -> str:
        fields.setdefault("time_budget", 30.0)  # a test that loops forever fails in 30 s
        name = f"test-{pair.engine}-{uuid.uuid4().hex[:8]}"
        block = BlueGreenPair(
            blue=DatabaseConnection(
                dialect=pair.engine, connection_string=blue_url or pair.blue_url
            ),
            green=DatabaseConnection(dialect=pair.engine, connection_string=pair.green_url),
            **fields,
        )
        block.save(name)
        return name

    return save


def eventually(check: Callable[[], object], timeout: float = 30.0, every: float = 0.2) -> object:
    """``check()`` once it is truthy: task runs and events reach the API asynchronously."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every)


def flow_run_logs(flow_run_id: UUID) -> list[Log]:
    """Every log line the API holds for a flow run (and its task runs), oldest first."""
    APILogHandler().flush()
    with get_client(sync_client=True) as client:
        return client.read_logs(
            LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])), limit=200
        )


def task_runs(flow_run_id: UUID) -> list[TaskRun]:
    with get_client(sync_client=True) as client:
        return client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])), limit=200
        )


def task_run_named(flow_run_id: UUID, name: str) -> TaskRun | None:
    """The task run ``name`` (``window-1``, or a task name such as ``connect-and-plan`` whose
    runs carry a random suffix) once it reached a final state."""

    def find() -> TaskRun | None:
        for run in task_runs(flow_run_id):
            # a task run the API holds before its state event was recorded has no state yet
            final = run.state is not None and run.state.is_final()
            if name in (run.name, run.name.rsplit("-", 1)[0]) and final:
                return run
        return None

    return eventually(find)  # type: ignore[return-value]


def final_task_runs(flow_run_id: UUID, expected: int) -> list[TaskRun]:
    """The flow run's task runs, once at least ``expected`` of them reached a final state."""

    def done() -> list[TaskRun] | None:
        runs = [r for r in task_runs(flow_run_id) if r.state and r.state.is_final()]
        return runs if len(runs) >= expected else None

    runs = eventually(done)
    assert runs, f"fewer than {expected} task runs reached the API"
    return runs  # type: ignore[return-value]


def latest_table(key: str) -> tuple[list[dict], str]:
    """(rows, description) of the latest version of the table artifact ``key``."""
    artifact = Artifact.get(key)
    assert artifact is not None, f"no artifact {key}"
    data = artifact.data
    return (json.loads(data) if isinstance(data, str) else data), artifact.description or ""
