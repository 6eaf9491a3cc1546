"""The SQL Server dialect against a real SQL Server (or Azure SQL): only with a connection string.

Set BLUEGREEN_TEST_MSSQL_URL to a login that may create databases, e.g.
``mssql://sa:<password>@127.0.0.1:1433/master?driver=ODBC+Driver+18+for+SQL+Server&TrustServerCertificate=yes``
(a raw ODBC string works too). Each test creates two fresh databases on that server (blue and
green), runs, and drops them. Without the variable every test here is skipped: no SQL Server
can run where bluegreen is developed, so this file is the only place its SQL meets the engine.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from bluegreen.dialects.mssql import MSSQLDialect, odbc_connection_string, parse_odbc
from bluegreen.errors import ReseedRequired
from bluegreen.schema import TableName
from bluegreen.sync.state import GreenState
from bluegreen.watermark import Watermark
from tests.conftest import EnginePair, make_pair
from tests.integration.helpers import assert_same, digests, enable, sync, watermark

MSSQL_URL = os.environ.get("BLUEGREEN_TEST_MSSQL_URL")

pytestmark = [
    pytest.mark.mssql,
    pytest.mark.skipif(not MSSQL_URL, reason="BLUEGREEN_TEST_MSSQL_URL is not set"),
]

SCHEMA = (
    "CREATE TABLE dbo.customer (id int NOT NULL PRIMARY KEY, name nvarchar(100) NOT NULL, "
    "region nvarchar(50) NULL, created_at datetime2(3) NULL, seen_at datetimeoffset(7) NULL)",
    "CREATE TABLE dbo.order_line (order_id int NOT NULL, line_no int NOT NULL, "
    "customer_id int NOT NULL REFERENCES dbo.customer (id), amount decimal(12,2) NULL, "
    "total AS (amount * 2), PRIMARY KEY (order_id, line_no))",
    "CREATE TABLE dbo.order_note (order_id int NOT NULL, line_no int NOT NULL, "
    "note nvarchar(max) NULL, PRIMARY KEY (order_id, line_no), CONSTRAINT fk_note_line "
    "FOREIGN KEY (order_id, line_no) REFERENCES dbo.order_line (order_id, line_no))",
    "CREATE TABLE dbo.employee (id int NOT NULL PRIMARY KEY, "
    "manager_id int NULL REFERENCES dbo.employee (id), name nvarchar(100) NOT NULL)",
    "CREATE TABLE dbo.ticket (id int IDENTITY(1,1) NOT NULL PRIMARY KEY, "
    "subject nvarchar(200) NOT NULL, body varbinary(max) NULL)",
    'CREATE TABLE dbo.[odd names] (id int NOT NULL PRIMARY KEY, [we"ird ]]col] nvarchar(50) NULL)',
)


@pytest.fixture
def mssql_pair(tmp_path: Path) -> Iterator[EnginePair]:
    """Two fresh databases on the server of BLUEGREEN_TEST_MSSQL_URL."""
    yield from make_pair("mssql", tmp_path)


def _seed(pair: EnginePair) -> None:
    pair.ddl(*SCHEMA)
    enable(pair)
    pair.run(
        "blue",
        "INSERT INTO dbo.customer VALUES (1, N'Ada', N'north', '2024-01-02T03:04:05.123', "
        "'2024-02-29 23:59:58.1234567 -05:30'), (2, N'Bob', NULL, NULL, NULL), "
        "(3, N'Cy ]\"', N'south', NULL, '2024-07-01 08:00:00 +00:45')",
        "INSERT INTO dbo.order_line (order_id, line_no, customer_id, amount) VALUES "
        "(10, 1, 1, 12.50), (10, 2, 1, 0.01), (11, 1, 2, NULL)",
        "INSERT INTO dbo.order_note VALUES (10, 1, N'fragile'), (11, 1, NULL)",
        "INSERT INTO dbo.employee VALUES (1, NULL, N'boss'), (2, 1, N'mid'), (3, 2, N'leaf')",
        "INSERT INTO dbo.ticket (subject, body) VALUES (N'first', 0x00FF), (N'second', NULL)",
        "INSERT INTO dbo.[odd names] (id, [we\"ird ]]col]) VALUES (1, N'x'), (2, NULL)",
    )


def test_introspection_reads_full_types_keys_and_foreign_keys(mssql_pair: EnginePair) -> None:
    mssql_pair.ddl(*SCHEMA, sides=("blue",))
    blue = mssql_pair.blue()
    schema = blue.introspect()
    customer = schema.table("dbo.customer")
    assert [(c.name, c.type, c.nullable) for c in customer.columns] == [
        ("id", "int", False),
        ("name", "nvarchar(100)", False),
        ("region", "nvarchar(50)", True),
        ("created_at", "datetime2(3)", True),
        ("seen_at", "datetimeoffset(7)", True),
    ]
    line = schema.table("dbo.order_line")
    assert line.primary_key == ("order_id", "line_no")
    assert line.column("amount").type == "decimal(12,2)"
    assert line.column("total").generated
    note = schema.table("dbo.order_note")
    assert note.column("note").type == "nvarchar(max)"
    (fk,) = note.foreign_keys
    assert (fk.name, fk.columns, fk.ref_table, fk.ref_columns) == (
        "fk_note_line",
        ("order_id", "line_no"),
        TableName("dbo", "order_line"),
        ("order_id", "line_no"),
    )
    ticket = schema.table("dbo.ticket")
    assert ticket.column("id").identity and ticket.column("body").type == "varbinary(max)"
    assert schema.table("dbo.employee").foreign_keys[0].ref_table == TableName("dbo", "employee")
    assert schema.table("dbo.odd names").has_column('we"ird ]col')
    GreenState(blue).install()  # bluegreen's own schema is never introspected as user tables
    assert all(n.schema != "bluegreen" for n in blue.introspect().tables)


def test_enable_write_sync_verify(mssql_pair: EnginePair) -> None:
    pair = mssql_pair
    _seed(pair)
    blue = pair.blue()
    assert blue.enable_tracking(list(blue.introspect().tables.values())) == []  # idempotent
    assert len(blue.tracked_tables()) == 6
    blue.close()

    first = sync(pair)
    assert first.caught_up and first.totals.inserts == 3 + 3 + 2 + 3 + 2 + 2
    assert_same(pair)

    pair.run(
        "blue",
        "UPDATE dbo.customer SET name = N'Ada L.', region = NULL WHERE id = 1",
        "DELETE FROM dbo.order_note WHERE order_id = 11",
        "DELETE FROM dbo.order_line WHERE order_id = 11",
        "DELETE FROM dbo.customer WHERE id = 2",
        "UPDATE dbo.employee SET id = 30 WHERE id = 3",  # a key change: delete + insert
        "INSERT INTO dbo.ticket (subject) VALUES (N'third')",
        "UPDATE dbo.[odd names] SET [we\"ird ]]col] = N'y' WHERE id = 2",
    )
    second = sync(pair)
    assert second.caught_up
    assert_same(pair)
    assert pair.rows("green", "dbo.employee") == [(1, None, "boss"), (2, 1, "mid"), (30, 2, "leaf")]
    green = pair.green()  # datetimeoffset arrives to the last 100 ns, its offset kept
    assert green.query(
        "SELECT id, DATEPART(TZOFFSET, seen_at) FROM dbo.customer "
        "WHERE seen_at = '2024-02-29 23:59:58.1234567 -05:30'"
    ) == [(1, -330)]
    green.close()

    mark = watermark(pair)
    again = sync(pair)  # nothing new: no window applies anything, the watermark stays
    assert again.totals.inserts == again.totals.updates == 0
    assert watermark(pair) == mark


def test_a_truncate_moves_the_min_valid_version_past_the_watermark(mssql_pair: EnginePair) -> None:
    pair = mssql_pair
    _seed(pair)
    sync(pair)
    mark = Watermark.loads(watermark(pair))
    before = digests(pair, "green")
    pair.run("blue", "INSERT INTO dbo.customer VALUES (9, N'late', NULL, NULL, NULL)")
    pair.run("blue", "TRUNCATE TABLE dbo.ticket")  # not tracked: CT invalidates the table

    blue = pair.blue()
    min_valid, _ = blue.table_versions(TableName("dbo", "ticket"))
    assert min_valid is not None and min_valid > mark.version
    (check,) = blue.check_valid([TableName("dbo", "ticket")], mark)
    assert not check.valid
    assert str(mark.version) in check.detail and str(min_valid) in check.detail
    blue.close()

    with pytest.raises(ReseedRequired) as err:
        sync(pair)
    assert "ticket" in str(err.value)
    assert Watermark.loads(watermark(pair)) == mark  # green stayed where it was
    assert digests(pair, "green") == before


def test_freeze_blocks_writes_and_keeps_change_tracking_readable(mssql_pair: EnginePair) -> None:
    import pyodbc

    pair = mssql_pair
    _seed(pair)
    blue = pair.blue()
    assert isinstance(blue, MSSQLDialect)
    assert not blue.is_frozen()
    blue.freeze()
    try:
        assert blue.is_frozen()
        with pytest.raises(pyodbc.Error, match=r"(?i)read[-_ ]only"):
            pair.run("blue", "INSERT INTO dbo.customer VALUES (8, N'x', NULL, NULL, NULL)")
        blue.begin_snapshot()
        assert blue.current_watermark().version > 0
        blue.rollback()
    finally:
        blue.unfreeze()
    assert not blue.is_frozen()
    pair.run("blue", "INSERT INTO dbo.customer VALUES (8, N'x', NULL, NULL, NULL)")
    blue.close()


def test_connect_reports_where_without_the_password() -> None:
    assert MSSQL_URL is not None
    d = MSSQLDialect.connect(SecretStr(MSSQL_URL))
    try:
        assert d.server_version()
        assert d.database_name()
        secrets = [v for k, v in parse_odbc(odbc_connection_string(MSSQL_URL)) if k == "PWD"]
        assert not any(s and s in d.describe() for s in secrets)
    finally:
        d.close()


def test_green_identity_counters_follow_the_synced_keys(mssql_pair: EnginePair) -> None:
    """advance_identities() has nothing to do on SQL Server: explicit identity inserts move the
    counter, so green's next application insert does not collide."""
    pair = mssql_pair
    _seed(pair)
    sync(pair)
    green = pair.green()
    assert green.advance_identities() == []
    green.close()
    pair.run("green", "INSERT INTO dbo.ticket (subject) VALUES (N'made on green')")
    assert [r[0] for r in pair.rows("green", "dbo.ticket")] == [1, 2, 3]


def test_introspection_reads_unique_keys_but_not_filtered_ones(mssql_pair: EnginePair) -> None:
    mssql_pair.ddl(
        "CREATE TABLE dbo.label (id int NOT NULL PRIMARY KEY, code nvarchar(20) UNIQUE, "
        "a int, b int, c int, CONSTRAINT uq_label_ab UNIQUE (a, b))",
        "CREATE UNIQUE INDEX ix_label_c ON dbo.label (c) WHERE c IS NOT NULL",
        sides=("green",),
    )
    green = mssql_pair.green()
    label = green.introspect().table("dbo.label")
    assert sorted(label.unique_keys) == [("a", "b"), ("code",)]
    assert label.is_unique(("code",)) and not label.is_unique(("c",))
