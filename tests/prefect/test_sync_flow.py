"""The scheduled sync flow over real databases: windows, artifacts, logs, time budget.

Several windows in one run need production to keep writing while the run applies (a window
always runs to blue's current version): a step hook writes one more customer and order to blue
during each of the first three windows, so the run must apply exactly four windows, each
followed by the lag it left, and stop after the fourth (nothing arrived during it) without
opening a fifth. That makes the counts exact instead of timing-dependent.
"""

from __future__ import annotations

import itertools

from bluegreen.sync.plan import Step
from flows.sync import sync_green
from tasks.artifacts import artifact_key
from tasks.faults import inject
from tests.conftest import EnginePair
from tests.prefect.conftest import (
    add_customers,
    create_schema,
    final_task_runs,
    flow_run_logs,
    latest_table,
    rows,
    task_run_named,
)


def _is_customer_insert(step: Step) -> bool:
    return step.phase == "dimensions" and step.action == "insert" and step.table.name == "customers"


def test_scheduled_run_drains_backlog_through_several_windows(pair: EnginePair, save_pair):
    create_schema(pair)
    add_customers(pair, range(1, 21), orders_each=3)  # the backlog: 20 customers, 60 orders
    name = save_pair(pair)
    more = iter(range(1001, 1004))

    def production_keeps_writing(step: Step) -> None:
        if _is_customer_insert(step) and (n := next(more, None)) is not None:
            add_customers(pair, range(n, n + 1), orders_each=1)

    with inject(production_keeps_writing):
        # called as the schedule calls it: the deployment's parameters (the pair) only
        state = sync_green(pair=name, return_state=True)
    result = state.result()
    assert result["outcome"] == "caught up" and result["caught_up"]
    # no empty fifth window: the fourth window's lag said nothing was pending
    assert (result["windows"], result["windows_opened"]) == (4, 4)
    assert (result["inserts"], result["updates"], result["deletes"]) == (86, 0, 0)
    assert result["lag"]["pending_keys"] == 0
    assert rows(pair, "green") == rows(pair, "blue")

    windows, _ = latest_table(artifact_key(name, "windows"))
    assert [w["inserts"] for w in windows] == [80, 2, 2, 2]
    assert windows[0]["from_version"] == "origin"
    for before, after in itertools.pairwise(windows):
        assert after["from_version"] == before["to_version"]
    summary, description = latest_table(artifact_key(name, "summary"))
    assert {r["table"].split(".")[-1]: r["inserts"] for r in summary} == {
        "customers": 23,
        "orders": 63,
    }
    assert "caught up" in description and "0 changed key(s) pending" in description

    # The next scheduled run: updates, fact deletes and deferred dimension deletes.
    pair.run(
        "blue",
        "UPDATE orders SET amount = amount + 1 WHERE customer_id <= 5",
        "DELETE FROM orders WHERE customer_id IN (19, 20)",
        "DELETE FROM customers WHERE id IN (19, 20)",
    )
    second = sync_green(pair=name)
    assert (second["windows"], second["updates"]) == (1, 15)
    assert (second["deletes"], second["deferred_deletes"]) == (6, 2)
    summary, description = latest_table(artifact_key(name, "summary"))
    by_table = {r["table"].split(".")[-1]: r for r in summary}
    assert by_table["orders"] == {
        "table": by_table["orders"]["table"],
        "inserts": 0,
        "updates": 15,
        "deletes": 6,
        "deferred_deletes": 0,
    }
    assert (by_table["customers"]["deletes"], by_table["customers"]["deferred_deletes"]) == (0, 2)
    assert "8 deletes (2 deferred)" in description
    assert rows(pair, "green") == rows(pair, "blue")


def test_each_phase_is_a_task_run_and_engine_logs_reach_the_run(sqlite_pair, save_pair):
    create_schema(sqlite_pair)
    add_customers(sqlite_pair, range(1, 4), orders_each=2)
    name = save_pair(sqlite_pair)
    state = sync_green(pair=name, return_state=True)
    assert state.is_completed()
    flow_run_id = state.state_details.flow_run_id
    window = task_run_named(flow_run_id, "window-1")
    assert window is not None and window.state.is_completed()
    # one task run per step: connect, window 1 and its six phases; the window measured the lag
    # after its commit (nothing pending), so no second window ran only to find nothing
    runs = final_task_runs(flow_run_id, 8)
    names = sorted(r.name.rsplit("-", 1)[0] for r in runs)
    assert names == sorted(
        [
            "connect-and-plan",
            "window",
            "fetch-changes",
            "stage",
            "apply-dimensions",
            "apply-facts",
            "deferred-deletes",
            "commit-window",
        ]
    )
    assert state.result()["windows_opened"] == 1
    logs = flow_run_logs(flow_run_id)
    engine = [log for log in logs if log.name == "bluegreen.sync"]
    assert any("window origin -> " in log.message and "9 inserts" in log.message for log in engine)
    assert any("after window 1: 0 changed key(s) pending" in log.message for log in logs)


def test_time_budget_ends_a_run_and_the_next_run_continues(sqlite_pair, save_pair):
    create_schema(sqlite_pair)
    add_customers(sqlite_pair, range(1, 6), orders_each=1)
    name = save_pair(sqlite_pair)
    more = itertools.count(2001)

    def production_keeps_writing(step: Step) -> None:
        if _is_customer_insert(step):
            add_customers(sqlite_pair, range(n := next(more), n + 1))

    with inject(production_keeps_writing):
        first = sync_green(pair=name, time_budget=0.001)
    # a budget spent after the first window: green is behind by what was written meanwhile
    assert (first["windows"], first["caught_up"]) == (1, False)
    assert first["outcome"].startswith("time budget")
    assert first["lag"]["pending_keys"] == 1
    second = sync_green(pair=name)
    assert (second["windows"], second["inserts"], second["caught_up"]) == (1, 1, True)
    assert rows(sqlite_pair, "green") == rows(sqlite_pair, "blue")
