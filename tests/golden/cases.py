"""The golden-SQL cases: a small fixture schema and every statement each dialect builds for it.

Adding a dialect is one entry in :data:`DIALECTS` (its module, class, the native type names of
the fixture's portable types, and optionally the extra statements only it builds). Dialects are
built with no connection (``Cls(None)``): building SQL never touches a database.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bluegreen.dialects.base import Dialect
from bluegreen.schema import Column, ForeignKey, Schema, Table, TableName
from bluegreen.watermark import Watermark

# The column whose name holds a double quote, a space and a closing bracket: every quoting
# rule (ANSI "" doubling, T-SQL ]] doubling) has something to escape in it.
ODD = 'we"ird ]col'

Extras = Callable[[Dialect, list[Table]], dict[str, list[str]]]


@dataclass(frozen=True)
class GoldenDialect:
    """One dialect under golden test."""

    id: str  # folder name under tests/golden/
    module: str
    cls: str
    types: dict[str, str]  # portable type -> the engine's type text
    extras: Extras | None = None  # statements only this dialect builds (tracking, reads)

    def load(self) -> type[Dialect]:
        return getattr(importlib.import_module(self.module), self.cls)


def fixture_tables(d: Dialect, types: dict[str, str]) -> list[Table]:
    """A dimension, a fact with a composite key, a self-referencing table, a table with an
    identity column, and a table with the odd column name, in that order."""
    schema = d.default_schema if d.supports_schemas else None

    def name(n: str) -> TableName:
        return TableName(schema, n)

    customer = Table(
        name=name("customer"),
        columns=(
            Column("id", types["int"], nullable=False),
            Column("name", types["text"], nullable=False),
            Column("region", types["text"]),
            Column("created_at", types["ts"]),
        ),
        primary_key=("id",),
    )
    order_line = Table(
        name=name("order_line"),
        columns=(
            Column("order_id", types["int"], nullable=False),
            Column("line_no", types["int"], nullable=False),
            Column("customer_id", types["int"], nullable=False),
            Column("amount", types["money"]),
            Column("total", types["money"], generated=True),  # never staged or written
        ),
        primary_key=("order_id", "line_no"),
        foreign_keys=(
            ForeignKey("fk_order_line_customer", ("customer_id",), name("customer"), ("id",)),
        ),
    )
    employee = Table(
        name=name("employee"),
        columns=(
            Column("id", types["int"], nullable=False),
            Column("manager_id", types["int"]),
            Column("name", types["text"], nullable=False),
        ),
        primary_key=("id",),
        foreign_keys=(
            ForeignKey("fk_employee_manager", ("manager_id",), name("employee"), ("id",)),
        ),
    )
    ticket = Table(
        name=name("ticket"),
        columns=(
            Column("id", types["int"], nullable=False, identity=True),
            Column("subject", types["text"], nullable=False),
            Column("body", types["blob"]),
        ),
        primary_key=("id",),
    )
    odd = Table(
        name=name("odd"),
        columns=(
            Column("id", types["int"], nullable=False),
            Column(ODD, types["text"]),
        ),
        primary_key=("id",),
    )
    return [customer, order_line, employee, ticket, odd]


def fixture_schema(d: Dialect, types: dict[str, str]) -> Schema:
    tables = fixture_tables(d, types)
    return Schema({t.name: t for t in tables}, default_schema=d.default_schema)


def _apply_cases(d: Dialect, tables: list[Table]) -> dict[str, list[str]]:
    """The general builder's statements, as the sync window calls them."""
    cases: dict[str, list[str]] = {}
    for index, t in enumerate(tables):
        stage = d.stage_name(index)
        cols = [c.name for c in t.writable_columns]
        key = list(t.primary_key)
        non_key = [c for c in cols if c not in key]
        n = t.name.name
        cases[f"{n}.stage_ddl"] = [d.stage_ddl(index, t.writable_columns)]
        cases[f"{n}.insert"] = d.insert_statements(t, d.insert_sql(t, stage, cols, key))
        cases[f"{n}.update"] = [d.update_sql(t, stage, non_key, key)]
        cases[f"{n}.delete"] = [d.delete_sql(t, stage, key)]
        # a streamed chunk's statements, bounded by the range of its first key column
        cases[f"{n}.insert_bounded"] = d.insert_statements(
            t, d.insert_sql(t, stage, cols, key, bounded=True)
        )
        cases[f"{n}.update_bounded"] = [d.update_sql(t, stage, non_key, key, bounded=True)]
        cases[f"{n}.delete_bounded"] = [d.delete_sql(t, stage, key, bounded=True)]
    employee, ticket = tables[2], tables[3]
    e_cols = [c.name for c in employee.writable_columns]
    e_stage = d.stage_name(2)
    cases["employee.insert_nulled"] = d.insert_statements(
        employee, d.insert_sql(employee, e_stage, e_cols, ["id"], nulled=("manager_id",))
    )
    cases["employee.unlink"] = [d.unlink_sql(employee, e_stage, ["manager_id"], ["id"])]
    # an insert that leaves the identity column to the engine (a mapping may do that)
    cases["ticket.insert_without_identity"] = d.insert_statements(
        ticket, d.insert_sql(ticket, d.stage_name(3), ["subject", "body"], ["id"])
    )
    cases["state.lock_watermark"] = [
        d.lock_row_sql(
            ["position", "mapping_fingerprint", "schema_fingerprint"],
            d.own("watermark"),
            f"stream = {d.placeholder()}",
        )
    ]
    return cases


def sqlite_extras(d: Dialect, tables: list[Table]) -> dict[str, list[str]]:
    """Trigger-emulated tracking: each table's change log and triggers, and its change read."""
    cases: dict[str, list[str]] = {}
    for table_id, t in enumerate(tables, start=1):
        cases[f"{t.name.name}.tracking_ddl"] = d.tracking_ddl(t, table_id)
        cases[f"{t.name.name}.changes"] = [d._changes_sql(t, table_id, bounded=True)]
    return cases


# A database name with every character T-SQL's ]] quoting and a file name have to survive.
ODD_DB = 'bg]green "db" ÿ'


def mssql_extras(d: Dialect, tables: list[Table]) -> dict[str, list[str]]:
    """Native Change Tracking: per-table enable/disable, the CHANGETABLE read and count, the
    cutover's freeze / unfreeze, and the release flows' copies and drops (the statements that
    name a database where T-SQL takes no variable; the rest are in sql/mssql/copy.sql)."""
    cases: dict[str, list[str]] = {}
    for t in tables:
        n = t.name.name
        cases[f"{n}.enable_tracking"] = [d.enable_table_sql(t)]
        cases[f"{n}.disable_tracking"] = [d.disable_table_sql(t.name)]
        cases[f"{n}.changes"] = [d.changes_sql(t)]
        cases[f"{n}.count_changes"] = [d.count_changes_sql(t)]
    cases["cutover.freeze"] = [d.freeze_sql()]
    cases["cutover.unfreeze"] = [d.unfreeze_sql()]
    m: Any = d  # the release builders below are SQL Server's own
    cases["release.restore"] = m.restore_statements("bg_green", 2, False, False)
    cases["release.restore_replace"] = m.restore_statements(ODD_DB, 3, True, True)
    cases["release.copy_of"] = [m.copy_of_sql("bg_green", "bg_blue")]
    cases["release.copy_of_other_server"] = [m.copy_of_sql(ODD_DB, "bg]blue", "blue-server")]
    cases["release.drop_database"] = m.drop_statements(ODD_DB, single_user=True)
    cases["release.drop_database_azure"] = m.drop_statements("bg_green", single_user=False)
    return cases


def postgres_extras(d: Dialect, tables: list[Table]) -> dict[str, list[str]]:
    """Trigger-emulated tracking: each table's change log, capture function and triggers, and
    its change read from origin and from a snapshot watermark."""
    since = Watermark(version=105, position="100:105:101,103")
    where, _ = d._window_filter(since)
    origin, _ = d._window_filter(Watermark.start())
    cases: dict[str, list[str]] = {}
    for table_id, t in enumerate(tables, start=1):
        n = t.name.name
        cases[f"{n}.tracking_ddl"] = d.tracking_ddl(t, table_id)
        cases[f"{n}.changes"] = [d.changes_sql(t, table_id, where)]
        cases[f"{n}.changes_from_origin"] = [d.changes_sql(t, table_id, origin)]
    return cases


# Adding a dialect: one entry here (and `uv run pytest tests/golden --update-golden`).
DIALECTS: list[GoldenDialect] = [
    GoldenDialect(
        id="sqlite",
        module="bluegreen.dialects.sqlite",
        cls="SQLiteDialect",
        types={
            "int": "INTEGER",
            "text": "TEXT",
            "money": "NUMERIC(12,2)",
            "ts": "TIMESTAMP",
            "blob": "BLOB",
        },
        extras=sqlite_extras,
    ),
    GoldenDialect(
        id="mssql",
        module="bluegreen.dialects.mssql",
        cls="MSSQLDialect",
        types={
            "int": "int",
            "text": "nvarchar(100)",
            "money": "decimal(12,2)",
            "ts": "datetime2(7)",
            "blob": "varbinary(max)",
        },
        extras=mssql_extras,
    ),
    GoldenDialect(
        id="postgresql",
        module="bluegreen.dialects.postgres",
        cls="PostgresDialect",
        types={
            "int": "integer",
            "text": "text",
            "money": "numeric(12,2)",
            "ts": "timestamp without time zone",
            "blob": "bytea",
        },
        extras=postgres_extras,
    ),
]


def build_cases(entry: GoldenDialect) -> dict[str, str]:
    """Every case of ``entry`` as the text its golden file holds (statements end with ``;``)."""
    d = entry.load()(None)
    tables = fixture_tables(d, entry.types)
    statements = _apply_cases(d, tables)
    if entry.extras is not None:
        statements.update(entry.extras(d, tables))
    return {case: "".join(f"{s};\n" for s in stmts) for case, stmts in sorted(statements.items())}
