"""A small example workbook, generated from code (never a hand-made binary).

The example shows every operation on one blue table ``customer``:
``name`` is renamed (N), ``credit`` is text on blue and a decimal on green (T), ``country`` is
replaced by the key of green's ``country`` lookup table (L, inserting unknown countries),
``bio`` moves to a second green table ``customer_bio`` (S), and green's ``ct_version`` gets the
change-tracking version of each change (V).

    uv run python -m bluegreen.mapping.example mappings/example.xlsx

writes the workbook (the drop-down lists come from the schemas below, built in a throw-away
SQLite database).
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
from pathlib import Path

from bluegreen.mapping.model import MappingRow
from bluegreen.mapping.workbook import write_mapping
from bluegreen.schema import Schema

BLUE_DDL = (
    "CREATE TABLE customer (id INTEGER PRIMARY KEY, name VARCHAR(80) NOT NULL, "
    "country VARCHAR(40), credit VARCHAR(20), bio TEXT)",
)
GREEN_DDL = (
    "CREATE TABLE country (country_id INTEGER PRIMARY KEY, name VARCHAR(40) NOT NULL)",
    "CREATE TABLE customer (id INTEGER PRIMARY KEY, full_name VARCHAR(80) NOT NULL, "
    "country_id INTEGER REFERENCES country (country_id), credit NUMERIC(12,2), "
    "ct_version BIGINT)",
    "CREATE TABLE customer_bio (id INTEGER PRIMARY KEY REFERENCES customer (id), bio TEXT)",
)


def example_rows() -> list[MappingRow]:
    """The example's rows, numbered as they appear in the sheet."""
    cells = [
        {
            "blue_table": "customer",
            "blue_column": "name",
            "operation": "N",
            "green_table": "customer",
            "green_column": "full_name",
            "green_type": "VARCHAR(80)",
            "notes": "renamed",
        },
        {
            "blue_table": "customer",
            "blue_column": "credit",
            "operation": "T",
            "green_table": "customer",
            "green_column": "credit",
            "green_type": "NUMERIC(12,2)",
            "notes": "text on blue; a value that is not a number stops the window",
        },
        {
            "blue_table": "customer",
            "blue_column": "country",
            "operation": "L",
            "green_table": "customer",
            "green_column": "country_id",
            "green_type": "INTEGER",
            "lookup_table": "country",
            "lookup_key": "country_id",
            "lookup_value": "name",
            "on_missing": "insert",
            "notes": "a country green does not know yet is added to country",
        },
        {
            "blue_table": "customer",
            "blue_column": "bio",
            "operation": "S",
            "green_table": "customer_bio",
            "green_column": "bio",
            "notes": "moved to a table keyed by customer.id",
        },
        {
            "blue_table": "customer",
            "operation": "V",
            "green_table": "customer",
            "green_column": "ct_version",
            "green_type": "BIGINT",
            "notes": "the change-tracking version of the row's last change",
        },
    ]
    return [MappingRow(row=i + 2, **c) for i, c in enumerate(cells)]


def example_schemas() -> tuple[Schema, Schema]:
    """The example's blue and green schemas, introspected from throw-away SQLite databases."""
    from bluegreen.dialects.sqlite import SQLiteDialect

    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for side, ddl in (("blue", BLUE_DDL), ("green", GREEN_DDL)):
            conn = sqlite3.connect(Path(tmp) / f"{side}.db")
            for stmt in ddl:
                conn.execute(stmt)
            conn.commit()
            out.append(SQLiteDialect(conn).introspect())
            conn.close()
    return out[0], out[1]


def write_example(path: str | Path) -> Path:
    """Write the example workbook to ``path``."""
    blue, green = example_schemas()
    return write_mapping(example_rows(), path, blue, green)


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else "mappings/example.xlsx"
    print(f"wrote {write_example(target)}")
