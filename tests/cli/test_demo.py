"""``bluegreen demo`` end to end (through the mapping workbook, and the identity demo), the
verification through the mapping catching a tampered green, and the demo's writer driven
against both engines."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

from bluegreen.demo import WORKBOOK, run_demo, run_writer
from bluegreen.dialects import connect
from bluegreen.mapping import MappingPlanBuilder
from bluegreen.release.verify import VerifyReport, verify_pair
from tests.cli.conftest import SEEDED, begin_sql, bg, count, paramstyle, seed
from tests.conftest import EnginePair

# the five operations of the demo workbook, as the plan describes their targets
PLAN_TARGETS = (
    "full_name<-name",  # N
    "amount::NUMERIC(14, 2)",  # T
    "synced_version<-VERSION",  # V
    "customer -> customer_contact [id, email, phone]",  # S
    "status_id<-status (lookup order_status.id by name)",  # L
)
GREEN_TABLES = ("customer", "customer_contact", "orders", "product", "region")


def urls(folder: Path) -> tuple[str, ...]:
    return (
        "--blue",
        f"sqlite:///{folder / 'blue.db'}",
        "--green",
        f"sqlite:///{folder / 'green.db'}",
    )


def green_rows(folder: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(folder / "green.db")
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_demo_through_the_mapping_end_to_end(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    result = bg("demo", "--dir", folder, "--seconds", 2, "--seed", 11)
    assert result.exit_code == 0, result.output + result.stderr
    out = result.stdout
    assert f"mapping workbook: {folder / WORKBOOK}" in out
    for target in PLAN_TARGETS:
        assert target in out, target
    # per green table, what was compared and how
    assert "customer -> customer_contact" in out and "8 of 9" in out
    assert "customer: full_name = blue name" in out
    assert "amount = blue amount cast to NUMERIC(14, 2)" in out
    assert "status_id as order_status.name = blue status" in out
    assert "synced_version not compared" in out
    assert "green equals blue through the mapping (5 table(s))" in out
    assert "1 primary-key change(s)" in out
    assert "MISMATCH" not in out
    # the plan is shown before the windows run, the comparison after them
    assert out.index("apply steps") < out.index("while writing") < out.index("blue vs green")
    windows = [line for line in result.stderr.splitlines() if " window " in line]
    assert len(windows) >= 2
    assert any(" inserts, " in w and " updates, " in w and ") deletes in " in w for w in windows)
    assert (folder / WORKBOOK).is_file()

    # green really has green's shape, filled through the mapping
    assert green_rows(folder, "SELECT COUNT(*) FROM customer") == green_rows(
        folder, "SELECT COUNT(*) FROM customer_contact"
    )
    assert green_rows(folder, "SELECT COUNT(*) FROM orders WHERE synced_version IS NULL") == [(0,)]
    statuses = {name for (name,) in green_rows(folder, "SELECT name FROM order_status")}
    assert {"new", "paid", "shipped"} < statuses  # the policy `insert` added the others
    assert "retourné ↩" in statuses

    # the files are left to explore: verify --mapping agrees, and says what it compared
    verify = bg("verify", *urls(folder), "--mapping", folder / WORKBOOK, "--json")
    assert verify.exit_code == 0, verify.output + verify.stderr
    report = json.loads(verify.stdout)
    tables = {t["green_table"]: t for t in report["tables"]}
    assert set(tables) == set(GREEN_TABLES)
    orders = tables["orders"]
    assert orders["through_mapping"] and orders["lookups"] == ["status_id"]
    assert orders["casts"] == ["amount"] and orders["not_compared"] == ["synced_version"]
    assert tables["customer"]["renamed"] == ["full_name<-name"]
    assert tables["customer_contact"]["compared"] == ["id", "email", "phone"]


def test_verification_through_the_mapping_catches_a_tampered_green(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    result = run_demo(folder, seconds=0.5, seed=5)
    assert result.report.ok, result.report.summary()
    assert {t.green_table for t in result.report.tables} == set(GREEN_TABLES)

    def verify() -> VerifyReport:
        with connect(result.blue_url) as blue, connect(result.green_url) as green:
            plan, shaper = MappingPlanBuilder(folder / WORKBOOK)(blue, green)
            blue.rollback()
            green.rollback()
            return verify_pair(blue, green, plan, shaper)

    assert verify().ok
    # one row of the split table changes: only customer_contact differs, with the same count
    conn = sqlite3.connect(folder / "green.db", isolation_level=None)
    try:
        changed = conn.execute(
            "UPDATE customer_contact SET email = 'tampered@example.org' "
            "WHERE id = (SELECT MIN(id) FROM customer_contact)"
        ).rowcount
    finally:
        conn.close()
    assert changed == 1
    bad = verify()
    assert not bad.ok
    (mismatch,) = bad.mismatches
    assert mismatch.green_table == "customer_contact" and mismatch.blue_table == "customer"
    assert mismatch.blue_rows == mismatch.green_rows
    # the command line sees it too
    cli = bg("verify", *urls(folder), "--mapping", folder / WORKBOOK)
    assert cli.exit_code == 1
    assert "1 table(s) differ: customer_contact" in cli.stdout

    # a lookup key pointing at another (valid) status is a difference as well
    conn = sqlite3.connect(folder / "green.db", isolation_level=None)
    try:
        conn.execute(
            "UPDATE orders SET status_id = (SELECT id FROM order_status WHERE id <> "
            "orders.status_id ORDER BY id LIMIT 1) WHERE id = (SELECT MIN(id) FROM orders)"
        )
    finally:
        conn.close()
    assert {c.green_table for c in verify().mismatches} == {"customer_contact", "orders"}


def test_identity_demo_end_to_end(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    result = bg("demo", "--dir", folder, "--seconds", 2, "--seed", 11, "--no-mapping")
    assert result.exit_code == 0, result.output + result.stderr
    out = result.stdout
    assert "green equals blue (4 table(s))" in out
    assert "1 primary-key change(s)" in out
    assert "mapping workbook" not in out and not (folder / WORKBOOK).exists()
    for table in SEEDED:
        assert table in out
    assert "MISMATCH" not in out
    windows = [line for line in result.stderr.splitlines() if " window " in line]
    assert len(windows) >= 2
    assert (folder / "blue.db").is_file() and (folder / "green.db").is_file()
    # the files are left for the user to explore: verify agrees
    assert bg("verify", *urls(folder)).exit_code == 0
    # and a second run (with the mapping this time) recreates the folder it made
    again = bg("demo", "--dir", folder, "--seconds", 0.3)
    assert again.exit_code == 0, again.output + again.stderr
    assert (folder / WORKBOOK).is_file()


def test_demo_refuses_a_folder_it_did_not_make(tmp_path: Path) -> None:
    folder = tmp_path / "precious"
    folder.mkdir()
    (folder / "thesis.tex").write_text("do not delete")
    result = bg("demo", "--dir", folder, "--seconds", 0.2)
    assert result.exit_code == 2
    assert "thesis.tex" in result.stderr
    assert (folder / "thesis.tex").read_text() == "do not delete"


def test_writer_keeps_foreign_keys_valid_while_the_cli_syncs(shop: EnginePair) -> None:
    """The reusable writer on SQLite and PostgreSQL, synced concurrently through the CLI."""
    assert bg("tracking", "enable", "--db", shop.blue_url).exit_code == 0
    seed(shop)
    pair_urls = ("--blue", shop.blue_url, "--green", shop.green_url)
    done = threading.Event()
    outcome: dict = {}

    def write() -> None:
        try:
            outcome["stats"] = run_writer(
                lambda: shop.raw("blue"),
                seconds=1.5,
                seed=3,
                paramstyle=paramstyle(shop),
                begin_sql=begin_sql(shop),
                pause=0.002,
            )
        except BaseException as exc:  # surfaced below
            outcome["error"] = exc
        finally:
            done.set()

    thread = threading.Thread(target=write)
    thread.start()
    syncs = 0
    while not done.is_set():
        result = bg("sync", *pair_urls, "--once")
        assert result.exit_code == 0, result.output + result.stderr
        syncs += 1
    thread.join()
    assert "error" not in outcome, outcome.get("error")
    stats = outcome["stats"]
    assert stats.transactions > 20 and stats.conflicts == 0
    assert stats.inserts and stats.updates and stats.deletes and stats.pk_changes == 1
    assert syncs >= 2
    final = bg("sync", *pair_urls, "--until-caught-up")
    assert final.exit_code == 0
    verify = bg("verify", *pair_urls)
    assert verify.exit_code == 0, verify.output
    assert count(shop, "green", "orders") == count(shop, "blue", "orders")
