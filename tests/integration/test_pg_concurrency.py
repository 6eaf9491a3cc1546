"""PostgreSQL under concurrent writers: late commits are never skipped, and green converges."""

from __future__ import annotations

import random
import threading
import time

import psycopg
import pytest

from bluegreen.sync.runner import Syncer
from tests.conftest import EnginePair
from tests.integration.helpers import assert_same, enable, sync

pytestmark = pytest.mark.postgresql


def test_transaction_that_commits_after_a_sync_still_reaches_green(pg_pair: EnginePair) -> None:
    pair = pg_pair
    pair.ddl("CREATE TABLE item (id INTEGER PRIMARY KEY, v TEXT)")
    enable(pair)
    early = psycopg.connect(pair.blue_url)  # not autocommit: an open transaction
    early.execute("INSERT INTO item VALUES (1, 'early, committed late')")  # takes its txid first
    pair.run("blue", "INSERT INTO item VALUES (2, 'later, committed first')")
    sync(pair)
    assert pair.rows("green", "item") == [(2, "later, committed first")]
    early.commit()  # commits after the window that skipped it was applied
    early.close()
    sync(pair)
    assert pair.rows("green", "item") == [
        (1, "early, committed late"),
        (2, "later, committed first"),
    ]


def test_update_and_delete_committed_late_are_applied_in_order(pg_pair: EnginePair) -> None:
    pair = pg_pair
    pair.ddl("CREATE TABLE item (id INTEGER PRIMARY KEY, v INTEGER)")
    enable(pair)
    pair.run("blue", "INSERT INTO item VALUES (1, 0)", "INSERT INTO item VALUES (2, 0)")
    sync(pair)
    slow = psycopg.connect(pair.blue_url)
    slow.execute("UPDATE item SET v = 1 WHERE id = 1")
    pair.run("blue", "DELETE FROM item WHERE id = 2")
    sync(pair)
    assert pair.rows("green", "item") == [(1, 0)]
    slow.execute("DELETE FROM item WHERE id = 1")
    slow.execute("INSERT INTO item VALUES (3, 3)")
    slow.commit()
    slow.close()
    sync(pair)
    assert pair.rows("green", "item") == [(3, 3)]


def _writer(url: str, stop: threading.Event, seed: int, counter: list[int]) -> None:
    rnd = random.Random(seed)
    conn = psycopg.connect(url, autocommit=True)
    while not stop.is_set():
        try:
            with conn.transaction():
                for _ in range(rnd.randint(1, 5)):
                    op = rnd.random()
                    rid = rnd.randint(1, 5)
                    sid = rnd.randint(1, 300)
                    if op < 0.45:
                        conn.execute(
                            "INSERT INTO sale VALUES (%s, %s, %s) ON CONFLICT (id) DO UPDATE "
                            "SET amount = EXCLUDED.amount",
                            [sid, rid, rnd.randint(0, 999)],
                        )
                    elif op < 0.75:
                        conn.execute(
                            "UPDATE sale SET amount = amount + 1, region_id = %s WHERE id = %s",
                            [rid, sid],
                        )
                    elif op < 0.9:
                        conn.execute("DELETE FROM sale WHERE id = %s", [sid])
                    elif op < 0.95:
                        conn.execute("UPDATE sale SET id = id + 1000 WHERE id = %s", [sid])
                    else:
                        conn.execute(
                            "UPDATE region SET name = md5(random()::text) WHERE id = %s", [rid]
                        )
                if rnd.random() < 0.2:
                    time.sleep(rnd.random() * 0.01)  # hold the transaction open a little
            counter[0] += 1
        except (
            psycopg.errors.DeadlockDetected,
            psycopg.errors.UniqueViolation,
            psycopg.errors.SerializationFailure,
        ):
            continue
    conn.close()


def test_writers_during_many_windows_then_green_equals_blue(pg_pair: EnginePair) -> None:
    pair = pg_pair
    pair.ddl(
        "CREATE TABLE region (id INTEGER PRIMARY KEY, name TEXT)",
        "CREATE TABLE sale (id INTEGER PRIMARY KEY, region_id INTEGER NOT NULL "
        "REFERENCES region (id), amount INTEGER)",
    )
    enable(pair)
    pair.run("blue", *[f"INSERT INTO region VALUES ({i}, 'r{i}')" for i in range(1, 6)])
    stop = threading.Event()
    counter = [0]
    threads = [
        threading.Thread(target=_writer, args=(pair.blue_url, stop, seed, counter))
        for seed in range(3)
    ]
    for t in threads:
        t.start()
    blue, green = pair.blue(), pair.green()
    syncer = Syncer(blue, green, batch_size=50)
    windows = 0
    deadline = time.monotonic() + 4
    try:
        while time.monotonic() < deadline:
            if syncer.once() is not None:
                windows += 1
    finally:
        stop.set()
        for t in threads:
            t.join()
    syncer.until_caught_up()
    blue.close()
    green.close()
    assert counter[0] > 100, "the writers barely wrote"
    assert windows >= 10
    assert_same(pair)
