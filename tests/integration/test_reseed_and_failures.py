"""Nothing is half-applied: re-seed errors and injected failures leave green at its watermark."""

from __future__ import annotations

import time

import pytest

from bluegreen.errors import ApplyError, ReseedRequired, TransientError
from bluegreen.sync.runner import Syncer
from bluegreen.watermark import Watermark
from tests.conftest import EnginePair
from tests.integration.helpers import assert_same, digests, enable, sync, watermark


def _schema(pair: EnginePair) -> None:
    pair.ddl(
        f"CREATE TABLE region (id INTEGER PRIMARY KEY, name {pair.t('text')})",
        "CREATE TABLE sale (id INTEGER PRIMARY KEY, region_id INTEGER REFERENCES region (id), "
        "amount INTEGER)",
    )
    enable(pair)
    pair.run(
        "blue",
        "INSERT INTO region VALUES (1, 'n')",
        "INSERT INTO sale VALUES (1, 1, 10)",
    )
    sync(pair)


def test_watermark_older_than_the_change_log_needs_a_reseed(pair: EnginePair) -> None:
    _schema(pair)
    before_mark, before_rows = watermark(pair), digests(pair, "green")
    pair.run("blue", "INSERT INTO sale VALUES (2, 1, 20)")
    _prune_past(pair, watermark(pair))  # retention passes green's watermark
    with pytest.raises(ReseedRequired) as err:
        sync(pair)
    text = str(err.value)
    assert "needs a re-seed" in text and "sale" in text and "reseed-green" in text
    assert watermark(pair) == before_mark
    assert digests(pair, "green") == before_rows


def _prune_past(pair: EnginePair, green_mark: str) -> None:
    """Clean blue's change log up to its current version, past green's watermark.

    On PostgreSQL a transaction of another session can hold the cluster's xmin horizon back, and
    cleanup then rightly keeps the rows it cannot prove every snapshot has seen; retry briefly.
    """
    mark = Watermark.loads(green_mark)
    blue = pair.blue()
    sale = blue.introspect().table("sale").name
    deadline = time.monotonic() + 30
    try:
        while True:
            blue.cleanup_changes(blue.current_watermark())
            if not blue.check_valid([sale], mark)[0].valid:
                return
            assert time.monotonic() < deadline, "another session held the xmin horizon for 30 s"
            time.sleep(0.2)
    finally:
        blue.close()


def test_cleanup_up_to_the_watermark_keeps_syncing(pair: EnginePair) -> None:
    _schema(pair)
    green = pair.green()
    from bluegreen.sync.state import GreenState

    mark = GreenState(green).read()[0]
    green.close()
    pair.run("blue", "INSERT INTO sale VALUES (2, 1, 20)")
    blue = pair.blue()
    blue.cleanup_changes(mark)  # exactly what green has: nothing it still needs goes
    blue.close()
    sync(pair)
    assert_same(pair)


def test_truncate_needs_a_reseed(pair: EnginePair) -> None:
    blue_cls = type(pair.blue())
    if not blue_cls.truncate_invalidates:
        pytest.skip("the engine has no TRUNCATE statement")
    _schema(pair)
    before_mark, before_rows = watermark(pair), digests(pair, "green")
    pair.run("blue", "TRUNCATE sale")
    with pytest.raises(ReseedRequired, match=r"sale.*truncated"):
        sync(pair)
    assert watermark(pair) == before_mark
    assert digests(pair, "green") == before_rows


def test_table_enabled_after_the_watermark_needs_a_reseed(pair: EnginePair) -> None:
    _schema(pair)
    pair.ddl("CREATE TABLE late (id INTEGER PRIMARY KEY, v INTEGER)")
    pair.run("blue", "INSERT INTO late VALUES (1, 1)")  # written before tracking: never logged
    enable(pair)
    with pytest.raises(ReseedRequired, match="late"):
        sync(pair)


@pytest.mark.parametrize("fail_at", [1, 3, 6])  # first, middle, last (deferred delete)
def test_failure_in_the_middle_of_apply_leaves_the_watermark(
    pair: EnginePair, fail_at: int
) -> None:
    _schema(pair)
    pair.run(
        "blue",
        "INSERT INTO region VALUES (2, 's')",
        "INSERT INTO sale VALUES (2, 2, 20)",
        "UPDATE sale SET amount = 11 WHERE id = 1",
        "DELETE FROM sale WHERE id = 1",
        "DELETE FROM region WHERE id = 1",
    )
    before_mark, before_rows = watermark(pair), digests(pair, "green")
    calls = []

    def explode(step: object) -> None:
        calls.append(step)
        if len(calls) == fail_at:
            raise TransientError("injected failure while applying")

    blue, green = pair.blue(), pair.green()
    with pytest.raises(TransientError):
        Syncer(blue, green, on_step=explode).until_caught_up()
    assert watermark(pair) == before_mark
    assert digests(pair, "green") == before_rows
    # the rerun converges, and green holds exactly one history row for the window
    s = Syncer(blue, green).until_caught_up()
    assert s.totals.inserts == 2 and s.totals.deferred_deletes == 1
    assert_same(pair)
    blue.close()
    green.close()


def test_green_only_constraint_names_the_table_and_rolls_back(pair: EnginePair) -> None:
    pair.ddl(f"CREATE TABLE item (id INTEGER PRIMARY KEY, qty INTEGER, name {pair.t('text')})")
    pair.run("green", "DROP TABLE item")
    pair.run(
        "green",
        f"CREATE TABLE item (id INTEGER PRIMARY KEY, qty INTEGER CHECK (qty >= 0), "
        f"name {pair.t('text')})",
    )
    enable(pair)
    pair.run("blue", "INSERT INTO item VALUES (1, 5, 'ok')")
    sync(pair)
    before_mark, before_rows = watermark(pair), digests(pair, "green")
    pair.run(
        "blue", "INSERT INTO item VALUES (2, 1, 'fine')", "INSERT INTO item VALUES (3, -1, 'x')"
    )
    with pytest.raises(ApplyError) as err:
        sync(pair)
    assert "item" in str(err.value) and "fix:" in str(err.value)
    assert watermark(pair) == before_mark
    assert digests(pair, "green") == before_rows


def test_table_that_joins_the_sync_later_needs_a_reseed(pair: EnginePair) -> None:
    """A tracked table green lacked was skipped; once green has it, its past is missing."""
    pair.ddl(f"CREATE TABLE item (id INTEGER PRIMARY KEY, name {pair.t('text')})")
    pair.ddl("CREATE TABLE extra (id INTEGER PRIMARY KEY, v INTEGER)", sides=("blue",))
    enable(pair)
    pair.run("blue", "INSERT INTO item VALUES (1, 'a')", "INSERT INTO extra VALUES (1, 1)")
    sync(pair)  # extra is skipped: green has no such table
    pair.run("green", "CREATE TABLE extra (id INTEGER PRIMARY KEY, v INTEGER)")
    before = watermark(pair)
    with pytest.raises(ReseedRequired, match=r"extra.*joined the sync"):
        sync(pair)
    assert watermark(pair) == before
