"""The rollback flow after a cutover flow, and the rolling-upgrade flow, over SQLite."""

from __future__ import annotations

import uuid
from pathlib import Path

from prefect.variables import Variable

from blocks.database import DatabaseConnection
from flows.cutover import cutover
from flows.prepare_green import prepare_green
from flows.rollback import rollback
from flows.rolling_upgrade import rolling_upgrade
from tasks.release import release_key
from tests.conftest import EnginePair
from tests.prefect.conftest import add_customers, create_schema, latest_table
from tests.prefect.release_support import (
    data,
    default_variable,
    deployment_paused,
    is_frozen,
    sync_deployment_fixture,  # noqa: F401  (the sync_deployment fixture)
)


def test_rollback_returns_traffic_to_blue_and_resumes_the_sync(
    sqlite_pair: EnginePair, save_pair, sync_deployment
):
    create_schema(sqlite_pair)
    add_customers(sqlite_pair, range(1, 6), orders_each=1)
    name = save_pair(sqlite_pair)
    schedule = sync_deployment(name, paused=False)
    assert prepare_green(pair=name, method="copy", replace=True, return_state=True).is_completed()
    assert cutover(pair=name)["outcome"] == "switched"
    assert deployment_paused(schedule) and Variable.get(default_variable(name)) == "green"

    state = rollback(pair=name, return_state=True)

    assert state.is_completed(), state.message
    receipt = state.result()
    assert receipt["outcome"] == "ok" and receipt["writes_on_green"] == {}
    assert Variable.get(default_variable(name)) == "blue"
    assert not is_frozen(sqlite_pair.blue_url) and not is_frozen(sqlite_pair.green_url)
    assert not deployment_paused(schedule)  # green took no writes: it still matches blue
    phases, summary = latest_table(release_key("rollback", name))
    assert [p["outcome"] for p in phases] == ["ok"] * 6
    assert "traffic now on: blue" in summary
    add_customers(sqlite_pair, range(50, 52))  # blue takes writes again


def test_rolling_upgrade_switches_to_the_upgraded_stage(
    sqlite_pair: EnginePair, save_pair, sync_deployment, tmp_path: Path
):
    create_schema(sqlite_pair)
    add_customers(sqlite_pair, range(1, 6), orders_each=2)
    name = save_pair(sqlite_pair)
    schedule = sync_deployment(name, paused=False)
    stage = f"stage-{uuid.uuid4().hex[:6]}"
    stage_url = f"sqlite:///{tmp_path / 'stage.db'}"
    DatabaseConnection(dialect="sqlite", connection_string=stage_url).save(stage)
    script = tmp_path / "upgrade.sql"
    script.write_text("ALTER TABLE customers ADD COLUMN tier INTEGER NOT NULL DEFAULT 1;\n")

    state = rolling_upgrade(upgrade_script=str(script), stage=stage, pair=name, return_state=True)

    assert state.is_completed(), state.message
    receipt = state.result()
    assert receipt["outcome"] == "switched" and receipt["freeze_seconds"] > 0
    assert Variable.get(default_variable(name)) == "stage"
    assert is_frozen(sqlite_pair.blue_url) and not is_frozen(stage_url)
    assert deployment_paused(schedule)  # production left the pair: nothing to sync
    staged = EnginePair("sqlite", stage_url, stage_url)
    assert staged.rows("blue", "customers")[0][-1] == 1  # the upgrade ran on the stage
    assert data(staged, "blue") == data(sqlite_pair, "blue")
    phases, _ = latest_table(release_key("rolling-upgrade", name))
    assert [p["phase"] for p in phases] == [
        "preflight",
        "freeze",
        "copy",
        "upgrade",
        "verify",
        "switch",
    ]
    staged.close()
