"""The pause-for-schema-change flow when the change breaks the mapping: the sync stays paused,
the run pauses again with every finding and its fix (in the resume form, the artifact and the
log), and ends Cancelled (a human said no) or Failed (nobody resumed in time) with them."""

from __future__ import annotations

from pathlib import Path

from prefect.artifacts import Artifact
from prefect.client.orchestration import get_client
from prefect.flow_runs import resume_flow_run

from bluegreen.release import ReleasePair, prepare_green
from flows.pause_for_schema_change import pause_for_schema_change
from flows.sync import sync_green
from tasks.release import release_key
from tests.conftest import EnginePair
from tests.prefect.conftest import add_customers, create_schema, flow_run_logs, latest_table
from tests.prefect.release_support import (
    FlowThread,
    deployment_paused,
    paused_run,
    sync_deployment_fixture,  # noqa: F401  (the sync_deployment fixture)
)

RENAME = "ALTER TABLE customers RENAME COLUMN name TO full_name"


def _prepared(pair: EnginePair, save_pair) -> str:
    """A pair whose green was prepared (by the engine: the prepare flow is tested elsewhere)."""
    create_schema(pair)
    add_customers(pair, range(1, 6), orders_each=1)
    name = save_pair(pair)
    prepare_green(ReleasePair.of(pair.blue_url, pair.green_url), method="copy", replace=True)
    return name


def _form_description(flow_run_id, pause_key: str) -> str:
    with get_client(sync_client=True) as client:
        return client.read_flow_run_input(flow_run_id, f"paused-{pause_key}-description")


def _assert_findings_name_the_column(name: str) -> None:
    findings, description = latest_table(release_key("schema-change", name, "findings"))
    assert "does not fit" in description
    assert findings and all(f["severity"] == "error" for f in findings)
    assert any("'name'" in f["message"] and "customers" in f["message"] for f in findings)
    assert all(f["fix"] for f in findings)
    report = Artifact.get(release_key("schema-change", name))
    assert report is not None and "full_name" in str(report.data)  # the diff


def test_broken_mapping_pauses_again_with_the_findings(
    sqlite_pair: EnginePair, save_pair, sync_deployment
):
    name = _prepared(sqlite_pair, save_pair)
    schedule = sync_deployment(name, paused=False)
    running = FlowThread(pause_for_schema_change, pair=name, poll_interval=1)
    first = paused_run(f"schema-change-{name}", "1")
    assert "Change green's schema now" in _form_description(first.id, "1")
    assert deployment_paused(schedule)
    # a sync started by hand while green changes stops at once: the paused run holds the guard
    manual = sync_green(pair=name, return_state=True)
    assert manual.is_cancelled() and "another sync" in (manual.message or "")

    sqlite_pair.run("green", RENAME)
    resume_flow_run(first.id, run_input={"changed": "renamed customers.name", "resume": True})

    # the re-check fails: the run pauses again, and its form says what to fix
    again = paused_run(f"schema-change-{name}", "2")
    form = _form_description(again.id, "2")
    assert "does not fit" in form and "'name'" in form and "Fix:" in form
    _assert_findings_name_the_column(name)
    assert deployment_paused(schedule)

    resume_flow_run(again.id, run_input={"changed": "giving up for today", "resume": False})
    state = running.join()
    assert state.is_cancelled()
    assert "stays paused" in state.message
    assert deployment_paused(schedule)  # still paused: the schema change is not accepted
    messages = [log.message for log in flow_run_logs(state.state_details.flow_run_id)]
    assert any("'name'" in m and "fix:" in m for m in messages)


def test_migration_that_breaks_the_mapping_fails_with_the_findings(
    sqlite_pair: EnginePair, save_pair, sync_deployment, tmp_path: Path
):
    name = _prepared(sqlite_pair, save_pair)
    schedule = sync_deployment(name, paused=False)
    script = tmp_path / "migrate.sql"
    script.write_text(f"{RENAME};\n")

    running = FlowThread(
        pause_for_schema_change, pair=name, migration=str(script), pause_timeout=4, poll_interval=1
    )
    # the script ran and broke the mapping: the run waits for a human (pause 1), who never comes
    paused = paused_run(f"schema-change-{name}", "1")
    assert "'name'" in _form_description(paused.id, "1")
    state = running.join()

    assert state.is_failed()
    with get_client(sync_client=True) as client:
        hist = client.read_flow_run_states(state.state_details.flow_run_id)
    # one Failed state (one failure alert), and it carries the findings
    assert [h.message for h in hist if h.is_failed()] == [state.message]
    assert "not accepted within 4 s" in state.message
    assert "'name'" in state.message and "stays paused" in state.message
    assert deployment_paused(schedule)
    _assert_findings_name_the_column(name)
    green = sqlite_pair.green()
    columns = [c.name for c in green.introspect().table("customers").columns]
    green.rollback()
    assert "full_name" in columns  # the migration did run on green
