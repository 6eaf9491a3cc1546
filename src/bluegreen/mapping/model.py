"""The mapping workbook as pydantic models: rows, findings, and the error that lists them.

A row is kept as typed (names stripped, the operation and policy normalized); names are resolved
against the two introspected schemas by the linter (:mod:`bluegreen.mapping.compile`), never here,
so the loader can report every problem of a workbook at once instead of stopping at the first.
"""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bluegreen.errors import ConfigError

SHEET = "mapping"
README_SHEET = "readme"
LISTS_SHEET = "lists"


class Operation(StrEnum):
    """What a row does to its blue column (see mappings/README.md)."""

    RENAME = "N"
    VERSION = "V"
    TYPE = "T"
    SPLIT = "S"
    LOOKUP = "L"


_OPERATION_WORDS = {
    "n": "N",
    "rename": "N",
    "v": "V",
    "version": "V",
    "t": "T",
    "type": "T",
    "cast": "T",
    "s": "S",
    "split": "S",
    "l": "L",
    "lookup": "L",
}

OnMissing = Literal["error", "insert", "null"]

# field -> header text, in the order the template writes them
HEADERS: dict[str, str] = {
    "blue_table": "blue table",
    "blue_column": "blue column",
    "operation": "operation",
    "green_table": "green table",
    "green_column": "green column",
    "green_type": "green type",
    "lookup_table": "lookup table",
    "lookup_key": "lookup key column",
    "lookup_value": "lookup value column",
    "on_missing": "on missing",
    "notes": "notes",
}
REQUIRED_HEADERS = ("blue_table", "blue_column", "operation", "green_table", "green_column")
# other spellings a hand-made sheet may use (compared lower-case, punctuation as spaces)
HEADER_ALIASES: dict[str, str] = {
    **{v: k for k, v in HEADERS.items()},
    "op": "operation",
    "lookup key": "lookup_key",
    "lookup value": "lookup_value",
    "on missing policy": "on_missing",
    "missing": "on_missing",
    "note": "notes",
}


def column_letter(index: int) -> str:
    """1 -> A, 27 -> AA."""
    out = ""
    while index > 0:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out


class Finding(BaseModel):
    """One problem of a workbook: where it is (sheet, row, column), what is wrong, the fix."""

    model_config = ConfigDict(frozen=True)

    severity: Literal["error", "warning"] = "error"
    sheet: str = SHEET
    row: int | None = None  # the Excel row number; None: no row (a column nothing maps)
    column: str | None = None  # the header of the cell's column
    letter: str | None = None  # the cell's column letter
    message: str
    fix: str

    @property
    def where(self) -> str:
        """``mapping!C7 (operation)``, ``mapping row 7``, or ``mapping (no row)``."""
        if self.row is None:
            return f"sheet {self.sheet!r} (no row)"
        if self.letter:
            return f"sheet {self.sheet!r} cell {self.letter}{self.row} ({self.column})"
        if self.column:
            return f"sheet {self.sheet!r} row {self.row} ({self.column})"
        return f"sheet {self.sheet!r} row {self.row}"

    def line(self) -> str:
        return f"{self.severity}: {self.where}: {self.message}; fix: {self.fix}"


class MappingRow(BaseModel):
    """One row of the mapping sheet, as typed (blank cells are None)."""

    model_config = ConfigDict(frozen=True)

    sheet: str = SHEET
    row: int = 0
    blue_table: str | None = None
    blue_column: str | None = None
    operation: Operation | None = None
    green_table: str | None = None
    green_column: str | None = None
    green_type: str | None = None
    lookup_table: str | None = None
    lookup_key: str | None = None
    lookup_value: str | None = None
    on_missing: OnMissing | None = None
    notes: str | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip()
            return value or None
        return value

    @field_validator("operation", mode="before")
    @classmethod
    def _operation(cls, value: object) -> object:
        if isinstance(value, str):
            return _OPERATION_WORDS.get(value.strip().lower(), value)
        return value

    @field_validator("on_missing", mode="before")
    @classmethod
    def _on_missing(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @property
    def placeholder(self) -> bool:
        """A row without an operation: listed (by the template) but not mapped yet."""
        return self.operation is None

    def content(self) -> tuple[str | None, ...]:
        """The row's cells, without its position (what a round trip must keep)."""
        return tuple(
            (v.value if isinstance(v, Operation) else v)
            for v in (getattr(self, f) for f in HEADERS)
        )

    def normalized(self) -> list[str | None]:
        """What the mapping *does*: the cells that change behaviour, notes left out."""
        op = self.operation.value if self.operation else None
        on_missing = self.on_missing
        if self.operation is Operation.LOOKUP and on_missing is None:
            on_missing = "error"
        return [
            self.blue_table,
            self.blue_column,
            op,
            self.green_table,
            self.green_column,
            self.green_type,
            self.lookup_table,
            self.lookup_key,
            self.lookup_value,
            on_missing,
        ]


class Mapping(BaseModel):
    """A loaded workbook: its rows, the problems found while reading it, and its hashes."""

    model_config = ConfigDict(frozen=True)

    source: str = "<memory>"
    rows: tuple[MappingRow, ...] = ()
    findings: tuple[Finding, ...] = ()  # problems found while reading (sheet, headers, cells)
    letters: dict[str, str] = Field(default_factory=dict)  # field -> column letter
    unreadable: tuple[int, ...] = ()  # rows with a cell the loader could not read (a finding)
    content_hash: str = ""  # sha256 of the file's bytes (what the sync watches)

    def letter(self, field: str) -> str | None:
        """The column letter of ``field`` in the sheet it was read from (None: no such column);
        a mapping built in memory uses the template's column order."""
        if self.letters:
            return self.letters.get(field)
        if field in HEADERS:
            return column_letter(list(HEADERS).index(field) + 1)
        return None

    @property
    def mapped(self) -> tuple[MappingRow, ...]:
        """Rows that do something (placeholders left out)."""
        return tuple(r for r in self.rows if not r.placeholder)

    @property
    def fingerprint(self) -> str:
        """Hash of the normalized rows: the same whatever the row order, notes or file bytes."""
        doc = sorted(json.dumps(r.normalized()) for r in self.mapped)
        return hashlib.sha256(json.dumps(doc).encode()).hexdigest()[:16]


class MappingError(ConfigError):
    """A workbook the sync cannot use; ``findings`` holds every problem, each with its place."""

    def __init__(self, source: str, findings: list[Finding]) -> None:
        errors = [f for f in findings if f.severity == "error"]
        lines = "\n".join(f"  - {f.line()}" for f in errors)
        super().__init__(
            f"mapping workbook {source} has {len(errors)} problem(s); nothing was applied:"
            f"\n{lines}",
            fix=(
                "correct the cells named above (`bluegreen mapping check` lists them again), "
                "then run the sync again"
            ),
        )
        self.source = source
        self.findings = findings
