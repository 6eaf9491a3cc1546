"""Reading, writing and the template: a workbook written by bluegreen loads back unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook

from bluegreen.errors import ConfigError
from bluegreen.mapping import (
    check_mapping,
    load_mapping,
    template_rows,
    write_mapping,
    write_template,
)
from bluegreen.mapping.model import Operation
from tests.conftest import EnginePair
from tests.mapping.helpers import MappedSync, enable, row, workbook

BLUE = (
    "CREATE TABLE customer (id INTEGER PRIMARY KEY, name VARCHAR(80), country VARCHAR(40), "
    "credit VARCHAR(20))",
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customer (id), "
    "total NUMERIC(10,2))",
    "CREATE TABLE legacy (id INTEGER PRIMARY KEY, x INTEGER)",
)
GREEN = (
    "CREATE TABLE country (country_id INTEGER PRIMARY KEY, name VARCHAR(40))",
    "CREATE TABLE customer (id INTEGER PRIMARY KEY, full_name VARCHAR(80), country VARCHAR(40), "
    "credit NUMERIC(12,2))",
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customer (id), "
    "total NUMERIC(12,2))",
)


def _schemas(pair: EnginePair) -> tuple:
    pair.ddl(*BLUE, sides=["blue"])
    pair.ddl(*GREEN, sides=["green"])
    return pair.blue().introspect(), pair.green().introspect()


def test_template_round_trip(pair: EnginePair, tmp_path: Path) -> None:
    blue, green = _schemas(pair)
    path = tmp_path / "template.xlsx"
    written = write_template(path, blue, green)
    loaded = load_mapping(path)
    assert [r.content() for r in loaded.rows] == [r.content() for r in written.rows]
    assert [r.content() for r in loaded.rows] == [r.content() for r in template_rows(blue, green)]
    assert not loaded.findings
    assert loaded.fingerprint == written.fingerprint
    # and again: what was loaded, written back, loads back the same
    again = load_mapping(write_mapping(loaded, tmp_path / "again.xlsx", blue, green))
    assert [r.content() for r in again.rows] == [r.content() for r in loaded.rows]
    assert [r.row for r in again.rows] == [r.row for r in loaded.rows]
    assert again.fingerprint == loaded.fingerprint


def test_template_prefills_where_names_match(pair: EnginePair, tmp_path: Path) -> None:
    blue, green = _schemas(pair)
    rows = {(r.blue_table.split(".")[-1], r.blue_column): r for r in template_rows(blue, green)}
    assert len(rows) == 4 + 3 + 2  # every blue column of every blue table
    key = rows[("customer", "id")]
    assert (key.operation, key.green_column) == (Operation.RENAME, "id")
    assert key.green_type and "int" in key.green_type.lower()
    # text on blue, numeric on green: the value needs a cast
    assert rows[("customer", "credit")].operation is Operation.TYPE
    # numeric(10,2) into numeric(12,2) widens: a plain N
    assert rows[("orders", "total")].operation is Operation.RENAME
    # green has no such column: no operation, a note, and the linter reports it
    name = rows[("customer", "name")]
    assert name.operation is None and name.green_column is None and name.notes
    legacy = rows[("legacy", "x")]
    assert legacy.green_table is None and "green has no table" in (legacy.notes or "")


def test_template_has_drop_downs_lists_and_readme(pair: EnginePair, tmp_path: Path) -> None:
    blue, green = _schemas(pair)
    path = tmp_path / "template.xlsx"
    write_template(path, blue, green)
    wb = load_workbook(path)
    assert wb.sheetnames == ["mapping", "lists", "readme"]
    assert wb["lists"].sheet_state == "hidden"
    ws = wb["mapping"]
    assert [c.value for c in ws[1]][:3] == ["blue table", "blue column", "operation"]
    rules = {str(dv.sqref).split(":")[0]: dv.formula1 for dv in ws.data_validations.dataValidation}
    assert rules["C2"] == '"N,V,T,S,L"'
    assert rules["J2"] == '"error,insert,null"'
    assert rules["A2"].startswith("=lists!$A$2")  # blue tables
    assert rules["D2"].startswith("=lists!$B$2")  # green tables
    assert rules["G2"].startswith("=lists!$B$2")  # lookup tables are green tables
    green_tables = [c.value for c in wb["lists"]["B"][1:] if c.value]
    assert len(green_tables) == 3
    text = "\n".join(str(c.value) for c in wb["readme"]["A"] if c.value)
    assert "N  write" in text and "on missing" in text


def test_template_of_equal_schemas_is_valid_and_syncs(pair: EnginePair, tmp_path: Path) -> None:
    pair.ddl("CREATE TABLE item (id INTEGER PRIMARY KEY, name VARCHAR(40), qty INTEGER)")
    enable(pair)
    path = tmp_path / "t.xlsx"
    mapping = write_template(path, pair.blue().introspect(), pair.green().introspect())
    assert all(r.operation is Operation.RENAME for r in mapping.rows)
    compiled = check_mapping(
        load_mapping(path), pair.blue().introspect(), pair.green().introspect()
    )
    assert compiled.findings == []
    pair.run("blue", "INSERT INTO item VALUES (1, 'a', 2)")
    assert MappedSync(pair, path).run().caught_up
    assert pair.rows("green", "item") == [(1, "a", 2)]


def test_loader_normalizes_cells(tmp_path: Path) -> None:
    path = workbook(
        tmp_path / "m.xlsx",
        [
            row(" item ", "name", "rename", "title"),
            {},  # a blank row is skipped
            row("item", "qty", "t", "qty", on_missing=None, notes="  "),
            row("item", "code", "L", "code_id", on_missing="INSERT", lookup_table=123),
        ],
    )
    m = load_mapping(path)
    assert [r.row for r in m.rows] == [2, 4, 5]
    assert m.rows[0].blue_table == "item" and m.rows[0].operation is Operation.RENAME
    assert m.rows[1].operation is Operation.TYPE and m.rows[1].notes is None
    assert m.rows[2].on_missing == "insert" and m.rows[2].lookup_table == "123"
    assert not m.findings


def test_fingerprint_follows_what_the_mapping_does(tmp_path: Path) -> None:
    a = [row("item", "name", "N", "title", notes="one"), row("item", "qty", "T", "qty")]
    b = [row("item", "qty", "T", "qty"), row("item", "name", "N", "title", notes="two")]
    c = [row("item", "name", "N", "label"), row("item", "qty", "T", "qty")]
    fa, fb, fc = (
        load_mapping(workbook(tmp_path / f"{n}.xlsx", rows)).fingerprint
        for n, rows in (("a", a), ("b", b), ("c", c))
    )
    assert fa == fb  # row order and notes do not change what the mapping does
    assert fa != fc


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.xlsx"
    bad.write_text("not a workbook")
    with pytest.raises(ConfigError, match=r"bad\.xlsx"):
        load_mapping(bad)
    with pytest.raises(ConfigError, match=r"missing\.xlsx"):
        load_mapping(tmp_path / "missing.xlsx")


def test_example_workbook_is_valid_for_its_schemas(tmp_path: Path) -> None:
    from bluegreen.mapping.example import example_rows, example_schemas, write_example

    path = write_example(tmp_path / "example.xlsx")
    blue, green = example_schemas()
    m = load_mapping(path)
    assert [r.content() for r in m.rows] == [r.content() for r in example_rows()]
    compiled = check_mapping(m, blue, green)
    assert compiled.errors == []
    ops = {r.operation for r in m.rows}
    assert ops == set(Operation)
