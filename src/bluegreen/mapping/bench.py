"""Set-up for the sync-throughput benchmark's mapped run (``bench/sync_throughput.py --mapped``).

The benchmark seeds blue with the star schema of ``bench/common.py`` (``dim``, and ``fact`` with
``id, dim_id, qty, amount, note, updated_at``) and clones the seed as green. :func:`remap_fact`
turns such a clone's ``fact`` into a different green schema, one column per operation:

=================  =======================  ===================================================
blue ``fact``      green ``fact``           workbook row
=================  =======================  ===================================================
``qty``            ``quantity``             N: rename
``amount``         ``amount``               T: ``numeric(14,2)`` widened to ``NUMERIC(18,4)``
``note``           ``note_id``              L: key of ``fact_note (note_id, note)``, on missing
                                            ``insert``
(none)             ``ct_version BIGINT``    V: the version of the row's last change
=================  =======================  ===================================================

The rows already there are converted in SQL (``fact_note`` is filled from the distinct notes), so
the mapped green starts equal to blue *through the mapping*, as an identity clone starts equal to
blue; the first sync then moves exactly the changes made after tracking was enabled. The lookup
gets a row per distinct note, so its size and its insert rate are the workload's choice
(``--lookup-values``): ``distinct`` notes are nearly unique, about one lookup row per fact row,
the hard case for a lookup (every window inserts almost every staged note into a large table and
resolves every staged row against it); ``repeating`` notes are about 200 labels, as a status or
currency column holds, so the lookup stays small and only about 1 in 200 changed facts inserts.
Nothing here depends on the mode: the same conversion and workbook serve both.

    remap_fact(green, lookup_key_ddl="INTEGER PRIMARY KEY")   # SQLite: the engine assigns keys
    builder = write_workbook(blue, green, tmp / "mapping.xlsx")
    Syncer(blue, green, plan_builder=builder).until_caught_up()

``note_id`` has no foreign key to ``fact_note``: the run compares the sync's work with the
identity sync's, and a constraint green adds would cost a probe per changed row on any path.
Every statement is the same on each engine except the lookup key's DDL, which the caller gives:
how an engine assigns a new row's key is not something a mapping can choose.
"""

from __future__ import annotations

from pathlib import Path

from bluegreen.dialects.base import Dialect
from bluegreen.mapping.builder import MappingPlanBuilder
from bluegreen.mapping.model import MappingRow
from bluegreen.mapping.workbook import write_mapping
from bluegreen.schema import Table

FACT = "fact"
LOOKUP_TABLE = "fact_note"
LOOKUP_KEY = "note_id"
LOOKUP_VALUE = "note"
RENAMED = ("qty", "quantity")  # (blue column, green column)
WIDENED = ("amount", "NUMERIC(18,4)")  # (column, green type)
LOOKED_UP = ("note", "note_id")  # (blue column, green column)
VERSION = "ct_version"
_SCRATCH = "bg_bench_fact_mapped"  # the new table, renamed to FACT once filled


def mapping_rows() -> list[MappingRow]:
    """The workbook's rows: N, T, L (on missing insert) and V, all on ``fact``."""
    return [
        MappingRow(
            row=2, blue_table=FACT, blue_column=RENAMED[0], operation="N", green_column=RENAMED[1]
        ),
        MappingRow(
            row=3,
            blue_table=FACT,
            blue_column=WIDENED[0],
            operation="T",
            green_column=WIDENED[0],
            green_type=WIDENED[1],
        ),
        MappingRow(
            row=4,
            blue_table=FACT,
            blue_column=LOOKED_UP[0],
            operation="L",
            green_column=LOOKED_UP[1],
            lookup_table=LOOKUP_TABLE,
            lookup_key=LOOKUP_KEY,
            lookup_value=LOOKUP_VALUE,
            on_missing="insert",
        ),
        MappingRow(row=5, blue_table=FACT, operation="V", green_column=VERSION),
    ]


def _column_defs(green: Dialect, fact: Table) -> tuple[list[str], list[str]]:
    """(the mapped table's column definitions, what to SELECT from the old ``fact`` AS f)."""
    q = green.quote
    defs, select = [], []
    for col in fact.columns:
        name, ctype, value = col.name, col.type, f"f.{q(col.name)}"
        if name == RENAMED[0]:
            name = RENAMED[1]
        elif name == WIDENED[0]:
            ctype = WIDENED[1]
        elif name == LOOKED_UP[0]:
            name, ctype, value = LOOKED_UP[1], "INTEGER", f"n.{q(LOOKUP_KEY)}"
        text = f"{q(name)} {ctype}"
        if fact.primary_key == (col.name,):
            text += " PRIMARY KEY"  # SQLite: INTEGER PRIMARY KEY stays the rowid, as in blue
        elif not col.nullable:
            text += " NOT NULL"
        defs.append(text)
        select.append(value)
    defs.append(f"{q(VERSION)} BIGINT")
    select.append("NULL")
    for fk in fact.foreign_keys:
        defs.append(
            f"FOREIGN KEY ({', '.join(q(c) for c in fk.columns)}) REFERENCES "
            f"{green.qualify(fk.ref_table)} ({', '.join(q(c) for c in fk.ref_columns)})"
        )
    return defs, select


def remap_fact(green: Dialect, lookup_key_ddl: str) -> None:
    """Rebuild green's copy of blue's ``fact`` in the mapped schema (module docstring), in one
    transaction; ``lookup_key_ddl`` declares ``fact_note.note_id`` so the engine assigns it
    (``INTEGER PRIMARY KEY`` on SQLite, ``INTEGER GENERATED BY DEFAULT AS IDENTITY PRIMARY
    KEY`` on PostgreSQL). The foreign keys and the index on ``dim_id`` are kept."""
    fact = green.introspect().table(FACT)
    q = green.quote
    note_type = fact.column(LOOKED_UP[0]).type
    defs, select = _column_defs(green, fact)
    names = [
        RENAMED[1] if c.name == RENAMED[0] else LOOKED_UP[1] if c.name == LOOKED_UP[0] else c.name
        for c in fact.columns
    ]
    cols = ", ".join(q(n) for n in [*names, VERSION])
    key = ", ".join(f"f.{q(k)}" for k in fact.primary_key)
    lookup, value = q(LOOKUP_TABLE), q(LOOKUP_VALUE)
    statements = [
        f"CREATE TABLE {lookup} ({q(LOOKUP_KEY)} {lookup_key_ddl}, {value} {note_type} NOT NULL)",
        # the lookup compares values: unique, so a value has one key and the join can probe
        f"CREATE UNIQUE INDEX {q(LOOKUP_TABLE + '_' + LOOKUP_VALUE)} ON {lookup} ({value})",
        f"INSERT INTO {lookup} ({value}) SELECT DISTINCT {q(LOOKED_UP[0])} FROM {q(FACT)} "
        f"WHERE {q(LOOKED_UP[0])} IS NOT NULL ORDER BY {q(LOOKED_UP[0])}",
        f"CREATE TABLE {q(_SCRATCH)} ({', '.join(defs)})",
        f"INSERT INTO {q(_SCRATCH)} ({cols}) SELECT {', '.join(select)} FROM {q(FACT)} AS f "
        f"LEFT JOIN {lookup} AS n ON n.{value} = f.{q(LOOKED_UP[0])} ORDER BY {key}",
        f"DROP TABLE {q(FACT)}",
        f"ALTER TABLE {q(_SCRATCH)} RENAME TO {q(FACT)}",
    ]
    for fk in fact.foreign_keys:  # deletes on the parent check the FK: keep its index
        idx = q(f"{FACT}_{'_'.join(fk.columns)}")
        statements.append(
            f"CREATE INDEX {idx} ON {q(FACT)} ({', '.join(q(c) for c in fk.columns)})"
        )
    with green.transaction():
        for stmt in statements:
            green.execute(stmt, doing=f"remap green's {FACT} for the mapped benchmark")
    green.execute("ANALYZE", doing="analyze the remapped green")


def write_workbook(blue: Dialect, green: Dialect, path: str | Path) -> MappingPlanBuilder:
    """Write the workbook (:func:`mapping_rows`) and return the plan builder for ``Syncer``."""
    write_mapping(mapping_rows(), path, blue.introspect(), green.introspect())
    blue.rollback()
    green.rollback()
    return MappingPlanBuilder(path)
