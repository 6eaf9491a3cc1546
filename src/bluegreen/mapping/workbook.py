"""Reading and writing mapping workbooks with openpyxl.

Reading never stops at the first problem: a missing sheet or header, and every cell pydantic
refuses (an unknown operation or on-missing policy), becomes a :class:`Finding` with its sheet,
row and column, and the linter adds what it finds against the live schemas.

Writing produces the sheet the loader reads (header row, one row per mapped column), drop-down
lists (data validation) for operations, policies and table names, a hidden ``lists`` sheet that
feeds the table drop-downs, and a ``readme`` sheet. A workbook written here loads back unchanged.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterable
from pathlib import Path

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation
from pydantic import ValidationError

from bluegreen.errors import ConfigError
from bluegreen.mapping.model import (
    HEADER_ALIASES,
    HEADERS,
    LISTS_SHEET,
    README_SHEET,
    REQUIRED_HEADERS,
    SHEET,
    Finding,
    Mapping,
    MappingRow,
    Operation,
    column_letter,
)
from bluegreen.schema import Schema

# Rows below the last written one that still get the drop-down lists (room to add rows).
SPARE_ROWS = 200

README_LINES = (
    "bluegreen mapping workbook",
    "",
    "Green's schema may differ from blue's; the sheet 'mapping' says how, one row per column.",
    "Columns and tables that no row names keep their names (the identity mapping).",
    "",
    "Columns of the sheet 'mapping':",
    "  blue table, blue column  the source (schema.table where the engine has schemas)",
    "  operation                N rename | V version column | T type change (cast) |",
    "                           S split into a second green table | L lookup",
    "                           (blank: not mapped yet; the column keeps its name)",
    "  green table, green column  the destination (blank green table: the main one)",
    "  green type               the green column's type (checked against green's schema)",
    "  lookup table / key column / value column   L only: the green table searched by value",
    "  on missing               L only: error (default) | insert | null",
    "  notes                    free text",
    "",
    "N  write the blue column into a green column of another name.",
    "V  write the change-tracking version of each change into a green column (no blue column).",
    "T  cast the value to the green column's type; a value that does not convert stops the",
    "   window (nothing is applied) and the error names the row's key, the column and the value.",
    "S  move the column into a second green table keyed by the same primary key; inserts,",
    "   updates and deletes reach that table too.",
    "L  write the key of the lookup table's row whose value column equals the blue value.",
    "",
    "Check a workbook with:  bluegreen mapping check --blue <url> --green <url> <workbook>",
    "The full format, with examples and every finding: mappings/README.md in the repository.",
)


def file_hash(data: bytes) -> str:
    """The content hash the sync compares between windows to notice an edited workbook."""
    return hashlib.sha256(data).hexdigest()


def _header_key(text: object) -> str | None:
    if text is None:
        return None
    words = re.sub(r"[^a-z0-9]+", " ", str(text).lower()).strip()
    return HEADER_ALIASES.get(words)


def _cell_text(value: object) -> str | None:
    """A cell as text: numbers typed into a name cell become their digits, blanks None."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def read_mapping(data: bytes, source: str = "<memory>") -> Mapping:
    """Parse workbook bytes; problems become findings, never exceptions (except unreadable)."""
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:
        raise ConfigError(
            f"cannot read mapping workbook {source}: {exc}",
            fix="save it as an Excel workbook (.xlsx) and try again",
        ) from exc
    try:
        return _read(wb, data, source)
    finally:
        wb.close()


def load_mapping(path: str | Path) -> Mapping:
    """Read the workbook at ``path`` (see :func:`read_mapping`)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"cannot open mapping workbook {p}: {exc.strerror or exc}",
            fix="check the --mapping path (write one with `bluegreen mapping template`)",
        ) from exc
    return read_mapping(data, str(p))


def _read(wb: Workbook, data: bytes, source: str) -> Mapping:
    findings: list[Finding] = []
    digest = file_hash(data)
    sheet_name = next((n for n in wb.sheetnames if n.strip().lower() == SHEET), None)
    if sheet_name is None:
        findings.append(
            Finding(
                sheet=wb.sheetnames[0] if wb.sheetnames else SHEET,
                message=f"the workbook has no sheet named {SHEET!r} "
                f"(it has: {', '.join(repr(n) for n in wb.sheetnames)})",
                fix=f"name the sheet that lists the columns {SHEET!r}, or start from "
                "`bluegreen mapping template`",
            )
        )
        return Mapping(source=source, findings=tuple(findings), content_hash=digest)
    ws = wb[sheet_name]
    rows = ws.iter_rows(values_only=True)
    header = next(rows, None) or ()
    positions: dict[str, int] = {}
    for i, text in enumerate(header):
        key = _header_key(text)
        if text is None:
            continue
        if key is None:
            findings.append(
                Finding(
                    severity="warning",
                    sheet=sheet_name,
                    row=1,
                    column=str(text),
                    letter=column_letter(i + 1),
                    message=f"unknown column header {str(text)!r}: the column is ignored",
                    fix=f"use one of: {', '.join(HEADERS.values())}",
                )
            )
        elif key in positions:
            findings.append(
                Finding(
                    sheet=sheet_name,
                    row=1,
                    column=str(text),
                    letter=column_letter(i + 1),
                    message=f"header {HEADERS[key]!r} appears twice "
                    f"(also in column {column_letter(positions[key] + 1)})",
                    fix="delete or rename one of the two columns",
                )
            )
        else:
            positions[key] = i
    for key in REQUIRED_HEADERS:
        if key not in positions:
            findings.append(
                Finding(
                    sheet=sheet_name,
                    row=1,
                    column=HEADERS[key],
                    message=f"the header row has no {HEADERS[key]!r} column",
                    fix=f"add a column headed {HEADERS[key]!r} in row 1 "
                    "(the template has every column)",
                )
            )
    if any(k not in positions for k in REQUIRED_HEADERS):
        return Mapping(source=source, findings=tuple(findings), content_hash=digest)
    letters = {k: column_letter(i + 1) for k, i in positions.items()}
    out: list[MappingRow] = []
    unreadable: list[int] = []
    for number, values in enumerate(rows, start=2):
        cells = {
            k: _cell_text(values[i]) if i < len(values) else None for k, i in positions.items()
        }
        if not any(cells.values()):
            continue
        try:
            out.append(MappingRow(sheet=sheet_name, row=number, **cells))
        except ValidationError as exc:
            bad: set[str] = set()
            for err in exc.errors():
                field = str(err["loc"][0]) if err["loc"] else ""
                bad.add(field)
                findings.append(_cell_finding(sheet_name, number, field, letters, cells))
            # keep the row's other cells so the linter can still check them
            unreadable.append(number)
            clean = {k: v for k, v in cells.items() if k not in bad}
            out.append(MappingRow(sheet=sheet_name, row=number, **clean))
    return Mapping(
        source=source,
        rows=tuple(out),
        findings=tuple(findings),
        letters=letters,
        unreadable=tuple(unreadable),
        content_hash=digest,
    )


def _cell_finding(
    sheet: str, row: int, field: str, letters: dict[str, str], cells: dict[str, str | None]
) -> Finding:
    value = cells.get(field)
    if field == "operation":
        message = f"unknown operation {value!r}"
        fix = "write one of N (rename), V (version), T (type change), S (split), L (lookup)"
    elif field == "on_missing":
        message = f"unknown on-missing policy {value!r}"
        fix = "write error (the default), insert or null"
    else:
        message = f"cannot read {value!r}"
        fix = "write plain text"
    return Finding(
        sheet=sheet,
        row=row,
        column=HEADERS.get(field, field),
        letter=letters.get(field),
        message=message,
        fix=fix,
    )


# ---- writing ------------------------------------------------------------------------------------
def write_mapping(
    mapping: Mapping | Iterable[MappingRow],
    path: str | Path,
    blue: Schema | None = None,
    green: Schema | None = None,
) -> Path:
    """Write ``mapping``'s rows as a workbook; the schemas feed the table drop-down lists."""
    rows = list(mapping.rows if isinstance(mapping, Mapping) else mapping)
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    fields = list(HEADERS)
    ws.append([HEADERS[f] for f in fields])
    bold = Font(bold=True, color="FFFFFF")
    fill = PatternFill("solid", fgColor="1F4E78")
    for cell in ws[1]:
        cell.font = bold
        cell.fill = fill
        cell.alignment = Alignment(horizontal="left")
    for r in rows:
        ws.append(list(r.content()))
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{column_letter(len(fields))}{max(len(rows) + 1, 2)}"
    widths = {"notes": 60, "green_type": 18, "on_missing": 12, "operation": 11}
    for i, f in enumerate(fields, start=1):
        ws.column_dimensions[column_letter(i)].width = widths.get(f, 24)

    blue_tables = sorted(str(n) for n in blue.tables) if blue else []
    green_tables = sorted(str(n) for n in green.tables) if green else []
    lists = wb.create_sheet(LISTS_SHEET)
    lists.append(["blue tables", "green tables", "operations", "on missing"])
    ops = [o.value for o in Operation]
    policies = ["error", "insert", "null"]
    for i in range(max(len(blue_tables), len(green_tables), len(ops), len(policies))):
        lists.append(
            [
                blue_tables[i] if i < len(blue_tables) else None,
                green_tables[i] if i < len(green_tables) else None,
                ops[i] if i < len(ops) else None,
                policies[i] if i < len(policies) else None,
            ]
        )
    lists.sheet_state = "hidden"

    last = len(rows) + 1 + SPARE_ROWS

    def col(field: str) -> str:
        letter = column_letter(fields.index(field) + 1)
        return f"{letter}2:{letter}{last}"

    def add_list(formula: str, field: str, prompt: str, strict: bool = True) -> None:
        dv = DataValidation(
            type="list",
            formula1=formula,
            allow_blank=True,
            showErrorMessage=strict,
            errorTitle=HEADERS[field],
            error=prompt,
            promptTitle=HEADERS[field],
            prompt=prompt,
            showInputMessage=True,
        )
        ws.add_data_validation(dv)
        dv.add(col(field))

    add_list(f'"{",".join(ops)}"', "operation", "N rename, V version, T type, S split, L lookup")
    add_list(f'"{",".join(policies)}"', "on_missing", "L only: error (default), insert or null")
    if blue_tables:
        add_list(f"={LISTS_SHEET}!$A$2:$A${len(blue_tables) + 1}", "blue_table", "a table of blue")
    if green_tables:
        green_range = f"={LISTS_SHEET}!$B$2:$B${len(green_tables) + 1}"
        add_list(green_range, "green_table", "a table of green")
        add_list(green_range, "lookup_table", "L only: a table of green")

    readme = wb.create_sheet(README_SHEET)
    readme.column_dimensions["A"].width = 100
    for line in README_LINES:
        readme.append([line])
    readme["A1"].font = Font(bold=True, size=14)
    wb.active = 0
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    wb.save(out)
    return out
