"""Every bad-workbook case: the sync stops before anything is applied, and the error names the
sheet, the row and the column of each problem (checked against both live schemas)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bluegreen.mapping import MappingError, check_mapping, load_mapping
from tests.conftest import EnginePair
from tests.mapping.helpers import HEADER, MappedSync, enable, green_watermark, row, workbook

BLUE = (
    "CREATE TABLE customer (id INTEGER PRIMARY KEY, name VARCHAR(80), country VARCHAR(40), "
    "credit VARCHAR(20), born DATE)",
)
GREEN = (
    "CREATE TABLE country (country_id INTEGER PRIMARY KEY, name VARCHAR(40) NOT NULL)",
    "CREATE TABLE customer (id INTEGER PRIMARY KEY, full_name VARCHAR(80), "
    "short_name VARCHAR(5), country_id INTEGER NOT NULL, credit NUMERIC(12,2), born DATE, "
    "born_int INTEGER)",
    "CREATE TABLE customer_note (note VARCHAR(80))",
    "CREATE TABLE customer_note2 (id INTEGER, note VARCHAR(80))",
)
GREEN_ROW = "INSERT INTO customer (id, full_name, country_id) VALUES (99, 'kept', 1)"


def base() -> list[dict[str, Any]]:
    """A valid workbook for the schemas above (rows 2..4)."""
    return [
        row("customer", "name", "N", "full_name", "customer"),
        row(
            "customer",
            "country",
            "L",
            "country_id",
            "customer",
            lookup_table="country",
            lookup_key="country_id",
            lookup_value="name",
        ),
        row("customer", "credit", "T", "credit", "customer", green_type="NUMERIC(12,2)"),
    ]


def _set(i: int, **cells: Any) -> Callable[[list[dict[str, Any]]], None]:
    def edit(rows: list[dict[str, Any]]) -> None:
        rows[i].update(cells)

    return edit


def _add(**cells: Any) -> Callable[[list[dict[str, Any]]], None]:
    def edit(rows: list[dict[str, Any]]) -> None:
        rows.append(cells)

    return edit


def _drop(i: int) -> Callable[[list[dict[str, Any]]], None]:
    def edit(rows: list[dict[str, Any]]) -> None:
        rows.pop(i)

    return edit


# (id, edit of the base rows, where the error must point, words the message must hold)
CASES: list[tuple[str, Callable[[list[dict[str, Any]]], None], str, str]] = [
    ("unknown-operation", _set(0, operation="X"), "cell C2 (operation)", "unknown operation 'X'"),
    ("unknown-policy", _set(1, on_missing="skip"), "cell J3 (on missing)", "'skip'"),
    (
        "unknown-blue-table",
        _set(0, blue_table="custmer"),
        "cell A2 (blue table)",
        "unknown blue table 'custmer'",
    ),
    (
        "unknown-blue-column",
        _set(0, blue_column="nme"),
        "cell B2 (blue column)",
        "unknown blue column 'nme'",
    ),
    (
        "unknown-green-table",
        _set(0, green_table="clients"),
        "cell D2 (green table)",
        "unknown green table 'clients'",
    ),
    (
        "unknown-green-column",
        _set(0, green_column="fullname"),
        "cell E2 (green column)",
        "unknown green column 'fullname'",
    ),
    (
        "cast-narrows",
        _set(0, green_column="short_name", green_type="VARCHAR(5)"),
        "cell F2 (green type)",
        "narrows",
    ),
    (
        "cast-cannot-work",
        _add(blue_table="customer", blue_column="born", operation="T", green_column="born_int"),
        "cell E5 (green column)",
        "cannot work",
    ),
    (
        "rename-needs-a-cast",
        _set(2, operation="N", green_type=None),
        "cell C4 (operation)",
        "set the operation to T",
    ),
    (
        "green-type-is-not-greens",
        _set(2, green_type="NUMERIC(10,2)"),
        "cell F4 (green type)",
        "numeric",
    ),
    (
        "lookup-table-unknown",
        _set(1, lookup_table="countries"),
        "cell G3 (lookup table)",
        "unknown green table 'countries'",
    ),
    (
        "lookup-key-column-missing",
        _set(1, lookup_key="id"),
        "cell H3 (lookup key column)",
        "lookup table",
    ),
    (
        "lookup-value-column-missing",
        _set(1, lookup_value="label"),
        "cell I3 (lookup value column)",
        "has no column 'label'",
    ),
    (
        "lookup-null-into-not-null",
        _set(1, on_missing="null"),
        "cell J3 (on missing)",
        "NOT NULL",
    ),
    (
        "split-without-key-column",
        _add(
            blue_table="customer",
            blue_column="born",
            operation="S",
            green_table="customer_note",
            green_column="note",
        ),
        "cell D5 (green table)",
        "split target",
    ),
    (
        "split-without-primary-key",
        _add(
            blue_table="customer",
            blue_column="born",
            operation="S",
            green_table="customer_note2",
            green_column="note",
        ),
        "cell D5 (green table)",
        "primary key is (none)",
    ),
    (
        "two-rows-one-green-column",
        _set(2, green_column="full_name", operation="N", green_type=None),
        "cell E4 (green column)",
        "written more than once",
    ),
    (
        "blue-column-green-lacks",
        _drop(0),
        "(no row)",
        "customer.name has no column of the same name",
    ),
    (
        "version-into-a-narrow-column",
        _add(blue_table="customer", operation="V", green_column="short_name"),
        "cell E5 (green column)",
        "64-bit",
    ),
    (
        "hostile-blue-table",
        _set(0, blue_table='customer"; DROP TABLE customer; --'),
        "cell A2 (blue table)",
        "unknown blue table",
    ),
    (
        "hostile-green-column",
        _set(0, green_column='x"); DELETE FROM customer; --'),
        "cell E2 (green column)",
        "unknown green column",
    ),
]


def _schema(pair: EnginePair) -> None:
    pair.ddl(*BLUE, sides=["blue"])
    pair.ddl(*GREEN, sides=["green"])
    pair.run("green", "INSERT INTO country (country_id, name) VALUES (1, 'FR')", GREEN_ROW)
    enable(pair)
    pair.run("blue", "INSERT INTO customer VALUES (1, 'Ann', 'FR', '1.5', NULL)")


def _expect_refused(pair: EnginePair, path: Path) -> MappingError:
    with pytest.raises(MappingError) as info:
        MappedSync(pair, path).run()
    # green is unchanged: no row applied, no watermark moved
    assert pair.rows("green", "customer") == [(99, "kept", None, 1, None, None, None)]
    assert green_watermark(pair).origin
    return info.value


def test_the_base_workbook_is_valid(pair: EnginePair, tmp_path: Path) -> None:
    """The cases below break a workbook that works: each failure is the edit's doing."""
    _schema(pair)
    MappedSync(pair, workbook(tmp_path / "m.xlsx", base())).run()
    assert (1, "Ann", None, 1, 1.5, None, None) in [
        tuple(float(v) if k == 4 and v is not None else v for k, v in enumerate(r))
        for r in pair.rows("green", "customer")
    ]


@pytest.mark.parametrize(
    ("edit", "where", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_workbook(
    pair: EnginePair,
    tmp_path: Path,
    edit: Callable[[list[dict[str, Any]]], None],
    where: str,
    words: str,
) -> None:
    _schema(pair)
    rows = base()
    edit(rows)
    error = _expect_refused(pair, workbook(tmp_path / "m.xlsx", rows))
    text = str(error)
    assert "sheet 'mapping'" in text
    assert where in text, text
    assert words.lower() in text.lower(), text
    assert "fix:" in text
    mine = [f for f in error.findings if f.severity == "error" and where in f.where]
    assert mine, error.findings
    assert all(f.fix for f in mine)


def test_every_problem_is_reported_at_once(pair: EnginePair, tmp_path: Path) -> None:
    _schema(pair)
    rows = base()
    rows[0]["operation"] = "X"
    rows[1]["lookup_value"] = "label"
    rows[2]["green_column"] = "credits"
    error = _expect_refused(pair, workbook(tmp_path / "m.xlsx", rows))
    places = {f.where for f in error.findings if f.severity == "error"}
    assert {
        "sheet 'mapping' cell C2 (operation)",
        "sheet 'mapping' cell I3 (lookup value column)",
        "sheet 'mapping' cell E4 (green column)",
    } <= places


def test_a_missing_header_is_named(pair: EnginePair, tmp_path: Path) -> None:
    _schema(pair)
    header = [h for h in HEADER if h != "operation"]
    path = workbook(tmp_path / "m.xlsx", [], header=header)
    error = _expect_refused(pair, path)
    assert "sheet 'mapping' row 1 (operation)" in str(error)


def test_a_missing_sheet_is_named(pair: EnginePair, tmp_path: Path) -> None:
    _schema(pair)
    error = _expect_refused(pair, workbook(tmp_path / "m.xlsx", base(), sheet="Sheet1"))
    assert "no sheet named 'mapping'" in str(error) and "'Sheet1'" in str(error)


def test_headers_are_found_by_name_not_position(pair: EnginePair, tmp_path: Path) -> None:
    """A hand-made sheet may order its columns differently: cells are still named right."""
    from openpyxl import Workbook

    _schema(pair)
    wb = Workbook()
    ws = wb.active
    ws.title = "mapping"
    ws.append(["Operation", "Blue Table", "Blue Column", "Green Column", "Green Table"])
    ws.append(["N", "customer", "name", "fullname", "customer"])
    wb.save(tmp_path / "m.xlsx")
    error = _expect_refused(pair, tmp_path / "m.xlsx")
    assert "cell D2 (green column)" in str(error)


def test_hostile_names_never_reach_sql(pair: EnginePair, tmp_path: Path) -> None:
    """A name that is not in the introspected schema is a finding; the tables survive."""
    _schema(pair)
    rows = base()
    rows[0]["blue_table"] = 'customer"; DROP TABLE customer; --'
    rows[1]["lookup_table"] = "country; DELETE FROM country"
    _expect_refused(pair, workbook(tmp_path / "m.xlsx", rows))
    assert pair.rows("green", "country") == [(1, "FR")]
    assert len(pair.rows("blue", "customer")) == 1


def test_warnings_do_not_stop_the_sync(pair: EnginePair, tmp_path: Path) -> None:
    _schema(pair)
    rows = base()
    rows[0]["lookup_table"] = "country"  # ignored on an N row: a warning
    path = workbook(tmp_path / "m.xlsx", rows)
    blue, green = pair.blue(), pair.green()
    compiled = check_mapping(load_mapping(path), blue.introspect(), green.introspect())
    assert not compiled.errors
    assert any(w.where == "sheet 'mapping' cell G2 (lookup table)" for w in compiled.warnings)
    assert MappedSync(pair, path).run().caught_up


@pytest.mark.parametrize("unique", [False, True])
def test_a_lookup_without_a_unique_value_column_is_a_warning(
    pair: EnginePair, tmp_path: Path, unique: bool
) -> None:
    _schema(pair)
    if unique:
        pair.run("green", "CREATE UNIQUE INDEX country_name ON country (name)")
    path = workbook(tmp_path / "m.xlsx", base())
    blue, green = pair.blue(), pair.green()
    compiled = check_mapping(load_mapping(path), blue.introspect(), green.introspect())
    found = [w for w in compiled.warnings if "UNIQUE" in w.message]
    if unique:
        assert not found
    else:
        (w,) = found
        assert w.where == "sheet 'mapping' cell I3 (lookup value column)"
        assert "country" in w.message and "'name'" in w.message
        assert w.fix is not None and "CREATE UNIQUE INDEX" in w.fix
    assert not compiled.errors
