"""The lookup statements each dialect builds: quoted identifiers, and T-SQL that parses.

SQLite and PostgreSQL run these statements for real in test_mapping_apply; no SQL Server runs
here, so its form (``UPDATE s ... FROM stage AS s JOIN ...``) is parse-checked with sqlfluff.
"""

from __future__ import annotations

import pytest
from sqlfluff.core import FluffConfig, Linter

from bluegreen.dialects.base import Dialect
from bluegreen.dialects.mssql import MSSQLDialect
from bluegreen.dialects.postgres import PostgresDialect
from bluegreen.dialects.sqlite import SQLiteDialect
from bluegreen.schema import Column, Table, TableName

LOOKUP = Table(
    TableName("dbo", "country"),
    (Column("country_id", "int", False, identity=True), Column("name", "nvarchar(40)", False)),
    ("country_id",),
)
HOSTILE = Table(
    TableName("dbo", 'a"b]c'),
    (Column('k"]', "int", False), Column("v'; DROP TABLE x; --", "nvarchar(40)")),
    ('k"]',),
)


def _statements(d: Dialect, t: Table) -> list[str]:
    key, value = t.columns[0].name, t.columns[1].name
    stage = d.stage_name(0)
    return [
        *d.lookup_add_sql(t, key, value, stage, "__bg_lookup_1", "country_id"),
        d.lookup_ambiguous_sql(t, value, stage, "__bg_lookup_1"),
        d.lookup_ambiguous_sql(t, value, stage, "__bg_lookup_1", "country_id"),
        d.lookup_resolve_sql(t, key, value, stage, "__bg_lookup_1", "country_id"),
        d.lookup_resolve_sql(t, key, value, stage, "__bg_lookup_1", "country_id", unique_only=True),
        d.lookup_missing_sql(stage, "__bg_lookup_1", "country_id", ["id"]),
    ]


def test_tsql_lookup_statements_parse() -> None:
    linter = Linter(config=FluffConfig(overrides={"dialect": "tsql"}))
    statements = _statements(MSSQLDialect(), LOOKUP)
    # policy insert: the values of the rows left without a key, then those rows' keys
    assert statements[0].endswith("AND s.[country_id] IS NULL")
    assert statements[1].endswith("WHERE s.[country_id] IS NULL")
    assert statements[4].startswith("UPDATE s SET [country_id] = l.[country_id] FROM #bg_stage_0")
    assert statements[5].startswith("UPDATE s SET [country_id] = m.bg_key FROM #bg_stage_0 AS s")
    for sql in statements:
        parsed = linter.parse_string(sql + ";\n")
        assert parsed.tree is not None
        bad = [seg.raw for seg in parsed.tree.recursive_crawl("unparsable")]
        assert not bad and not parsed.violations, f"{sql}\n{bad}"


@pytest.mark.parametrize("cls", [SQLiteDialect, PostgresDialect, MSSQLDialect])
def test_hostile_names_are_quoted(cls: type[Dialect]) -> None:
    d = cls()
    for sql in _statements(d, HOSTILE):
        # every name appears only inside the dialect's own quoting
        assert "DROP TABLE x; --" not in sql.replace(d.quote("v'; DROP TABLE x; --"), "")
        if "__bg_lookup_1" in sql:
            assert d.quote("__bg_lookup_1") in sql
