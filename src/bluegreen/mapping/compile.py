"""Check a mapping against both live schemas and turn it into the sync plan's sources.

One pass does both, so what the linter accepts is exactly what the sync runs. Every problem is
collected as a :class:`Finding` (sheet, row, column, message, fix) instead of raised, so a user
sees all of them at once. Names from the workbook are only ever *looked up* in the introspected
schemas; the plan carries the introspected names, so a hostile cell never reaches SQL.
"""

from __future__ import annotations

from collections.abc import Mapping as MappingType
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from bluegreen.errors import SchemaError
from bluegreen.mapping.model import HEADERS, SHEET, Finding, Mapping, MappingRow, Operation
from bluegreen.mapping.types import SqlType, comparable, compare, parse_type
from bluegreen.schema import Column, Schema, Table, TableName
from bluegreen.sync.plan import ColumnSource, Lookup, Source, Target

# the stage column that holds an L column's blue value until the lookup resolves it
LOOKUP_STAGE = "__bg_lookup_{}"
Severity = Literal["error", "warning"]


@dataclass
class Compiled:
    """The plan's sources (valid only without error findings), skipped tables, findings."""

    sources: list[Source] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]


@dataclass
class _Row:
    """A row with the schema objects its names resolved to (None: blank or unknown)."""

    row: MappingRow
    blue: Table | None = None
    bcol: Column | None = None
    gtable: Table | None = None
    gtable_error: bool = False
    lookup: Table | None = None
    lookup_key: Column | None = None
    lookup_value: Column | None = None

    @property
    def op(self) -> Operation | None:
        return self.row.operation


@dataclass
class _Writes:
    """Who writes each green column: rows, or a blue column mapped by name (identity)."""

    by_column: dict[tuple[TableName, str], list[tuple[MappingRow | None, str]]] = field(
        default_factory=dict
    )

    def add(self, table: Table, column: str, row: MappingRow | None, what: str) -> None:
        self.by_column.setdefault((table.name, column.lower()), []).append((row, what))


class _Compiler:
    def __init__(
        self,
        mapping: Mapping,
        blue: Schema,
        green: Schema,
        blue_meanings: MappingType[str, str] | None,
        green_meanings: MappingType[str, str] | None,
    ) -> None:
        self.mapping = mapping
        self.blue = blue
        self.green = green
        self.blue_meanings = blue_meanings or {}
        self.green_meanings = green_meanings or {}
        self.findings: list[Finding] = list(mapping.findings)
        self.writes = _Writes()
        self.claims: dict[TableName, list[tuple[Table, MappingRow | None]]] = {}

    # ---- findings ---------------------------------------------------------------------------
    def add(
        self,
        row: MappingRow | None,
        field_name: str | None,
        message: str,
        fix: str,
        severity: Severity = "error",
    ) -> None:
        if row is None:
            self.findings.append(Finding(severity=severity, sheet=SHEET, message=message, fix=fix))
            return
        self.findings.append(
            Finding(
                severity=severity,
                sheet=row.sheet,
                row=row.row,
                column=HEADERS.get(field_name or "", field_name),
                letter=self.mapping.letter(field_name) if field_name else None,
                message=message,
                fix=fix,
            )
        )

    def btype(self, col: Column) -> SqlType:
        return parse_type(col.type, self.blue_meanings)

    def gtype(self, text: str) -> SqlType:
        return parse_type(text, self.green_meanings)

    @staticmethod
    def origin(row: MappingRow | None) -> str | None:
        return None if row is None else f"sheet {row.sheet!r} row {row.row}"

    # ---- step 1: resolve each row's names ---------------------------------------------------
    def resolve_row(self, row: MappingRow) -> _Row:
        r = _Row(row)
        op = row.operation
        if row.blue_table is None:
            self.add(row, "blue_table", "the blue table is empty", "write the blue table's name")
        else:
            r.blue = self._table(self.blue, row, "blue_table", "blue")
        if op is Operation.VERSION:
            if row.blue_column is not None:
                self.add(
                    row,
                    "blue_column",
                    f"operation V writes the change's version and reads no blue column; "
                    f"{row.blue_column!r} is ignored",
                    "leave the blue column empty on V rows",
                    "warning",
                )
        elif row.blue_column is None:
            self.add(
                row,
                "blue_column",
                "the blue column is empty",
                "write the blue column's name (only V rows leave it empty)",
            )
        elif r.blue is not None:
            r.bcol = self._column(r.blue, row, "blue_column", row.blue_column, "blue")
            if r.bcol is not None and r.bcol.generated:
                self.add(
                    row,
                    "blue_column",
                    f"blue column {r.blue.name}.{r.bcol.name} is computed by blue's engine and "
                    "is not read by the sync",
                    "remove the row; compute the value on green instead",
                )
                r.bcol = None
        if op is None:
            return r
        if row.green_table is not None:
            r.gtable = self._table(self.green, row, "green_table", "green")
            r.gtable_error = r.gtable is None
        elif op is Operation.SPLIT:
            self.add(
                row,
                "green_table",
                "a split (S) row needs the green table the column moves to",
                "write the second green table's name",
            )
            r.gtable_error = True
        lookup_fields = ("lookup_table", "lookup_key", "lookup_value")
        if op is Operation.LOOKUP:
            self._resolve_lookup(r)
        else:
            for f in lookup_fields:
                if getattr(row, f) is not None:
                    self.add(
                        row,
                        f,
                        f"{HEADERS[f]} is only used by L rows; it is ignored on {op.value} rows",
                        "clear the cell, or set the operation to L",
                        "warning",
                    )
            if row.on_missing is not None:
                self.add(
                    row,
                    "on_missing",
                    f"on missing is only used by L rows; it is ignored on {op.value} rows",
                    "clear the cell, or set the operation to L",
                    "warning",
                )
        return r

    def _resolve_lookup(self, r: _Row) -> None:
        row = r.row
        if row.lookup_table is None:
            self.add(
                row,
                "lookup_table",
                "a lookup (L) row needs the green lookup table",
                "write the lookup table's name",
            )
        else:
            r.lookup = self._table(self.green, row, "lookup_table", "green")
        for f, attr, what in (
            ("lookup_key", "lookup_key", "key"),
            ("lookup_value", "lookup_value", "value"),
        ):
            name = getattr(row, f)
            if name is None:
                self.add(
                    row,
                    f,
                    f"a lookup (L) row needs the lookup table's {what} column",
                    f"write the name of the {what} column of the lookup table",
                )
            elif r.lookup is not None:
                setattr(r, attr, self._column(r.lookup, row, f, name, "lookup", lookup=True))
        value = r.lookup_value
        if r.lookup is not None and value is not None and not r.lookup.is_unique((value.name,)):
            self.add(
                row,
                "lookup_value",
                f"lookup table {r.lookup.name} has no UNIQUE constraint or index on column "
                f"{value.name!r}: every window must also check that each value has only one "
                "row (an extra query), and a value with several rows stops the sync",
                f"make it unique on green: CREATE UNIQUE INDEX ... ON {r.lookup.name} "
                f"({value.name}), after removing any duplicate values",
                "warning",
            )

    def _table(self, schema: Schema, row: MappingRow, f: str, side: str) -> Table | None:
        text = getattr(row, f)
        try:
            return schema.table(text)
        except SchemaError as exc:
            self.add(row, f, f"unknown {side} table {text!r}", exc.fix or "check the table's name")
            return None

    def _column(
        self, table: Table, row: MappingRow, f: str, name: str, side: str, lookup: bool = False
    ) -> Column | None:
        try:
            return table.column(name)
        except SchemaError as exc:
            if lookup:
                message = f"lookup table {table.name} has no column {name!r}"
            else:
                message = f"unknown {side} column {name!r} in {side} table {table.name}"
            self.add(row, f, message, exc.fix or "check the column's name")
            return None

    # ---- type checks ------------------------------------------------------------------------
    def check_green_type(self, row: MappingRow | None, gcol: Column, table: Table) -> None:
        """A green type typed into the row must be the green column's real type."""
        if row is None or row.green_type is None:
            return
        if not self.gtype(row.green_type).same_as(self.gtype(gcol.type)):
            self.add(
                row,
                "green_type",
                f"the workbook says green type {row.green_type!r} but green column "
                f"{table.name}.{gcol.name} is {gcol.type}",
                f"write {gcol.type!r} (or leave the cell empty), or alter green's column first",
            )

    def check_copy(
        self,
        row: MappingRow | None,
        bcol: Column,
        gcol: Column,
        blue: Table,
        green: Table,
        casts: bool,
    ) -> tuple[bool, str | None]:
        """May ``bcol``'s values go into ``gcol``? Returns (ok, green type to cast to)."""
        src, dst = self.btype(bcol), self.gtype(gcol.type)
        check = compare(src, dst)
        what = f"blue {blue.name}.{bcol.name} ({bcol.type}) -> green {green.name}.{gcol.name} "
        what += f"({gcol.type})"
        cell = "green_type" if row is not None and row.green_type else "green_column"
        if check.verdict == "same":
            return True, None
        if check.verdict == "widens":
            return True, (gcol.type if src.family != dst.family else None)
        if check.verdict == "unchecked":
            self.add(
                row,
                cell,
                f"{what}: bluegreen cannot check this cast (unknown type); green's database "
                "converts the value",
                "make sure every blue value fits green's column",
                "warning",
            )
            return True, (gcol.type if casts else None)
        if check.verdict == "converts":
            if casts:
                return True, gcol.type
            self.add(
                row,
                "operation" if row is not None else None,
                f"{what}: the types differ and a rename does not convert values ({check.reason})",
                "set the operation to T (type change) so each value is cast, or give green's "
                "column blue's type",
            )
            return False, None
        kind = "narrows" if check.verdict == "narrows" else "cannot work"
        self.add(
            row,
            cell,
            f"{what}: the cast {kind} ({check.reason})",
            f"give green's column a type that holds every {bcol.type} value, or map the column "
            "to another green column",
        )
        return False, None

    # ---- step 2: per blue table --------------------------------------------------------------
    def compile_table(self, blue: Table, rows: list[_Row], planned: bool) -> Source | None:
        mapped = [r for r in rows if r.op is not None]
        explicit: dict[TableName, tuple[Table, list[_Row]]] = {}
        for r in mapped:
            if r.op in (Operation.RENAME, Operation.TYPE, Operation.LOOKUP) and r.gtable:
                explicit.setdefault(r.gtable.name, (r.gtable, []))[1].append(r)
        if len(explicit) > 1:
            names = ", ".join(str(n) for n in sorted(explicit))
            for _, group in explicit.values():
                for r in group:
                    self.add(
                        r.row,
                        "green_table",
                        f"rows of blue table {blue.name} write to several green tables "
                        f"({names}); N, T and L rows must all name its one main green table",
                        "name one green table on every N, T and L row of this blue table; move "
                        "columns to a second table with operation S",
                    )
            return None
        if explicit:
            main = next(iter(explicit.values()))[0]
        else:
            main = self.green.find(blue.name) or self.green.find(blue.name.name)
        if main is None:
            if any(not r.gtable_error for r in mapped):
                first = mapped[0].row
                self.add(
                    first,
                    "green_table",
                    f"blue table {blue.name} has no green table of the same name and no N, T or "
                    "L row names one",
                    "write its green table in the green table column of its rows",
                )
            elif not mapped:
                self.add(
                    None,
                    None,
                    f"blue table {blue.name} has no green table of the same name and no row maps "
                    "it: it is not synced",
                    f"create {blue.name} in green, or map it in the workbook",
                    "warning",
                )
                if planned:
                    return _SKIPPED
            return None
        if not main.primary_key:
            self.add(
                mapped[0].row if mapped else None,
                "green_table" if mapped else None,
                f"green table {main.name} has no primary key",
                f"add a primary key to green's {main.name} (the one blue's key maps to)",
            )
            return None
        self.claims.setdefault(main.name, []).append((blue, mapped[0].row if mapped else None))

        splits: dict[TableName, tuple[Table, list[_Row]]] = {}
        for r in mapped:
            if r.op is Operation.SPLIT and r.gtable is not None:
                splits.setdefault(r.gtable.name, (r.gtable, []))[1].append(r)

        ok = True
        main_sources: list[ColumnSource] = []
        green_name_of: dict[str, str] = {}  # blue pk column -> its green name in main
        by_bcol: dict[str, list[_Row]] = {}
        for r in rows:
            if r.bcol is not None:
                by_bcol.setdefault(r.bcol.name, []).append(r)
        pk = set(blue.primary_key)
        for bcol in blue.writable_columns:
            crow = [r for r in by_bcol.get(bcol.name, []) if r.op is not None]
            if not crow:
                listed = by_bcol.get(bcol.name, [])
                if any(r.row.row in self.mapping.unreadable for r in listed):
                    ok = False  # its row's unreadable cell is the finding; do not guess
                    continue
                placeholder = next((r.row for r in listed), None)
                ok &= self._identity(blue, bcol, main, placeholder, main_sources, green_name_of)
                continue
            for r in crow:
                if r.op is Operation.SPLIT:
                    if bcol.name in pk:
                        self.add(
                            r.row,
                            "operation",
                            f"blue column {blue.name}.{bcol.name} is part of the primary key; "
                            "the key goes to every split table by itself",
                            "remove the S row of the key column",
                        )
                        ok = False
                    continue
                if r.op is Operation.VERSION:
                    continue
                ok &= self._column_row(r, blue, bcol, main, main_sources, green_name_of)
        for r in mapped:
            if r.op is Operation.VERSION and r.gtable is None and not r.gtable_error:
                ok &= self._version_row(r, blue, main, main_sources, into_main=True)
            elif r.op is Operation.VERSION and r.gtable is not None:
                if r.gtable.name == main.name:
                    ok &= self._version_row(r, blue, main, main_sources, into_main=True)
                elif r.gtable.name not in splits:
                    self.add(
                        r.row,
                        "green_table",
                        f"V row writes to green table {r.gtable.name}, which is neither blue "
                        f"{blue.name}'s main green table ({main.name}) nor one of its split tables",
                        f"write {main.name} (or a table named on an S row of {blue.name})",
                    )
                    ok = False
        ok &= self._check_key(blue, main, green_name_of, rows)
        targets = [(main, tuple(main_sources))]
        for split, srows in splits.values():
            built = self._split(blue, main, split, srows, green_name_of, mapped)
            if built is None:
                ok = False
            else:
                targets.append((split, built))
        if not ok:
            return None
        for t, srcs in targets:
            self._warn_unwritten(t, srcs, blue)
        if not planned:
            return None
        built_targets = tuple(
            Target(index=-1, green=t, sources=srcs, key=t.primary_key) for t, srcs in targets
        )
        return Source(blue=blue, targets=built_targets)

    def _identity(
        self,
        blue: Table,
        bcol: Column,
        main: Table,
        placeholder: MappingRow | None,
        out: list[ColumnSource],
        green_name_of: dict[str, str],
    ) -> bool:
        if not main.has_column(bcol.name):
            self.add(
                placeholder,
                "green_column" if placeholder else None,
                f"blue column {blue.name}.{bcol.name} has no column of the same name in green "
                f"table {main.name} and no row maps it",
                f"add {bcol.name!r} to green's {main.name}, or map it with a row "
                "(N rename, T type change, S split, L lookup)",
            )
            return False
        gcol = main.column(bcol.name)
        if gcol.generated:
            return True
        ok, cast = self.check_copy(placeholder, bcol, gcol, blue, main, casts=False)
        self.writes.add(main, gcol.name, None, f"blue column {bcol.name} (same name)")
        green_name_of[bcol.name] = gcol.name
        out.append(ColumnSource(green=gcol.name, blue=bcol.name, cast=cast))
        return ok

    def _target_column(self, r: _Row, table: Table, default: str | None) -> Column | None:
        name = r.row.green_column or default
        if name is None:
            self.add(
                r.row,
                "green_column",
                "the green column is empty",
                "write the green column's name",
            )
            return None
        gcol = self._column(table, r.row, "green_column", name, "green")
        if gcol is None:
            return None
        if gcol.generated:
            self.add(
                r.row,
                "green_column",
                f"green column {table.name}.{gcol.name} is computed by green's engine and "
                "cannot be written",
                "map the blue column to another green column",
            )
            return None
        self.check_green_type(r.row, gcol, table)
        return gcol

    def _column_row(
        self,
        r: _Row,
        blue: Table,
        bcol: Column,
        main: Table,
        out: list[ColumnSource],
        green_name_of: dict[str, str],
    ) -> bool:
        if r.gtable_error:
            return False
        gcol = self._target_column(r, main, bcol.name)
        if gcol is None:
            return False
        origin = self.origin(r.row)
        self.writes.add(main, gcol.name, r.row, f"row {r.row.row}")
        if r.op is Operation.LOOKUP:
            return self._lookup(r, blue, bcol, main, gcol, out)
        ok, cast = self.check_copy(r.row, bcol, gcol, blue, main, casts=r.op is Operation.TYPE)
        if r.op is Operation.TYPE and cast is None and ok:
            cast = gcol.type  # an explicit T always casts (and checks) the value
        if bcol.name in blue.primary_key:
            green_name_of[bcol.name] = gcol.name
        out.append(ColumnSource(green=gcol.name, blue=bcol.name, cast=cast, origin=origin))
        return ok

    def _lookup(
        self,
        r: _Row,
        blue: Table,
        bcol: Column,
        main: Table,
        gcol: Column,
        out: list[ColumnSource],
    ) -> bool:
        row = r.row
        ok = True
        if bcol.name in blue.primary_key:
            self.add(
                row,
                "operation",
                f"blue column {blue.name}.{bcol.name} is part of the primary key and cannot be "
                "replaced by a lookup key",
                "map the key column with N or T",
            )
            ok = False
        if r.lookup is None or r.lookup_key is None or r.lookup_value is None:
            return False
        lk, lv = r.lookup_key, r.lookup_value
        if not comparable(self.btype(bcol), self.gtype(lv.type)):
            self.add(
                row,
                "lookup_value",
                f"blue values of {blue.name}.{bcol.name} ({bcol.type}) cannot be matched with "
                f"lookup column {r.lookup.name}.{lv.name} ({lv.type}): the types differ",
                "pick a lookup value column of the blue column's type",
            )
            ok = False
        check = compare(self.gtype(lk.type), self.gtype(gcol.type))
        if not check.ok and check.verdict != "unchecked":
            self.add(
                row,
                "green_column",
                f"lookup key {r.lookup.name}.{lk.name} ({lk.type}) does not fit green column "
                f"{main.name}.{gcol.name} ({gcol.type}): {check.reason}",
                "give the green column the lookup key's type",
            )
            ok = False
        policy = row.on_missing or "error"
        if policy == "null" and not gcol.nullable:
            self.add(
                row,
                "on_missing",
                f"on missing 'null' leaves green column {main.name}.{gcol.name} NULL, but it is "
                "NOT NULL",
                "use 'error' or 'insert', or make the green column nullable",
            )
            ok = False
        if policy == "insert":
            auto = lk.identity or (
                r.lookup.primary_key == (lk.name,) and self.gtype(lk.type).family == "int"
            )
            if not auto:
                self.add(
                    row,
                    "lookup_key",
                    f"on missing 'insert' adds rows to {r.lookup.name} without a key, but "
                    f"{r.lookup.name}.{lk.name} is not assigned by green's engine",
                    "make the key an identity (or SQLite INTEGER PRIMARY KEY) column",
                    "warning",
                )
            others = [
                c.name
                for c in r.lookup.columns
                if not c.nullable
                and not c.identity
                and not c.generated
                and c.name not in (lk.name, lv.name)
                and c.name not in r.lookup.primary_key
            ]
            if others:
                self.add(
                    row,
                    "lookup_table",
                    f"on missing 'insert' writes only {lv.name} of {r.lookup.name}; its NOT NULL "
                    f"columns {', '.join(others)} need defaults",
                    "give those columns defaults, or use on missing 'error'",
                    "warning",
                )
        if not ok:
            return False
        spec = Lookup(
            table=r.lookup,
            key=lk.name,
            value=lv.name,
            stage_column=LOOKUP_STAGE.format(len(out)),
            on_missing=policy,
        )
        out.append(
            ColumnSource(green=gcol.name, blue=bcol.name, lookup=spec, origin=self.origin(row))
        )
        return True

    def _version_row(
        self, r: _Row, blue: Table, table: Table, out: list[ColumnSource], into_main: bool
    ) -> bool:
        if r.row.green_column is None:
            self.add(
                r.row,
                "green_column",
                "a version (V) row needs the green column the version goes into",
                "write the name of a BIGINT column of the green table",
            )
            return False
        gcol = self._target_column(r, table, None)
        if gcol is None:
            return False
        if gcol.name in table.primary_key:
            self.add(
                r.row,
                "green_column",
                f"green column {table.name}.{gcol.name} is part of the primary key; the version "
                "changes with every change",
                "write the version into a column outside the key",
            )
            return False
        t = self.gtype(gcol.type)
        big = SqlType("int", "bigint", bits=64)
        check = compare(big, t)
        if not check.ok:
            severity: Severity = "warning" if check.verdict == "unchecked" else "error"
            self.add(
                r.row,
                "green_column",
                f"the change version is a 64-bit integer; green column {table.name}.{gcol.name} "
                f"({gcol.type}) {'may not hold it' if severity == 'warning' else 'narrows it'}",
                "make the column BIGINT",
                severity,
            )
            if severity == "error":
                return False
        self.writes.add(table, gcol.name, r.row, f"row {r.row.row}")
        out.append(ColumnSource(green=gcol.name, version=True, origin=self.origin(r.row)))
        return True

    def _check_key(
        self, blue: Table, main: Table, green_name_of: dict[str, str], rows: list[_Row]
    ) -> bool:
        if not blue.primary_key:
            self.add(
                None,
                None,
                f"blue table {blue.name} has no primary key",
                f"add a primary key to {blue.name} (change tracking needs one)",
            )
            return False
        mapped = [green_name_of.get(k) for k in blue.primary_key]
        if None in mapped:
            return False  # the key column's own row already has a finding
        want = {k.lower() for k in main.primary_key}
        if {m.lower() for m in mapped if m} != want:
            row = next(
                (r.row for r in rows if r.bcol is not None and r.bcol.name in blue.primary_key),
                None,
            )
            self.add(
                row,
                "green_column" if row else None,
                f"blue table {blue.name}'s primary key ({', '.join(blue.primary_key)}) maps to "
                f"green columns ({', '.join(m or '?' for m in mapped)}), but green table "
                f"{main.name}'s primary key is ({', '.join(main.primary_key)})",
                "map each blue key column onto green's key columns, or give both tables the "
                "same key",
            )
            return False
        return True

    def _split(
        self,
        blue: Table,
        main: Table,
        split: Table,
        srows: list[_Row],
        green_name_of: dict[str, str],
        mapped: list[_Row],
    ) -> tuple[ColumnSource, ...] | None:
        first = srows[0].row
        if split.name == main.name:
            for r in srows:
                self.add(
                    r.row,
                    "green_table",
                    f"S moves a column to a second green table, but {split.name} is blue "
                    f"{blue.name}'s main green table",
                    "use N (or T) for columns of the main table",
                )
            return None
        self.claims.setdefault(split.name, []).append((blue, first))
        ok = True
        sources: list[ColumnSource] = []
        found: list[str] = []
        for k in blue.primary_key:
            names = [k] + ([green_name_of[k]] if k in green_name_of else [])
            col = next(
                (c for n in reversed(names) for c in split.columns if c.name.lower() == n.lower()),
                None,
            )
            if col is None:
                looked = " or ".join(repr(n) for n in dict.fromkeys(names))
                self.add(
                    first,
                    "green_table",
                    f"split target {split.name} has no column for blue {blue.name}'s primary key "
                    f"column {k!r} (looked for {looked})",
                    f"add the key column to green's {split.name} as its primary key",
                )
                ok = False
                continue
            found.append(col.name)
            # a key cast with T into the main table is cast the same way into the split table
            typed = any(
                r.op is Operation.TYPE and r.bcol is not None and r.bcol.name == k for r in mapped
            )
            good, cast = self.check_copy(None, blue.column(k), col, blue, split, casts=typed)
            ok &= good
            self.writes.add(split, col.name, None, f"blue key column {k}")
            sources.append(ColumnSource(green=col.name, blue=k, cast=cast))
        if ok and {c.lower() for c in found} != {c.lower() for c in split.primary_key}:
            self.add(
                first,
                "green_table",
                f"split target {split.name} must be keyed by blue {blue.name}'s primary key "
                f"({', '.join(found)}), but its primary key is "
                f"({', '.join(split.primary_key) or 'none'})",
                f"make ({', '.join(found)}) the primary key of green's {split.name}",
            )
            ok = False
        for r in srows:
            if r.bcol is None or r.bcol.name in blue.primary_key:
                ok = False
                continue
            gcol = self._target_column(r, split, r.bcol.name)
            if gcol is None:
                ok = False
                continue
            self.writes.add(split, gcol.name, r.row, f"row {r.row.row}")
            good, cast = self.check_copy(r.row, r.bcol, gcol, blue, split, casts=True)
            ok &= good
            sources.append(
                ColumnSource(
                    green=gcol.name, blue=r.bcol.name, cast=cast, origin=self.origin(r.row)
                )
            )
        for r in mapped:
            if r.op is Operation.VERSION and r.gtable is not None and r.gtable.name == split.name:
                ok &= self._version_row(r, blue, split, sources, into_main=False)
        return tuple(sources) if ok else None

    def _warn_unwritten(self, table: Table, sources: Sequence[ColumnSource], blue: Table) -> None:
        written = {s.green.lower() for s in sources}
        missing = [
            c.name
            for c in table.columns
            if not c.nullable
            and not c.identity
            and not c.generated
            and c.name.lower() not in written
        ]
        if missing:
            self.add(
                None,
                None,
                f"green table {table.name} (from blue {blue.name}) has NOT NULL column(s) "
                f"{', '.join(missing)} that nothing writes: inserts fail unless they have defaults",
                "map a blue column (or a V row) to them, or give them defaults",
                "warning",
            )

    # ---- step 3: across tables ----------------------------------------------------------------
    def check_collisions(self) -> None:
        for (table, column), writers in self.writes.by_column.items():
            if len(writers) < 2:
                continue
            who = ", ".join(w for _, w in writers)
            rows = [r for r, _ in writers if r is not None] or [None]
            for r in rows:
                self.add(
                    r,
                    "green_column" if r else None,
                    f"green column {table}.{column} is written more than once ({who})",
                    "keep one row per green column; map the other blue column elsewhere",
                )
        for table, claims in self.claims.items():
            blues = {str(b.name) for b, _ in claims}
            if len(blues) < 2:
                continue
            for _, r in claims:
                self.add(
                    r,
                    "green_table" if r else None,
                    f"green table {table} is fed by several blue tables "
                    f"({', '.join(sorted(blues))})",
                    "map each blue table to its own green table",
                )


_SKIPPED = Source(blue=Table(TableName(None, "<skipped>"), (), ()), targets=())


def compile_mapping(
    mapping: Mapping,
    blue: Schema,
    green: Schema,
    *,
    tracked: Sequence[TableName] | None = None,
    tables: Sequence[str] | None = None,
    blue_meanings: MappingType[str, str] | None = None,
    green_meanings: MappingType[str, str] | None = None,
) -> Compiled:
    """Lint ``mapping`` against both schemas and build the plan's sources.

    ``tracked``: the blue tables change tracking covers (None: every blue table); ``tables``:
    only these blue tables are planned (every row is still checked)."""
    c = _Compiler(mapping, blue, green, blue_meanings, green_meanings)
    resolved = [c.resolve_row(r) for r in mapping.rows]
    by_table: dict[TableName, list[_Row]] = {}
    for r in resolved:
        if r.blue is not None:
            by_table.setdefault(r.blue.name, []).append(r)
    tracked_set = set(tracked) if tracked is not None else set(blue.tables)
    chosen: set[TableName] = set(tracked_set) & set(blue.tables)
    if tables:
        picked = set()
        for text in tables:
            found = blue.find(text)
            if found is None:
                blue.table(text)  # raises a SchemaError naming the closest tables
            assert found is not None
            picked.add(found.name)
        chosen = picked
    for name, rows in by_table.items():
        if name not in tracked_set and any(r.op is not None for r in rows):
            c.add(
                rows[0].row,
                "blue_table",
                f"blue table {name} is not tracked: its rows have no effect",
                f"run `bluegreen tracking enable --db <blue url> --table {name}`",
                "warning",
            )
    out = Compiled()
    for name in sorted(set(by_table) | chosen):
        source = c.compile_table(blue.tables[name], by_table.get(name, []), name in chosen)
        if source is _SKIPPED:
            out.skipped.append(f"{name} (green has no such table)")
        elif source is not None:
            out.sources.append(source)
    c.check_collisions()
    out.findings = c.findings
    index = 0
    numbered = []
    for s in out.sources:
        targets = []
        for t in s.targets:
            targets.append(Target(index=index, green=t.green, sources=t.sources, key=t.key))
            index += 1
        numbered.append(Source(blue=s.blue, targets=tuple(targets)))
    out.sources = numbered
    return out
