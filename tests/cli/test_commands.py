"""tracking / sync / status / stats / verify against real databases, through the CLI."""

from __future__ import annotations

import json

from bluegreen.dialects import connect
from bluegreen.sync.state import GreenState
from tests.cli.conftest import SEEDED, bg, count, seed
from tests.conftest import EnginePair


def enable(pair: EnginePair) -> None:
    result = bg("tracking", "enable", "--db", pair.blue_url)
    assert result.exit_code == 0, result.output + result.stderr


def status_json(pair: EnginePair) -> dict:
    result = bg("status", "--blue", pair.blue_url, "--green", pair.green_url, "--json")
    assert result.exit_code == 0, result.output + result.stderr
    return json.loads(result.stdout)


def bare(by_table: dict) -> dict:
    """Keys without the schema (PostgreSQL says public.orders, SQLite orders)."""
    return {k.split(".")[-1]: v for k, v in by_table.items()}


def stats_json(pair: EnginePair) -> dict:
    result = bg("stats", "--green", pair.green_url, "--tables", "--json")
    assert result.exit_code == 0, result.output + result.stderr
    return json.loads(result.stdout)


def test_tracking_enable_tracks_every_table_with_a_key(shop: EnginePair) -> None:
    shop.run("blue", "CREATE TABLE audit_note (happened TIMESTAMP, note TEXT)")  # no primary key
    result = bg("tracking", "enable", "--db", shop.blue_url)
    assert result.exit_code == 0, result.output + result.stderr
    for table in SEEDED:
        assert table in result.stdout
    assert result.stdout.count("enabled now") == 4
    assert "audit_note has no primary key" in result.stderr
    blue = connect(shop.blue_url)
    try:
        assert sorted(t.name for t in blue.tracked_tables()) == sorted(SEEDED)
    finally:
        blue.close()
    again = bg("tracking", "enable", "--db", shop.blue_url, "--table", "orders")
    assert again.exit_code == 0
    assert "already on" in again.stdout and "enabled now" not in again.stdout


def test_tracking_enable_refuses_a_named_table_without_key(shop: EnginePair) -> None:
    shop.run("blue", "CREATE TABLE audit_note (happened TIMESTAMP, note TEXT)")
    result = bg("tracking", "enable", "--db", shop.blue_url, "--table", "audit_note")
    assert result.exit_code == 2
    assert "has no primary key" in result.stderr and "fix:" in result.stderr
    assert "Traceback" not in result.output + result.stderr
    typo = bg("tracking", "enable", "--db", shop.blue_url, "--table", "order")
    assert typo.exit_code == 2
    assert "orders'?" in typo.stderr  # the fix suggests the closest name


def test_sync_once_then_status_stats_and_until_caught_up(shop: EnginePair) -> None:
    enable(shop)
    seed(shop)
    before = status_json(shop)
    assert before["state_installed"] is False
    assert before["watermark"] == "origin"
    assert before["pending_changes"] == sum(SEEDED.values())
    assert bare(before["pending_by_table"]) == SEEDED

    once = bg("sync", "--blue", shop.blue_url, "--green", shop.green_url, "--once")
    assert once.exit_code == 0, once.output + once.stderr
    assert "window origin -> " in once.stderr  # the per-window log line
    assert f"{sum(SEEDED.values())} inserts" in once.stdout
    for table, n in SEEDED.items():
        assert count(shop, "green", table) == n
    caught = status_json(shop)
    assert caught["state_installed"] is True
    assert caught["pending_changes"] == 0
    # SQLite's version counts tracked row changes; PostgreSQL's is a server-wide transaction id
    # that other databases' transactions move too, so only SQLite's lag is exact
    exact = shop.engine == "sqlite"
    assert caught["lag_versions"] == 0 if exact else caught["lag_versions"] >= 0

    shop.run(
        "blue",
        "UPDATE orders SET note = 'changed' WHERE id IN (1, 2, 3)",
        "DELETE FROM orders WHERE id IN (10, 11)",
        "INSERT INTO region (id, code, name) VALUES (100, 'NA', 'Nouvelle-Aquitaine')",
    )
    behind = status_json(shop)
    assert behind["pending_changes"] == 6
    assert bare(behind["pending_by_table"])["orders"] == 5
    assert bare(behind["pending_by_table"])["region"] == 1
    assert behind["lag_versions"] == 6 if exact else behind["lag_versions"] > 0
    assert behind["last_window"]["inserts"] == sum(SEEDED.values())

    nothing_left = bg("sync", "--blue", shop.blue_url, "--green", shop.green_url)
    assert nothing_left.exit_code == 0
    assert "caught up" in nothing_left.stdout and "not caught up" not in nothing_left.stdout
    after = status_json(shop)
    assert after["pending_changes"] == 0
    assert after["lag_versions"] == 0 if exact else after["lag_versions"] >= 0

    stats = stats_json(shop)
    totals = stats["totals"]
    assert totals["windows"] == 2
    assert (totals["inserts"], totals["updates"], totals["deletes"]) == (211, 3, 2)
    per_table = bare({row["table"]: row for row in stats["tables"]})
    orders = per_table["orders"]
    assert (orders["inserts"], orders["updates"], orders["deletes"]) == (150, 3, 2)
    assert per_table["region"]["inserts"] == 6

    text = bg("stats", "--green", shop.green_url, "--tables")
    assert text.exit_code == 0
    assert "per table" in text.stdout and "orders" in text.stdout
    human = bg("status", "--blue", shop.blue_url, "--green", shop.green_url)
    assert human.exit_code == 0
    assert "lag (versions)" in human.stdout and "pending changes" in human.stdout


def test_sync_into_empty_green_converges_and_verify_passes(shop: EnginePair) -> None:
    enable(shop)
    seed(shop)
    shop.run(
        "blue", "UPDATE customer SET referred_by = NULL WHERE referred_by = 3", "DELETE FROM orders"
    )
    shop.run("blue", "DELETE FROM customer WHERE id = 3")
    result = bg("sync", "--blue", shop.blue_url, "--green", shop.green_url, "--until-caught-up")
    assert result.exit_code == 0, result.output + result.stderr
    verify = bg("verify", "--blue", shop.blue_url, "--green", shop.green_url)
    assert verify.exit_code == 0, verify.output
    assert "green equals blue (4 table(s))" in verify.stdout
    assert count(shop, "green", "orders") == 0
    assert count(shop, "green", "customer") == SEEDED["customer"] - 1


def test_verify_detects_tampering_with_green(shop: EnginePair) -> None:
    enable(shop)
    seed(shop)
    assert bg("sync", "--blue", shop.blue_url, "--green", shop.green_url).exit_code == 0
    ok = bg("verify", "--blue", shop.blue_url, "--green", shop.green_url, "--json")
    assert ok.exit_code == 0
    assert json.loads(ok.stdout)["ok"] is True

    shop.run("green", "UPDATE product SET name = 'tampered' WHERE id = 4")
    bad = bg("verify", "--blue", shop.blue_url, "--green", shop.green_url, "--json")
    assert bad.exit_code == 1
    report = json.loads(bad.stdout)
    verdict = {t["green_table"].split(".")[-1]: t["matches"] for t in report["tables"]}
    assert verdict == {"customer": True, "orders": True, "product": False, "region": True}
    product = next(t for t in report["tables"] if t["green_table"].endswith("product"))
    assert product["blue"]["rows"] == product["green"]["rows"]  # same count, other content

    shop.run("green", "DELETE FROM orders WHERE id = 20")
    human = bg("verify", "--blue", shop.blue_url, "--green", shop.green_url)
    assert human.exit_code == 1
    assert "MISMATCH" in human.stdout and "2 table(s) differ" in human.stdout
    assert "149" in human.stdout  # the orders row count green has now


def test_dry_run_prints_the_plan_and_changes_nothing(shop: EnginePair) -> None:
    enable(shop)
    seed(shop)
    result = bg("sync", "--blue", shop.blue_url, "--green", shop.green_url, "--dry-run")
    assert result.exit_code == 0, result.output + result.stderr
    assert "apply steps" in result.stdout
    assert "deferred_deletes" in result.stdout and "nothing was written" in result.stdout
    green = connect(shop.green_url)
    try:
        assert not GreenState(green).installed()  # not even the state tables
        assert {str(n).split(".")[-1] for n in green.introspect().tables} == set(SEEDED)
    finally:
        green.close()
    for table in SEEDED:
        assert count(shop, "green", table) == 0


def test_sync_modes_are_exclusive(shop: EnginePair) -> None:
    result = bg("sync", "--blue", shop.blue_url, "--green", shop.green_url, "--once", "--follow")
    assert result.exit_code == 2
    assert "--once and --follow cannot be combined" in result.stderr


def test_tracking_cleanup_protects_the_green_watermark(shop: EnginePair) -> None:
    enable(shop)
    seed(shop)
    never = bg("tracking", "cleanup", "--db", shop.blue_url, "--green", shop.green_url)
    assert never.exit_code == 2
    assert "never synced" in never.stderr

    assert bg("sync", "--blue", shop.blue_url, "--green", shop.green_url).exit_code == 0
    mark = int(status_json(shop)["watermark"])
    shop.run("blue", "UPDATE orders SET quantity = quantity + 1 WHERE id <= 5")
    ahead = status_json(shop)["blue_version"]
    assert ahead > mark

    args = ("tracking", "cleanup", "--db", shop.blue_url, "--green", shop.green_url)
    refused = bg(*args, "--before", ahead)
    assert refused.exit_code == 2
    assert "would leave it unable to sync" in refused.stderr

    pruned = bg(*args, "--before", mark)
    assert pruned.exit_code == 0, pruned.output + pruned.stderr
    removed = int(pruned.stdout.split("removed ", 1)[1].split()[0])
    if shop.engine == "sqlite":
        assert removed == 210  # the seed rows, not the update after the watermark
    else:  # rows of transactions still running anywhere on the server at the watermark stay
        assert 0 <= removed <= 210
    assert bg(*args).exit_code == 0  # default: up to green's watermark (nothing left)
    # green still syncs the changes after the pruned point
    assert status_json(shop)["pending_changes"] == 5
    assert bg("sync", "--blue", shop.blue_url, "--green", shop.green_url).exit_code == 0
    assert bg("verify", "--blue", shop.blue_url, "--green", shop.green_url).exit_code == 0


def test_tracking_disable_drops_tracking(shop: EnginePair) -> None:
    enable(shop)
    result = bg("tracking", "disable", "--db", shop.blue_url, "--table", "orders", "--yes")
    assert result.exit_code == 0, result.output + result.stderr
    blue = connect(shop.blue_url)
    try:
        assert sorted(t.name for t in blue.tracked_tables()) == ["customer", "product", "region"]
    finally:
        blue.close()
    declined = bg("tracking", "disable", "--db", shop.blue_url, input="n\n")
    assert declined.exit_code == 1
    blue = connect(shop.blue_url)
    try:
        assert len(blue.tracked_tables()) == 3
    finally:
        blue.close()


def test_stats_on_a_green_never_synced_explains(shop: EnginePair) -> None:
    result = bg("stats", "--green", shop.green_url)
    assert result.exit_code == 2
    assert "never synced" in result.stderr and "fix:" in result.stderr


def test_missing_url_is_a_config_error() -> None:
    result = bg("status")
    assert result.exit_code == 2
    assert "no blue and no green connection string" in result.stderr
    assert "BLUEGREEN_BLUE_URL" in result.stderr


def test_nothing_to_sync_is_refused_before_green_is_touched(shop: EnginePair) -> None:
    urls = ("--blue", shop.blue_url, "--green", shop.green_url)
    untracked = bg("sync", *urls)
    assert untracked.exit_code == 2
    assert "nothing to sync" in untracked.stderr and "tracking enable" in untracked.stderr
    shop.run("green", "DROP TABLE orders", "DROP TABLE customer", "DROP TABLE product")
    shop.run("green", "DROP TABLE region")
    enable(shop)
    missing = bg("verify", *urls)
    assert missing.exit_code == 2
    assert "green has no such table" in missing.stderr
    green = connect(shop.green_url)
    try:
        assert not GreenState(green).installed()
    finally:
        green.close()
