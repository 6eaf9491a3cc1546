"""SQL Server's release methods on a real server: run_script, copy_database, database_exists,
drop_database, and the rolling upgrade and copy-as-green built on them.

Only with BLUEGREEN_TEST_MSSQL_URL (a login that may create, back up, restore and drop
databases; see test_mssql_live.py). ``bluegreen_*`` settings in that URL (``bluegreen_backup_dir``
for a server whose default backup folder is not writable, ...) are kept for every database the
tests make. Every database made here is dropped afterwards.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bluegreen.dialects.mssql import MSSQLDialect, odbc_connection_string
from bluegreen.dialects.mssql_odbc import with_database
from bluegreen.errors import ConfigError, TerminalError
from bluegreen.release import FileSwitch, ReleaseFailed, copy_as_green, rolling_upgrade

MSSQL_URL = os.environ.get("BLUEGREEN_TEST_MSSQL_URL")

pytestmark = [
    pytest.mark.mssql,
    pytest.mark.skipif(not MSSQL_URL, reason="BLUEGREEN_TEST_MSSQL_URL is not set"),
]

SCHEMA = (
    "CREATE TABLE dbo.region (id int NOT NULL PRIMARY KEY, name nvarchar(50) NOT NULL)",
    "CREATE TABLE dbo.event (id int IDENTITY(1,1) NOT NULL PRIMARY KEY, "
    "region_id int NOT NULL REFERENCES dbo.region (id), tag nvarchar(50) NOT NULL)",
    "INSERT INTO dbo.region VALUES (1, N'north'), (2, N'south')",
    "INSERT INTO dbo.event (region_id, tag) VALUES (1, N'a'), (2, N'b'), (1, N'c')",
)


class Databases:
    """Databases on the test server, by URL; every name handed out is dropped at the end."""

    def __init__(self) -> None:
        assert MSSQL_URL is not None
        self.tag = uuid.uuid4().hex[:8]
        self.names: list[str] = []

    def url(self, label: str) -> str:
        name = f"bg_{self.tag}_{label}"
        self.names.append(name)
        assert MSSQL_URL is not None
        return with_database(MSSQL_URL, name)

    def create(self, label: str, *statements: str) -> str:
        url = self.url(label)
        admin(f"CREATE DATABASE [{self.names[-1]}]")
        run(url, *statements)
        return url

    def drop_all(self) -> None:
        for name in self.names:
            MSSQLDialect.drop_database(SecretStr(self.url_of(name)))

    @staticmethod
    def url_of(name: str) -> str:
        assert MSSQL_URL is not None
        return with_database(MSSQL_URL, name)


def admin(*statements: str) -> None:
    import pyodbc

    assert MSSQL_URL is not None
    conn = pyodbc.connect(odbc_connection_string(with_database(MSSQL_URL, "master")))
    conn.autocommit = True
    try:
        for s in statements:
            conn.execute(s)
    finally:
        conn.close()


def run(url: str, *statements: str) -> None:
    import pyodbc

    conn = pyodbc.connect(odbc_connection_string(url), autocommit=False)
    try:
        for s in statements:
            conn.execute(s)
        conn.commit()
    finally:
        conn.close()


def scalar(url: str, sql: str) -> Any:
    d = MSSQLDialect.connect(SecretStr(url))
    try:
        return d.query(sql)[0][0]
    finally:
        d.close()


def exists(url: str) -> bool:
    return MSSQLDialect.database_exists(SecretStr(url))


@pytest.fixture
def dbs() -> Iterator[Databases]:
    made = Databases()
    try:
        yield made
    finally:
        made.drop_all()


def test_run_script_cuts_on_go_and_stops_at_the_failing_batch(dbs: Databases) -> None:
    url = dbs.create("script")
    script = (
        "CREATE TABLE dbo.hits (id int IDENTITY(1,1) PRIMARY KEY, note nvarchar(50));\n"
        "GO\n"
        "-- a procedure must start its own batch\n"
        "CREATE PROCEDURE dbo.hit AS INSERT INTO dbo.hits (note) VALUES (N'it''s\nGO\nhere');\n"
        "go\n"
        "EXEC dbo.hit;\n"
        "GO 3\n"
    )
    d = MSSQLDialect.connect(SecretStr(url))
    try:
        d.run_script(script, doing="run the upgrade script")
        assert d.query("SELECT COUNT(*), MIN(note) FROM dbo.hits") == [(3, "it's\nGO\nhere")]
        d.rollback()
        with pytest.raises(TerminalError, match=r"batch 2 of 3 \(line 3\)") as err:
            d.run_script("EXEC dbo.hit;\nGO\nSELECT 1;\nSELECT * FROM dbo.nope;\nGO\nEXEC dbo.hit;")
        assert "nope" in str(err.value)
        # batches run with autocommit, as sqlcmd runs them: the first one stays, the third
        # never ran
        assert d.query("SELECT COUNT(*) FROM dbo.hits") == [(4,)]
    finally:
        d.close()


def test_copy_exists_replace_and_drop(dbs: Databases) -> None:
    blue = dbs.create("blue", *SCHEMA)
    green = dbs.url("green")
    assert not exists(green)
    source = MSSQLDialect.connect(SecretStr(blue))
    try:
        source.copy_database(SecretStr(green))
        assert exists(green)
        assert scalar(green, "SELECT COUNT(*) FROM dbo.event") == 3
        assert source.query("SELECT COUNT(*) FROM dbo.region") == [(2,)]  # still usable
        source.rollback()

        with pytest.raises(ConfigError, match="already exists") as err:
            source.copy_database(SecretStr(green))
        assert "replace" in (err.value.fix or "")

        run(blue, "INSERT INTO dbo.region VALUES (3, N'east')")
        import pyodbc

        # a session on the old copy, in the middle of a transaction, does not stop the replace
        holder = pyodbc.connect(odbc_connection_string(green), autocommit=False)
        try:
            holder.execute("UPDATE dbo.region SET name = N'held' WHERE id = 1")
            source.copy_database(SecretStr(green), replace=True)
        finally:
            with contextlib.suppress(pyodbc.Error):  # the replace ended its session
                holder.close()
        assert scalar(green, "SELECT COUNT(*) FROM dbo.region") == 3
        assert scalar(green, "SELECT name FROM dbo.region WHERE id = 1") == "north"

        with pytest.raises(ConfigError, match="the source itself"):
            source.copy_database(SecretStr(blue), replace=True)
    finally:
        source.close()
    MSSQLDialect.drop_database(SecretStr(green))
    assert not exists(green)
    MSSQLDialect.drop_database(SecretStr(green))  # missing: nothing to do


def test_a_copy_of_a_frozen_tracked_blue_becomes_a_writable_untracked_green(
    dbs: Databases,
) -> None:
    blue = dbs.create("blue", *SCHEMA)
    green = dbs.url("green")
    source = MSSQLDialect.connect(SecretStr(blue))
    try:
        source.enable_tracking(list(source.introspect().tables.values()))
        source.freeze()
        result = copy_as_green(source, SecretStr(green), replace=False)
        assert result.was_frozen and sorted(result.dropped_tracking) == [
            "dbo.event",
            "dbo.region",
        ]
        assert result.baseline is not None and not result.baseline.origin
        copy = MSSQLDialect.connect(SecretStr(green))
        try:
            assert not copy.is_frozen() and copy.tracked_tables() == []
            copy.rollback()
            copy.execute("INSERT INTO dbo.region VALUES (9, N'green only')")
            copy.commit()
        finally:
            copy.close()
        assert source.is_frozen()  # the source is left as it was
    finally:
        source.unfreeze()
        source.close()


def test_rolling_upgrade_on_sql_server(dbs: Databases, tmp_path: Path) -> None:
    blue = dbs.create("blue", *SCHEMA)
    stage = dbs.url("stage")
    switch = FileSwitch(tmp_path / "switch.json")
    switch.point_to("blue")
    script = (
        "ALTER TABLE dbo.region ADD vip bit NULL;\n"
        "GO\n"
        "UPDATE dbo.region SET vip = 1 WHERE id = 1;\n"
        "GO\n"
        "CREATE VIEW dbo.vip_regions AS SELECT id FROM dbo.region WHERE vip = 1;\n"
        "GO\n"
    )
    receipt = rolling_upgrade(blue, stage, switch, script)
    assert receipt.outcome == "switched", receipt.markdown()
    assert switch.active() == "stage"
    assert scalar(stage, "SELECT COUNT(*) FROM dbo.vip_regions") == 1
    run(stage, "INSERT INTO dbo.event (region_id, tag) VALUES (1, N'on the stage')")
    old = MSSQLDialect.connect(SecretStr(blue))
    try:
        assert old.is_frozen()  # the old production stays read-only
        old.rollback()
        old.unfreeze()
    finally:
        old.close()

    switch.point_to("blue")
    other = dbs.url("stage2")
    with pytest.raises(ReleaseFailed) as err:
        rolling_upgrade(blue, other, switch, "ALTER TABLE dbo.no_such_table ADD x int;\nGO\n")
    failed = err.value.receipt
    assert failed.failed_phase == "upgrade"
    assert failed.blue_unfrozen is True and failed.stage_dropped is True
    assert not exists(other)
