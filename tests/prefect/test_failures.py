"""Retries only for transient errors; terminal errors fail at once, with the fix in the message."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from blocks import BlueGreenPair
from bluegreen.errors import TerminalError, TransientError
from bluegreen.sync.plan import Step
from bluegreen.sync.state import GreenState
from bluegreen.sync.window import StepHook
from flows.sync import sync_green
from tasks.faults import inject
from tests.conftest import EnginePair
from tests.prefect.conftest import (
    add_customers,
    create_schema,
    flow_run_logs,
    rows,
    task_run_named,
)


def test_transient_error_mid_window_is_retried_and_the_run_completes(pair: EnginePair, save_pair):
    create_schema(pair)
    add_customers(pair, range(1, 6), orders_each=2)
    name = save_pair(pair)
    calls: list[Step] = []

    def lose_the_connection_once(step: Step) -> None:
        calls.append(step)
        if len(calls) == 2:  # customers are already inserted in the open green transaction
            raise TransientError("injected: server closed the connection unexpectedly")

    with inject(lose_the_connection_once):
        state = sync_green(pair=name, retry_delay_seconds=0, return_state=True)

    assert state.is_completed(), state.message
    result = state.result()
    # the failed attempt rolled back: the retry inserted every row exactly once
    assert (result["windows"], result["inserts"], result["updates"]) == (1, 15, 0)
    assert rows(pair, "green") == rows(pair, "blue")
    flow_run_id = state.state_details.flow_run_id
    window = task_run_named(flow_run_id, "window-1")
    assert window is not None and window.state.is_completed()
    assert window.run_count == 2
    messages = [log.message for log in flow_run_logs(flow_run_id)]
    assert any("rolled back after a transient error" in m for m in messages)
    assert any("reconnecting to both databases" in m for m in messages)


def test_lag_lost_to_a_transient_error_keeps_the_window_and_the_run_catches_up(
    pg_pair: EnginePair, save_pair
):
    """Blue's connection dies after the window's last read: the window still commits, its lag
    cannot be measured, and the run (not knowing whether anything is pending) opens another
    window on fresh connections, which finds nothing to apply."""
    create_schema(pg_pair)
    add_customers(pg_pair, range(1, 6), orders_each=1)
    # customer 5 is gone again: the window stages its absence, so a deferred delete step runs
    pg_pair.run(
        "blue", "DELETE FROM orders WHERE customer_id = 5", "DELETE FROM customers WHERE id = 5"
    )
    name = save_pair(pg_pair)
    cut: list[Step] = []

    def cut_blue_after_its_last_read(step: Step) -> None:
        if step.phase == "deferred_deletes" and not cut:
            cut.append(step)
            pg_pair.run(
                "blue",
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()",
            )

    with inject(cut_blue_after_its_last_read):
        state = sync_green(pair=name, retry_delay_seconds=0, return_state=True)

    assert cut, "no deferred delete step ran: the test did not cut anything"
    assert state.is_completed(), state.message
    result = state.result()
    assert (result["windows"], result["windows_opened"], result["inserts"]) == (1, 2, 8)
    assert result["caught_up"] and result["lag"]["pending_keys"] == 0
    assert rows(pg_pair, "green") == rows(pg_pair, "blue")
    flow_run_id = state.state_details.flow_run_id
    window = task_run_named(flow_run_id, "window-1")
    assert window is not None and window.state.is_completed() and window.run_count == 1
    messages = [log.message for log in flow_run_logs(flow_run_id)]
    assert any("window 1: could not measure the lag after it" in m for m in messages)
    assert any("reconnecting to both databases" in m for m in messages)


def _make_watermark_too_old(pair: EnginePair, name: str, tmp: Path) -> tuple[str, StepHook | None]:
    """Sync, write more, then prune blue's change log past green's watermark."""
    assert sync_green(pair=name)["caught_up"]
    add_customers(pair, range(100, 102))
    green = pair.green()
    mark = GreenState(green).read()[0]
    green.close()
    blue = pair.blue()
    customers = blue.introspect().table("customers").name
    deadline = time.monotonic() + 30
    try:
        # PostgreSQL keeps log rows an open snapshot may still need: retry briefly
        while blue.check_valid([customers], mark)[0].valid:
            assert time.monotonic() < deadline, "could not prune the change log"
            blue.cleanup_changes(blue.current_watermark())
            time.sleep(0.1)
    finally:
        blue.close()
    return "re-seed green from a copy of blue", None


def _drift_green_schema(pair: EnginePair, name: str, tmp: Path) -> tuple[str, StepHook | None]:
    pair.run("green", "ALTER TABLE customers DROP COLUMN name")
    return "add 'name' to green's", None


def _invalid_mapping(pair: EnginePair, name: str, tmp: Path) -> tuple[str, StepHook | None]:
    """A workbook written for other tables: every row names a table these schemas lack."""
    from bluegreen.mapping.example import write_example

    workbook = write_example(tmp / "other-tables.xlsx")
    block = BlueGreenPair.load(name)
    block.mapping = str(workbook)
    block.save(name, overwrite=True)
    return "correct the cells named above", None


def _inject_terminal(pair: EnginePair, name: str, tmp: Path) -> tuple[str, StepHook | None]:
    def refuse(step: Step) -> None:
        raise TerminalError("injected: green refused a row", fix="injected fix text")

    return "injected fix text", refuse


@pytest.mark.parametrize(
    ("make_failure", "failing_task"),
    [
        pytest.param(_make_watermark_too_old, "window-1", id="watermark-too-old"),
        pytest.param(_drift_green_schema, "connect-and-plan", id="schema-drift"),
        pytest.param(_invalid_mapping, "connect-and-plan", id="invalid-mapping"),
        pytest.param(_inject_terminal, "window-1", id="terminal-in-apply"),
    ],
)
def test_terminal_error_fails_at_once_with_the_fix(
    pair: EnginePair, save_pair, make_failure, failing_task: str, tmp_path: Path
):
    create_schema(pair)
    add_customers(pair, range(1, 4), orders_each=1)
    name = save_pair(pair)
    fix, hook = make_failure(pair, name, tmp_path)
    before = rows(pair, "green")

    with inject(hook or (lambda step: None)):
        state = sync_green(pair=name, retry_delay_seconds=0, return_state=True)

    assert state.is_failed()
    assert fix in (state.message or "")
    task = task_run_named(state.state_details.flow_run_id, failing_task)
    assert task is not None and task.state.is_failed()
    assert task.run_count == 1  # not retried
    assert rows(pair, "green") == before  # green stays at its last watermark
