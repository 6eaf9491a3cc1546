"""Every shape of change reaches green, applied by state, on every engine."""

from __future__ import annotations

import datetime as dt
import decimal

from tests.conftest import EnginePair
from tests.integration.helpers import assert_same, enable, sync


def _items(pair: EnginePair) -> None:
    pair.ddl(
        f"CREATE TABLE item (id INTEGER PRIMARY KEY, name {pair.t('text')}, qty INTEGER)",
    )
    enable(pair)


def test_insert(pair: EnginePair) -> None:
    _items(pair)
    pair.run("blue", "INSERT INTO item VALUES (1, 'a', 1)", "INSERT INTO item VALUES (2, 'b', 2)")
    s = sync(pair)
    assert (s.totals.inserts, s.totals.updates, s.totals.deletes) == (2, 0, 0)
    assert pair.rows("green", "item") == [(1, "a", 1), (2, "b", 2)]


def test_update(pair: EnginePair) -> None:
    _items(pair)
    pair.run("blue", "INSERT INTO item VALUES (1, 'a', 1)")
    sync(pair)
    pair.run("blue", "UPDATE item SET qty = 5, name = 'z' WHERE id = 1")
    s = sync(pair)
    assert (s.totals.inserts, s.totals.updates) == (0, 1)
    assert pair.rows("green", "item") == [(1, "z", 5)]


def test_delete(pair: EnginePair) -> None:
    _items(pair)
    pair.run("blue", "INSERT INTO item VALUES (1, 'a', 1)", "INSERT INTO item VALUES (2, 'b', 2)")
    sync(pair)
    pair.run("blue", "DELETE FROM item WHERE id = 1")
    s = sync(pair)
    assert s.totals.deletes == 1
    assert pair.rows("green", "item") == [(2, "b", 2)]


def test_insert_then_update_in_one_window(pair: EnginePair) -> None:
    _items(pair)
    pair.run("blue", "INSERT INTO item VALUES (1, 'a', 1)")
    pair.run("blue", "UPDATE item SET qty = 9 WHERE id = 1")
    s = sync(pair)
    assert (s.totals.inserts, s.totals.updates) == (1, 0)
    assert pair.rows("green", "item") == [(1, "a", 9)]


def test_insert_then_delete_in_one_window_is_a_no_op(pair: EnginePair) -> None:
    _items(pair)
    pair.run("blue", "INSERT INTO item VALUES (1, 'a', 1)", "DELETE FROM item WHERE id = 1")
    s = sync(pair)
    assert (s.totals.inserts, s.totals.deletes) == (0, 0)
    assert pair.rows("green", "item") == []


def test_update_then_delete_in_one_window(pair: EnginePair) -> None:
    _items(pair)
    pair.run("blue", "INSERT INTO item VALUES (1, 'a', 1)")
    sync(pair)
    pair.run("blue", "UPDATE item SET qty = 2 WHERE id = 1")
    pair.run("blue", "DELETE FROM item WHERE id = 1")
    s = sync(pair)
    assert (s.totals.updates, s.totals.deletes) == (0, 1)
    assert pair.rows("green", "item") == []


def test_delete_and_reinsert_is_an_update(pair: EnginePair) -> None:
    _items(pair)
    pair.run("blue", "INSERT INTO item VALUES (1, 'a', 1)")
    sync(pair)
    pair.run("blue", "DELETE FROM item WHERE id = 1", "INSERT INTO item VALUES (1, 'again', 7)")
    s = sync(pair)
    assert (s.totals.inserts, s.totals.updates, s.totals.deletes) == (0, 1, 0)
    assert pair.rows("green", "item") == [(1, "again", 7)]


def test_primary_key_change_is_delete_plus_insert(pair: EnginePair) -> None:
    _items(pair)
    pair.run("blue", "INSERT INTO item VALUES (1, 'a', 1)", "INSERT INTO item VALUES (2, 'b', 2)")
    sync(pair)
    pair.run("blue", "UPDATE item SET id = id + 10")
    s = sync(pair)
    assert (s.totals.inserts, s.totals.deletes) == (2, 2)
    assert pair.rows("green", "item") == [(11, "a", 1), (12, "b", 2)]
    assert_same(pair)


def test_swapping_primary_keys(pair: EnginePair) -> None:
    _items(pair)
    pair.run("blue", "INSERT INTO item VALUES (1, 'a', 1)", "INSERT INTO item VALUES (2, 'b', 2)")
    sync(pair)
    pair.run(
        "blue",
        "UPDATE item SET id = 3 WHERE id = 1",
        "UPDATE item SET id = 1 WHERE id = 2",
        "UPDATE item SET id = 2 WHERE id = 3",
    )
    sync(pair)
    assert pair.rows("green", "item") == [(1, "b", 2), (2, "a", 1)]


def test_composite_primary_key(pair: EnginePair) -> None:
    pair.ddl(
        "CREATE TABLE line (order_id INTEGER NOT NULL, line_no INTEGER NOT NULL, "
        f"sku {pair.t('text')}, PRIMARY KEY (order_id, line_no))"
    )
    enable(pair)
    pair.run(
        "blue",
        "INSERT INTO line VALUES (1, 1, 'x')",
        "INSERT INTO line VALUES (1, 2, 'y')",
        "INSERT INTO line VALUES (2, 1, 'z')",
    )
    sync(pair)
    pair.run(
        "blue",
        "UPDATE line SET sku = 'yy' WHERE order_id = 1 AND line_no = 2",
        "DELETE FROM line WHERE order_id = 2 AND line_no = 1",
        "UPDATE line SET line_no = 3 WHERE order_id = 1 AND line_no = 1",
    )
    sync(pair)
    assert pair.rows("green", "line", "1, 2") == [(1, 2, "yy"), (1, 3, "x")]


def test_types_nulls_unicode_decimals_dates_binary(pair: EnginePair) -> None:
    pair.ddl(
        "CREATE TABLE kinds (id INTEGER PRIMARY KEY, t TEXT, d NUMERIC(18, 6), "
        f"day DATE, at {pair.t('ts')}, b {pair.t('blob')}, f DOUBLE PRECISION, "
        f"flag {pair.t('bool')})"
    )
    enable(pair)
    row = (
        1,
        "Grüße, 東京, emoji 🚀, 'quote' \"dq\" ; --",
        decimal.Decimal("12345.678901"),
        dt.date(2024, 2, 29),
        dt.datetime(2024, 2, 29, 23, 59, 58, 123456),
        bytes(range(256)),
        0.1 + 0.2,
        True,
    )
    nulls = (2, None, None, None, None, None, None, None)
    ins = "INSERT INTO kinds VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    pair.run("blue", ins, params=row)
    pair.run("blue", ins, params=nulls)
    sync(pair)
    assert_same(pair)
    got = pair.rows("green", "kinds")
    assert got[1][1:] == (None,) * 7
    assert got[0][1] == row[1]
    assert bytes(got[0][5]) == row[5]
    pair.run("blue", "UPDATE kinds SET t = NULL, b = NULL WHERE id = 1")
    pair.run("blue", "UPDATE kinds SET t = 'ß' WHERE id = 2")
    sync(pair)
    assert_same(pair)


def test_rerunning_is_harmless_and_idle_windows_write_no_history(pair: EnginePair) -> None:
    _items(pair)
    pair.run("blue", "INSERT INTO item VALUES (1, 'a', 1)")
    first = sync(pair)
    assert first.totals.inserts == 1
    again = sync(pair)
    assert again.totals.total == 0
    green = pair.green()
    from bluegreen.sync.state import GreenState

    assert GreenState(green).totals()["windows"] == 1
    green.close()


def test_green_that_starts_empty_converges(pair: EnginePair) -> None:
    """Tracking on before any row: a first sync from origin builds green completely."""
    _items(pair)
    for i in range(50):
        pair.run("blue", f"INSERT INTO item VALUES ({i}, 'n{i}', {i})")
    pair.run("blue", "DELETE FROM item WHERE id < 10", "UPDATE item SET qty = -1 WHERE id > 40")
    sync(pair, batch_size=7)  # many small batches through one window
    assert_same(pair)
