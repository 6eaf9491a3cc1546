"""``sync``, ``status`` and ``verify`` with a mapping workbook (the example one)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import bg
from tests.conftest import EnginePair

example = pytest.importorskip("bluegreen.mapping.example")


def test_sync_and_verify_through_a_mapping(sqlite_pair: EnginePair, tmp_path: Path) -> None:
    pair = sqlite_pair
    pair.run("blue", *example.BLUE_DDL)
    pair.run("green", *example.GREEN_DDL)
    workbook = example.write_example(tmp_path / "mapping.xlsx")
    assert bg("tracking", "enable", "--db", pair.blue_url).exit_code == 0
    pair.run(
        "blue",
        "INSERT INTO customer (id, name, country, credit, bio) VALUES "
        "(1, 'Ana', 'PT', '12.50', 'likes tea'), (2, 'Jörg', 'DE', '7', NULL)",
    )
    urls = ("--blue", pair.blue_url, "--green", pair.green_url, "--mapping", workbook)
    dry = bg("sync", *urls, "--dry-run")
    assert dry.exit_code == 0, dry.output + dry.stderr
    assert "full_name<-name" in dry.stdout and "customer_bio" in dry.stdout
    synced = bg("sync", *urls)
    assert synced.exit_code == 0, synced.output + synced.stderr
    assert pair.rows("green", "customer_bio") == [(1, "likes tea"), (2, None)]
    status = json.loads(bg("status", *urls, "--json").stdout)
    assert status["pending_changes"] == 0
    verify = bg("verify", *urls, "--json")
    assert verify.exit_code == 0, verify.output
    report = json.loads(verify.stdout)
    customer = next(t for t in report["tables"] if t["green_table"] == "customer")
    # verified through the mapping: the cast and the lookup are compared, only V is not
    assert customer["not_compared"] == ["ct_version"]
    assert customer["lookups"] == ["country_id"] and customer["casts"] == ["credit"]
    assert customer["green"]["rows"] == 2

    pair.run("green", "UPDATE customer SET full_name = 'Jorg' WHERE id = 2")
    tampered = bg("verify", *urls)
    assert tampered.exit_code == 1
    assert "MISMATCH" in tampered.stdout and "not compared" in tampered.stdout
