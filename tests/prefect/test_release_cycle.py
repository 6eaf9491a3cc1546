"""The whole release cycle at flow level, over real databases and the test Prefect server:
prepare green -> sync -> pause for a schema change, resumed through the API with the form's
input -> cutover -> re-seed with the roles swapped -> sync the other way.

A deployment of the sync flow for the test's pair stands in for prefect.yaml's sync-green (which
syncs the pair ``default``), so every step that pauses or resumes the sync schedule is checked
against the API.
"""

from __future__ import annotations

from prefect.artifacts import Artifact
from prefect.flow_runs import resume_flow_run
from prefect.variables import Variable

from blocks.pair import BlueGreenPair
from flows.cutover import cutover
from flows.pause_for_schema_change import pause_for_schema_change
from flows.prepare_green import prepare_green
from flows.reseed_green import reseed_green
from flows.sync import sync_green
from tasks.release import release_key
from tests.conftest import EnginePair
from tests.prefect.conftest import add_customers, create_schema, flow_run_logs, latest_table
from tests.prefect.release_support import (
    FlowThread,
    data,
    default_variable,
    deployment_paused,
    is_frozen,
    paused_run,
    sync_deployment_fixture,  # noqa: F401  (the sync_deployment fixture)
)


def test_release_cycle_at_flow_level(pair: EnginePair, save_pair, sync_deployment):
    create_schema(pair)
    add_customers(pair, range(1, 11), orders_each=2)
    name = save_pair(pair)
    schedule = sync_deployment(name, paused=True)  # not syncing before green is prepared

    # ---- prepare: check blue, copy, baseline, enable the sync schedule ----------------------
    state = prepare_green(pair=name, method="copy", replace=True, return_state=True)
    assert state.is_completed(), state.message
    assert state.result()["outcome"] == "ok"
    assert data(pair, "green") == data(pair, "blue")
    assert not deployment_paused(schedule)
    assert Variable.get(default_variable(name)) == "blue"  # the switch starts on production
    findings, description = latest_table(release_key("blue-check", name))
    assert "ready" in description and "NOT" not in description
    assert {r["message"] for r in findings} == {"change tracking is on"}
    phases, summary = latest_table(release_key("prepare-green", name))
    assert [(p["phase"], p["outcome"]) for p in phases] == [
        ("check", "ok"),
        ("create", "ok"),
        ("baseline", "ok"),
        ("replay", "ok"),
    ]
    assert ": ok" in summary
    progress = Artifact.get(release_key("prepare-green", name, "progress"))
    assert progress is not None and float(progress.data) == 100.0
    logs = [log.message for log in flow_run_logs(state.state_details.flow_run_id)]
    assert any("phase create started" in m for m in logs)
    assert any("resumed the sync schedule" in m for m in logs)

    # ---- the scheduled sync keeps green current ---------------------------------------------
    add_customers(pair, range(11, 14), orders_each=1)
    assert sync_green(pair=name)["inserts"] == 6
    assert data(pair, "green") == data(pair, "blue")

    # ---- a schema change on green, by a human, resumed with the form's input ----------------
    paused_flow = FlowThread(pause_for_schema_change, pair=name, poll_interval=1)
    run = paused_run(f"schema-change-{name}", "1")
    assert deployment_paused(schedule)  # no sync while green changes
    pair.run("green", f"ALTER TABLE customers ADD COLUMN note {pair.t('text')}")
    add_customers(pair, range(14, 16))  # production keeps writing meanwhile
    resume_flow_run(run.id, run_input={"changed": "added customers.note", "resume": True})
    state = paused_flow.join()
    assert state.is_completed(), state.message
    result = state.result()
    assert result["changed"] == "added customers.note"
    assert any(line.startswith("+ column") and "customers.note" in line for line in result["diff"])
    assert result["catch_up"]["inserts"] == 2  # the catch-up sync ran after the change
    assert not deployment_paused(schedule)
    diff = Artifact.get(release_key("schema-change", name))
    assert diff is not None and "customers.note" in str(diff.data)
    assert data(pair, "green") == data(pair, "blue")

    # ---- a dry run: the preflight only, nothing frozen, nothing paused ----------------------
    dry = cutover(pair=name, dry_run=True)
    assert dry["outcome"] == "dry-run", dry["reason"]
    assert [p["outcome"] for p in dry["phases"]] == ["ok"] + ["skipped"] * 6
    assert not is_frozen(pair.blue_url) and not deployment_paused(schedule)

    # ---- cutover: traffic moves to green; the sync stays paused -----------------------------
    state = cutover(pair=name, return_state=True)
    assert state.is_completed(), state.message
    receipt = state.result()
    assert receipt["outcome"] == "switched"
    assert Variable.get(default_variable(name)) == "green"
    assert is_frozen(pair.blue_url) and not is_frozen(pair.green_url)
    assert deployment_paused(schedule)  # paused by the freeze phase's hook
    phases, summary = latest_table(release_key("cutover", name))
    assert [p["phase"] for p in phases] == [
        "preflight",
        "pre-verify",
        "freeze",
        "drain",
        "verify",
        "switch",
        "receipt",
    ]
    assert {p["outcome"] for p in phases} == {"ok"}
    assert "switched" in summary and "write freeze" in summary
    full = Artifact.get(release_key("cutover", name, "receipt"))
    assert full is not None and receipt["id"] in str(full.data)
    logs = [log.message for log in flow_run_logs(state.state_details.flow_run_id)]
    for phase in ("preflight", "pre-verify", "freeze", "drain", "verify", "switch", "receipt"):
        assert any(f"cutover: phase {phase} done" in m for m in logs), phase

    # the application now writes to green, the new production
    pair.run(
        "green",
        "INSERT INTO customers (id, name, note) VALUES (100, 'after the cutover', 'new')",
        "INSERT INTO orders (id, customer_id, amount) VALUES (10000, 100, 7)",
    )

    # ---- re-seed: the old blue becomes the standby copy of green ----------------------------
    state = reseed_green(pair=name, swap=True, return_state=True)
    assert state.is_completed(), state.message
    assert state.result()["outcome"] == "ok"
    assert BlueGreenPair.load(name).production == "green"
    assert not deployment_paused(schedule)
    assert not is_frozen(pair.blue_url)
    assert data(pair, "blue") == data(pair, "green")
    assert Variable.get(default_variable(name)) == "green"  # routing untouched by the re-seed

    # ---- the sync runs the other way: green -> blue -----------------------------------------
    pair.run(
        "green",
        "INSERT INTO customers (id, name, note) VALUES (101, 'later', NULL)",
        "UPDATE orders SET amount = amount + 1 WHERE customer_id = 1",
        "DELETE FROM orders WHERE id = 10000",
    )
    back = sync_green(pair=name)
    assert (back["inserts"], back["updates"], back["deletes"]) == (1, 2, 1)
    assert data(pair, "blue") == data(pair, "green")
