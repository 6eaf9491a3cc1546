"""A cutover flow whose phase fails: production stays writable, routing stays where it was, the
sync schedule the freeze hook paused is resumed, and the run fails with the receipt's reason.

Two real failures, no mocks: green holds a row production does not (the pre-verify phase finds
it before anything is frozen), and a command switch that refuses to point at green (the
switch phase, after which the engine must route back)."""

from __future__ import annotations

import shlex
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.variables import Variable

from blocks.switch import CommandSwitchBlock
from flows.cutover import cutover
from flows.prepare_green import prepare_green
from tasks.release import release_key
from tests.conftest import EnginePair
from tests.prefect.conftest import add_customers, create_schema, flow_run_logs, latest_table
from tests.prefect.release_support import (
    data,
    default_variable,
    deployment_paused,
    is_frozen,
    sync_deployment_fixture,  # noqa: F401  (the sync_deployment fixture)
)


@pytest.fixture
def prepared(sqlite_pair: EnginePair, save_pair, sync_deployment) -> Iterator[tuple]:
    """A prepared pair whose sync schedule is active and whose switch names blue."""
    create_schema(sqlite_pair)
    add_customers(sqlite_pair, range(1, 9), orders_each=2)
    name = save_pair(sqlite_pair)
    schedule = sync_deployment(name, paused=False)
    state = prepare_green(pair=name, method="copy", replace=True, return_state=True)
    assert state.is_completed(), state.message
    assert Variable.get(default_variable(name)) == "blue"
    yield sqlite_pair, name, schedule


def _assert_blue_kept_production(pair: EnginePair, name: str, schedule) -> None:
    assert not is_frozen(pair.blue_url) and not is_frozen(pair.green_url)
    pair.run("blue", "INSERT INTO customers (id, name) VALUES (500, 'written after')")  # writable
    assert not deployment_paused(schedule)  # the hook paused it; the failure resumed it


def test_verify_failure_leaves_blue_writable_and_the_variable_on_blue(prepared):
    pair, name, schedule = prepared
    # green drifts from blue on a key blue never changed: the pre-verify catches it unfrozen
    pair.run("green", "UPDATE customers SET name = 'tampered' WHERE id = 3")

    state = cutover(pair=name, return_state=True)

    assert state.is_failed()
    assert "stopped in phase pre-verify" in state.message
    assert "green differs from blue" in state.message
    assert "blue keeps production" in state.message  # the fix
    assert Variable.get(default_variable(name)) == "blue"  # routing unchanged
    _assert_blue_kept_production(pair, name, schedule)
    phases, summary = latest_table(release_key("cutover", name))
    assert [(p["phase"], p["outcome"]) for p in phases] == [
        ("preflight", "ok"),
        ("pre-verify", "failed"),
        ("freeze", "pending"),
        ("drain", "pending"),
        ("verify", "pending"),
        ("switch", "pending"),
        ("receipt", "pending"),
    ]
    assert "Stopped in phase **pre-verify**" in summary
    messages = [log.message for log in flow_run_logs(state.state_details.flow_run_id)]
    assert any("cutover: phase pre-verify started" in m for m in messages)
    assert not any("paused the sync schedule" in m for m in messages)  # never frozen


def test_switch_failure_routes_back_to_blue(prepared, tmp_path: Path):
    pair, name, schedule = prepared
    routing = tmp_path / "routing.txt"
    routing.write_text("blue\n")
    # a load balancer that accepts blue and refuses green
    block = f"refuses-green-{uuid.uuid4().hex[:6]}"
    CommandSwitchBlock(
        command=["sh", "-c", f'test "$0" = blue && echo "$0" > {shlex.quote(str(routing))}'],
        query=["cat", str(routing)],
    ).save(block)

    state = cutover(pair=name, switch=f"bluegreen-command-switch/{block}", return_state=True)

    assert state.is_failed()
    assert "stopped in phase switch" in state.message and "exited with 1" in state.message
    assert routing.read_text().strip() == "blue"  # pointed back, and confirmed
    _assert_blue_kept_production(pair, name, schedule)
    phases, summary = latest_table(release_key("cutover", name))
    assert [p["outcome"] for p in phases] == ["ok"] * 5 + ["failed", "pending"]
    assert "traffic now on: blue" in summary
    green = pair.green()
    assert green.tracked_tables() == []  # the switch phase's tracking on green was undone
    green.rollback()
    assert data(pair, "green")["orders"] == data(pair, "blue")["orders"]
