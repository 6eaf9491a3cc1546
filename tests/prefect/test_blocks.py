"""Blocks save and load; secrets stay secret, in the API and in a run's logs."""

from __future__ import annotations

import logging
import uuid

import pytest
from prefect.client.orchestration import get_client
from pydantic import ValidationError

from blocks import BlueGreenPair, DatabaseConnection, register_blocks
from flows.sync import sync_green
from tests.conftest import EnginePair
from tests.prefect.conftest import add_customers, create_schema, flow_run_logs, rows

PASSWORD = "Sup3r-s3cret-pw"


def _pg_url_with_password(url: str) -> str:
    # trust authentication ignores the password, so the URL still connects
    return url.replace("postgresql://postgres@", f"postgresql://postgres:{PASSWORD}@", 1)


def test_block_types_register():
    assert register_blocks() == [
        "bluegreen-database-connection",
        "bluegreen-pair",
        "bluegreen-variable-switch",
        "bluegreen-webhook-switch",
        "bluegreen-command-switch",
    ]
    with get_client(sync_client=True) as client:
        schema = client.get_most_recent_block_schema_for_block_type(
            client.read_block_type_by_slug("bluegreen-database-connection").id
        )
    assert schema is not None
    assert schema.fields["secret_fields"] == ["connection_string"]


def test_pair_saves_and_loads_with_secrets_masked():
    name = f"shop-{uuid.uuid4().hex[:6]}"
    url = f"postgresql://sync:{PASSWORD}@db-blue.example:5432/shop"
    BlueGreenPair(
        blue=DatabaseConnection(dialect="postgresql", connection_string=url),
        green=DatabaseConnection(dialect="sqlite", connection_string="sqlite:////srv/green.db"),
        production="green",
        tables=["customers"],
        batch_size=1000,
        time_budget=60,
    ).save(name)

    loaded = BlueGreenPair.load(name)
    assert loaded.blue.connection_string.get_secret_value() == url
    assert PASSWORD not in repr(loaded) and PASSWORD not in str(loaded.model_dump())
    with get_client(sync_client=True) as client:
        doc = client.read_block_document_by_name(name, "bluegreen-pair", include_secrets=False)
    assert PASSWORD not in str(doc.data)
    # production is green: the engine reads from green and writes to blue
    settings = loaded.to_settings()
    assert settings.blue_url.get_secret_value() == "sqlite:////srv/green.db"
    assert settings.green_url.get_secret_value() == url
    assert (settings.tables, settings.batch_size, settings.time_budget) == (["customers"], 1000, 60)
    assert "db-blue.example" in loaded.describe() and PASSWORD not in loaded.describe()


def test_to_settings_ignores_worker_environment(monkeypatch):
    monkeypatch.setenv("BLUEGREEN_STREAM", "from-the-environment")
    monkeypatch.setenv("BLUEGREEN_BATCH_SIZE", "7")
    pair = BlueGreenPair(
        blue=DatabaseConnection(dialect="sqlite", connection_string="sqlite:///b.db"),
        green=DatabaseConnection(dialect="sqlite", connection_string="sqlite:///g.db"),
    )
    settings = pair.to_settings()
    assert (settings.stream, settings.batch_size) == ("default", 50_000)


@pytest.mark.parametrize(
    ("dialect", "url"),
    [
        ("sqlite", f"postgresql://sync:{PASSWORD}@host/db"),
        ("postgresql", f"mssql://sync:{PASSWORD}@host:1433/db"),
        ("postgresql", f"sync:{PASSWORD}@host/db"),
    ],
    ids=["sqlite-label-postgresql-url", "postgresql-label-mssql-url", "no-scheme"],
)
def test_connection_refuses_a_url_of_another_engine_without_quoting_it(dialect, url):
    with pytest.raises(ValidationError) as caught:
        DatabaseConnection(dialect=dialect, connection_string=url)
    assert PASSWORD not in str(caught.value)


@pytest.mark.postgresql
def test_a_run_logs_no_password(pg_pair: EnginePair, save_pair, caplog):
    create_schema(pg_pair)
    add_customers(pg_pair, range(1, 4), orders_each=1)
    name = save_pair(pg_pair, blue_url=_pg_url_with_password(pg_pair.blue_url))
    assert PASSWORD in BlueGreenPair.load(name).blue.connection_string.get_secret_value()
    with caplog.at_level(logging.DEBUG):
        state = sync_green(pair=name, return_state=True)
    assert state.is_completed(), state.message
    assert rows(pg_pair, "green") == rows(pg_pair, "blue")
    logs = flow_run_logs(state.state_details.flow_run_id)
    assert any(log.name == "bluegreen.sync" for log in logs)  # engine lines are there...
    shipped = "\n".join(log.message for log in logs)
    assert PASSWORD not in shipped  # ...and no password
    assert PASSWORD not in caplog.text
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(state.state_details.flow_run_id)
    assert PASSWORD not in str(run.parameters) and PASSWORD not in str(run.state)
