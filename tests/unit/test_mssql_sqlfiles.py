"""The static T-SQL in sql/mssql/*.sql: what the dialect asks for exists, and green's state
tables have the same columns on SQL Server as on SQLite (GreenState writes them the same way).
Their syntax is checked with sqlfluff in tests/golden/test_tsql_parse.py."""

from __future__ import annotations

import re

import pytest

from bluegreen import sqlfiles

_COLUMN = re.compile(r"^\s*([a-z_]+)\s+[A-Za-z]", re.MULTILINE)
_NOT_COLUMNS = {"primary", "constraint", "create", "if", "exec"}


def columns(create: str) -> list[str]:
    body = create[create.index("(", create.upper().index("CREATE TABLE")) + 1 :]
    return [c for c in _COLUMN.findall(body) if c not in _NOT_COLUMNS]


@pytest.mark.parametrize("table", ["watermark", "history", "history_tables"])
def test_state_tables_match_sqlite(table: str) -> None:
    mssql = sqlfiles.statement("mssql", "green_state", table)
    sqlite = sqlfiles.statement("sqlite", "green_state", table)
    assert columns(mssql) == columns(sqlite)
    assert len(columns(mssql)) >= 6
    assert f"OBJECT_ID(N'[bluegreen].[{table}]', N'U') IS NULL" in mssql


def test_release_table_matches_sqlite() -> None:
    mssql = sqlfiles.statement("mssql", "release", "release")
    assert columns(mssql) == columns(sqlfiles.statement("sqlite", "release", "release"))


def test_state_schema_is_created_first_and_only_if_missing() -> None:
    names = list(sqlfiles.load("mssql", "green_state"))
    assert names[0] == "schema"
    assert "SCHEMA_ID(N'bluegreen') IS NULL" in sqlfiles.statement("mssql", "green_state", "schema")


@pytest.mark.parametrize(
    ("file", "names"),
    [
        ("introspect", {"tables", "columns", "primary_keys", "foreign_keys", "version"}),
        ("tracking", {"enable_database", "allow_snapshot", "tracked", "current_version"}),
        ("tracking", {"table_versions"}),
        ("freeze", {"freeze", "unfreeze", "is_read_only"}),
        ("release", {"schema", "release"}),
        ("session", {"setup", "read_committed", "snapshot"}),
    ],
)
def test_the_statements_the_dialect_uses_exist(file: str, names: set[str]) -> None:
    assert names <= set(sqlfiles.load("mssql", file))


def test_tracking_is_enabled_only_when_off() -> None:
    enable = sqlfiles.statement("mssql", "tracking", "enable_database")
    code = "\n".join(line for line in enable.splitlines() if not line.startswith("--"))
    assert code.startswith("IF NOT EXISTS")
    assert "CHANGE_RETENTION = 2 DAYS, AUTO_CLEANUP = ON" in enable
    snapshot = sqlfiles.statement("mssql", "tracking", "allow_snapshot")
    assert "NOT IN (1, 3)" in snapshot and "ALLOW_SNAPSHOT_ISOLATION ON" in snapshot
    assert sqlfiles.statement("mssql", "tracking", "table_versions").count("?") == 2


def test_introspection_leaves_bluegreen_out() -> None:
    for name in ("tables", "columns"):
        assert "s.name <> N'bluegreen'" in sqlfiles.statement("mssql", "introspect", name)


def test_freeze_names_no_database() -> None:
    assert sqlfiles.statement("mssql", "freeze", "freeze") == (
        "ALTER DATABASE CURRENT SET READ_ONLY WITH ROLLBACK IMMEDIATE"
    )
    assert "READ_WRITE" in sqlfiles.statement("mssql", "freeze", "unfreeze")
