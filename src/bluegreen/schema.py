"""The introspected shape of a database: tables, columns, primary keys, foreign keys.

Every table or column name that reaches SQL is first resolved against one of these objects, so a
name typed into a workbook or on the command line is checked, never pasted into a statement.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import dataclass, field

from bluegreen.errors import SchemaError


@dataclass(frozen=True, order=True)
class TableName:
    """A table's schema-qualified name (``schema`` is None on engines without schemas)."""

    schema: str | None
    name: str

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name

    @classmethod
    def parse(cls, text: str, default_schema: str | None) -> TableName:
        """Split ``schema.table`` (or take ``table`` in the default schema)."""
        if "." in text and default_schema is not None:
            schema, _, name = text.partition(".")
            return cls(schema, name)
        return cls(default_schema, text)


@dataclass(frozen=True)
class Column:
    """One column: its native type text, nullability and how the engine fills it."""

    name: str
    type: str
    nullable: bool = True
    identity: bool = False  # engine assigns values unless told otherwise
    generated: bool = False  # computed by the engine; never written


@dataclass(frozen=True)
class ForeignKey:
    """A foreign key from ``columns`` of its table to ``ref_columns`` of ``ref_table``."""

    name: str
    columns: tuple[str, ...]
    ref_table: TableName
    ref_columns: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    """A table with its columns in ordinal order, primary key and outgoing foreign keys."""

    name: TableName
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    foreign_keys: tuple[ForeignKey, ...] = ()
    # column sets with a UNIQUE constraint or a unique index (not partial, no expressions),
    # besides the primary key: what lets a lookup join trust one row per value
    unique_keys: tuple[tuple[str, ...], ...] = ()

    def is_unique(self, columns: tuple[str, ...]) -> bool:
        """Whether no two rows can share a value of ``columns`` (the primary key or a unique
        key among them; NULLs aside, which a lookup never matches)."""
        have = set(columns)
        return any(key and set(key) <= have for key in (self.primary_key, *self.unique_keys))

    def column(self, name: str) -> Column:
        """The column called ``name``; a SchemaError that suggests the closest name otherwise."""
        for col in self.columns:
            if col.name == name:
                return col
        folded = [c for c in self.columns if c.name.lower() == name.lower()]
        if len(folded) == 1:
            return folded[0]
        raise SchemaError(
            f"column {name!r} does not exist in table {self.name}",
            fix=_suggest(name, [c.name for c in self.columns], "column"),
        )

    def has_column(self, name: str) -> bool:
        return any(c.name.lower() == name.lower() for c in self.columns)

    @property
    def writable_columns(self) -> tuple[Column, ...]:
        """Columns a sync may write: everything but engine-computed ones."""
        return tuple(c for c in self.columns if not c.generated)

    @property
    def has_identity(self) -> bool:
        return any(c.identity for c in self.columns)


@dataclass
class Schema:
    """All tables of one database, found by exact or (when unambiguous) case-folded name."""

    tables: dict[TableName, Table] = field(default_factory=dict)
    default_schema: str | None = None

    def find(self, text: str | TableName) -> Table | None:
        """The table named ``text`` (``schema.table`` or ``table``), or None."""
        key = text if isinstance(text, TableName) else TableName.parse(text, self.default_schema)
        if key in self.tables:
            return self.tables[key]
        folded = [
            t
            for n, t in self.tables.items()
            if n.name.lower() == key.name.lower()
            and (n.schema or "").lower() == (key.schema or "").lower()
        ]
        return folded[0] if len(folded) == 1 else None

    def table(self, text: str | TableName) -> Table:
        """The table named ``text``; a SchemaError naming it and the closest names otherwise."""
        found = self.find(text)
        if found is None:
            raise SchemaError(
                f"table {str(text)!r} does not exist",
                fix=_suggest(str(text), [str(n) for n in self.tables], "table"),
            )
        return found

    def fingerprint(self, names: list[TableName] | None = None) -> str:
        """A short hash of the shape of ``names`` (all tables by default): changes when DDL does."""
        chosen = sorted(names if names is not None else self.tables)
        doc = []
        for n in chosen:
            t = self.tables.get(n)
            if t is None:
                continue
            doc.append(
                [
                    str(n),
                    [[c.name, c.type, c.nullable, c.identity, c.generated] for c in t.columns],
                    list(t.primary_key),
                    sorted(
                        [list(fk.columns), str(fk.ref_table), list(fk.ref_columns)]
                        for fk in t.foreign_keys
                    ),
                    # only when present: a table without unique keys keeps its old fingerprint
                    *([sorted(list(u) for u in t.unique_keys)] if t.unique_keys else []),
                ]
            )
        return hashlib.sha256(json.dumps(doc).encode()).hexdigest()[:16]


def _suggest(name: str, candidates: list[str], kind: str) -> str:
    close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.5)
    if close:
        return f"did you mean {', '.join(repr(c) for c in close)}? check the {kind} name"
    if not candidates:
        return f"the database has no {kind}s to match; check the connection string"
    shown = ", ".join(sorted(candidates)[:8])
    more = "" if len(candidates) <= 8 else f" (and {len(candidates) - 8} more)"
    return f"use one of: {shown}{more}"
