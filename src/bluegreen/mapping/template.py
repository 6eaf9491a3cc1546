"""A starting workbook written from the two live schemas.

One row per blue column. Where green has a table and column of the same name, the row is
pre-filled: operation N when the types match or green's is wider, T when the value needs a cast
(the linter still refuses a cast that narrows). Where green has no such column the row is left
without an operation, green column or type, with a note: the linter reports it until someone
maps it or adds the column to green.
"""

from __future__ import annotations

from collections.abc import Mapping as MappingType
from collections.abc import Sequence
from pathlib import Path

from bluegreen.mapping.model import Mapping, MappingRow, Operation
from bluegreen.mapping.types import compare, parse_type
from bluegreen.mapping.workbook import write_mapping
from bluegreen.schema import Schema, Table


def template_rows(
    blue: Schema,
    green: Schema,
    *,
    tables: Sequence[str] | None = None,
    blue_meanings: MappingType[str, str] | None = None,
    green_meanings: MappingType[str, str] | None = None,
) -> list[MappingRow]:
    """The template's rows, in blue table then column order (row numbers from 2)."""
    chosen: list[Table] = (
        [blue.table(t) for t in tables] if tables else [blue.tables[n] for n in sorted(blue.tables)]
    )
    rows: list[MappingRow] = []
    for b in chosen:
        g = green.find(b.name) or green.find(b.name.name)
        for col in b.writable_columns:
            cells: dict[str, object] = {"blue_table": str(b.name), "blue_column": col.name}
            if g is None:
                cells["notes"] = (
                    f"green has no table {b.name}: write its green table, or create it on green"
                )
            elif not g.has_column(col.name):
                cells["green_table"] = str(g.name)
                cells["notes"] = (
                    f"green {g.name} has no column {col.name!r}: map it (N, T, S or L) "
                    "or add it to green"
                )
            else:
                gcol = g.column(col.name)
                check = compare(
                    parse_type(col.type, blue_meanings), parse_type(gcol.type, green_meanings)
                )
                cells["operation"] = (
                    Operation.TYPE
                    if check.verdict not in ("same", "widens", "unchecked")
                    else Operation.RENAME
                )
                cells["green_table"] = str(g.name)
                cells["green_column"] = gcol.name
                cells["green_type"] = gcol.type or None
                if check.verdict != "same":
                    cells["notes"] = f"blue type {col.type}" + (
                        f" ({check.reason})" if check.reason else ""
                    )
            rows.append(MappingRow(row=len(rows) + 2, **cells))
    return rows


def write_template(
    path: str | Path,
    blue: Schema,
    green: Schema,
    *,
    tables: Sequence[str] | None = None,
    blue_meanings: MappingType[str, str] | None = None,
    green_meanings: MappingType[str, str] | None = None,
) -> Mapping:
    """Write the template workbook to ``path``; return the mapping it holds."""
    rows = template_rows(
        blue, green, tables=tables, blue_meanings=blue_meanings, green_meanings=green_meanings
    )
    out = write_mapping(rows, path, blue, green)
    return Mapping(source=str(out), rows=tuple(rows))
