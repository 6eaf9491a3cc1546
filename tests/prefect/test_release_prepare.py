"""The prepare-green flow's gates and its load path: production without change tracking is
refused with the findings (nothing touched), a switch that sends traffic to green is refused,
and a load into green's existing tables reports its progress and starts the sync."""

from __future__ import annotations

from prefect.artifacts import Artifact
from prefect.variables import Variable

from flows.prepare_green import prepare_green
from flows.sync import sync_green
from tasks.release import release_key
from tests.conftest import EnginePair
from tests.prefect.conftest import add_customers, latest_table
from tests.prefect.release_support import (
    data,
    default_variable,
    deployment_paused,
    sync_deployment_fixture,  # noqa: F401  (the sync_deployment fixture)
)

DDL = (
    "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, "
    "customer_id INTEGER NOT NULL REFERENCES customers (id), amount INTEGER NOT NULL)",
)


def test_untracked_production_is_refused_with_the_findings(sqlite_pair: EnginePair, save_pair):
    sqlite_pair.ddl(*DDL)  # no change tracking on blue
    add_customers(sqlite_pair, range(1, 4))
    name = save_pair(sqlite_pair)

    state = prepare_green(pair=name, return_state=True)

    assert state.is_failed()
    assert "not ready for change tracking" in state.message and "enable_tracking" in state.message
    findings, description = latest_table(release_key("blue-check", name))
    assert "NOT ready" in description
    assert {
        f["subject"].split(".")[-1].split()[-1] for f in findings if f["severity"] == "error"
    } == {
        "customers",
        "orders",
    }
    assert all("tracking enable" in f["fix"] for f in findings)
    assert data(sqlite_pair, "green") == {"customers": [], "orders": []}  # untouched
    assert Variable.get(default_variable(name)) is None  # nothing was set up


def test_a_switch_on_green_is_refused(sqlite_pair: EnginePair, save_pair):
    sqlite_pair.ddl(*DDL)
    name = save_pair(sqlite_pair)
    Variable.set(default_variable(name), "green", overwrite=True)

    state = prepare_green(pair=name, enable_tracking=True, return_state=True)

    assert state.is_failed()
    assert "sends traffic to green" in state.message and "reseed-green" in state.message


def test_load_into_existing_tables_reports_progress_and_starts_the_sync(
    sqlite_pair: EnginePair, save_pair, sync_deployment
):
    sqlite_pair.ddl(*DDL)
    add_customers(sqlite_pair, range(1, 31), orders_each=2)
    name = save_pair(sqlite_pair, batch_size=16)
    schedule = sync_deployment(name, paused=True)

    dry = prepare_green(pair=name, method="load", dry_run=True, return_state=True)
    assert dry.is_failed() and "enable_tracking" in dry.message  # a dry run enables nothing
    state = prepare_green(pair=name, method="load", enable_tracking=True, return_state=True)

    assert state.is_completed(), state.message
    receipt = state.result()
    assert receipt["method"] == "load"
    assert sum(receipt["load"]["rows"].values()) == 90
    assert data(sqlite_pair, "green") == data(sqlite_pair, "blue")
    progress = Artifact.get(release_key("prepare-green", name, "progress"))
    assert progress is not None and float(progress.data) == 100.0
    findings, _ = latest_table(release_key("blue-check", name))
    assert {f["message"] for f in findings} == {"change tracking enabled now"}
    assert not deployment_paused(schedule)
    add_customers(sqlite_pair, range(31, 33), orders_each=1)
    assert sync_green(pair=name)["inserts"] == 4
    assert data(sqlite_pair, "green") == data(sqlite_pair, "blue")
