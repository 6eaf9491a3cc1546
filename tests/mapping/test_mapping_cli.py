"""`bluegreen mapping template` and `bluegreen mapping check` on real pairs."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bluegreen.mapping import load_mapping
from bluegreen.mapping.cli import mapping_app
from tests.conftest import EnginePair
from tests.mapping.helpers import enable, row, workbook

BLUE = "CREATE TABLE item (id INTEGER PRIMARY KEY, name VARCHAR(40), qty VARCHAR(12))"
GREEN = "CREATE TABLE item (id INTEGER PRIMARY KEY, title VARCHAR(40), qty INTEGER)"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for key in list(os.environ):
        if key.startswith("BLUEGREEN_") and not key.startswith("BLUEGREEN_TEST_"):
            monkeypatch.delenv(key)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    yield


def _pair(pair: EnginePair) -> list[str]:
    pair.ddl(BLUE, sides=["blue"])
    pair.ddl(GREEN, sides=["green"])
    enable(pair)
    return ["--blue", pair.blue_url, "--green", pair.green_url]


def test_template_writes_a_workbook_and_keeps_an_existing_one(
    pair: EnginePair, tmp_path: Path
) -> None:
    urls = _pair(pair)
    out = tmp_path / "m.xlsx"
    result = CliRunner().invoke(mapping_app, ["template", *urls, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "3 blue column(s)" in result.output and "1 without a green counterpart" in result.output
    m = load_mapping(out)
    assert [(r.blue_column, r.operation and r.operation.value) for r in m.rows] == [
        ("id", "N"),
        ("name", None),
        ("qty", "T"),
    ]
    again = CliRunner().invoke(mapping_app, ["template", *urls, "--out", str(out)])
    assert again.exit_code == 2 and "already exists" in again.output
    forced = CliRunner().invoke(mapping_app, ["template", *urls, "--out", str(out), "--force"])
    assert forced.exit_code == 0, forced.output


def test_template_default_path(pair: EnginePair) -> None:
    urls = _pair(pair)
    result = CliRunner().invoke(mapping_app, ["template", *urls])
    assert result.exit_code == 0, result.output
    assert Path("mappings/mapping.xlsx").is_file()


def test_check_prints_every_finding_with_its_cell(pair: EnginePair, tmp_path: Path) -> None:
    urls = _pair(pair)
    path = workbook(
        tmp_path / "m.xlsx",
        [row("item", "name", "X", "title"), row("item", "qty", "T", "quantity")],
    )
    result = CliRunner().invoke(mapping_app, ["check", str(path), *urls])
    assert result.exit_code == 1, result.output
    out = result.output
    assert "C2" in out and "operation" in out and "unknown operation 'X'" in out
    assert "E3" in out and "quantity" in out
    assert "INVALID" in out


def test_check_json_and_a_valid_workbook(pair: EnginePair, tmp_path: Path) -> None:
    urls = _pair(pair)
    path = workbook(
        tmp_path / "m.xlsx",
        [row("item", "name", "N", "title"), row("item", "qty", "T", "qty")],
    )
    result = CliRunner().invoke(mapping_app, ["check", str(path), *urls, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["valid"] is True and doc["fingerprint"] == load_mapping(path).fingerprint
    plain = CliRunner().invoke(mapping_app, ["check", str(path), *urls])
    assert plain.exit_code == 0 and "valid" in plain.output


def test_check_without_a_workbook_or_urls_says_what_to_pass(tmp_path: Path) -> None:
    result = CliRunner().invoke(mapping_app, ["check"])
    assert result.exit_code == 2 and "no mapping workbook" in result.output
    path = workbook(tmp_path / "m.xlsx", [])
    result = CliRunner().invoke(mapping_app, ["check", str(path)])
    assert result.exit_code == 2 and "connection string" in result.output
