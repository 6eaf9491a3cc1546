"""A green-only constraint that a blue row violates: the window rolls back, the error names the
table and the offending row's key (found from the stage when the driver does not say it), and
green's watermark and rows stay where they were."""

from __future__ import annotations

import pytest

from bluegreen.errors import ApplyError
from tests.conftest import EnginePair
from tests.integration.helpers import assert_same, digests, enable, sync, watermark

pytestmark = pytest.mark.slow


def _item(pair: EnginePair, green_extra: str) -> None:
    """``item`` on both sides; green's copy carries ``green_extra`` (a CHECK or UNIQUE)."""
    cols = f"id INTEGER PRIMARY KEY, code {pair.t('text')}, qty INTEGER"
    pair.ddl(f"CREATE TABLE item ({cols})", sides=("blue",))
    pair.ddl(f"CREATE TABLE item ({cols}, {green_extra})", sides=("green",))
    enable(pair)
    pair.run("blue", *(f"INSERT INTO item VALUES ({i}, 'c{i}', {i})" for i in range(1, 41)))
    sync(pair)


def _refused(pair: EnginePair, *statements: str) -> str:
    """Run ``statements`` on blue, sync, and return the refusal; green must not have moved."""
    before_mark, before_rows = watermark(pair), digests(pair, "green")
    pair.run("blue", *statements)
    with pytest.raises(ApplyError) as err:
        sync(pair)
    assert watermark(pair) == before_mark
    assert digests(pair, "green") == before_rows
    return str(err.value)


def test_check_names_the_table_and_the_rows_key(pair: EnginePair) -> None:
    _item(pair, "CHECK (qty >= 0)")
    text = _refused(
        pair,
        *(f"INSERT INTO item VALUES ({i}, 'n{i}', {i})" for i in range(41, 90)),
        "UPDATE item SET qty = -5 WHERE id = 17",  # an update of a row green has
        "UPDATE item SET code = 'moved' WHERE id = 3",
    )
    assert "item" in text and "offending row key (id)=(17)" in text
    assert "green stays at watermark" in text and "fix:" in text
    # the fix on green (drop the constraint) lets the same window through
    pair.run("blue", "UPDATE item SET qty = 5 WHERE id = 17")
    sync(pair)
    assert_same(pair)


def test_check_on_an_insert(pair: EnginePair) -> None:
    _item(pair, "CHECK (qty >= 0)")
    text = _refused(
        pair,
        *(f"INSERT INTO item VALUES ({i}, 'n{i}', {-1 if i == 77 else i})" for i in range(41, 120)),
    )
    assert "item" in text and "offending row key (id)=(77)" in text


def test_unique_against_a_row_green_has(pair: EnginePair) -> None:
    _item(pair, "UNIQUE (code)")
    text = _refused(pair, "INSERT INTO item VALUES (64, 'c5', 1)")  # blue has no UNIQUE
    assert "item" in text and "offending row key (id)=(64)" in text
    if pair.engine == "postgresql":
        assert "Key (code)=(c5)" in text  # the driver's own detail is kept


def test_unique_between_two_rows_of_one_window(pair: EnginePair) -> None:
    _item(pair, "UNIQUE (code)")
    text = _refused(
        pair,
        *(f"INSERT INTO item VALUES ({i}, 'n{i}', {i})" for i in range(41, 60)),
        "INSERT INTO item VALUES (70, 'twin', 1)",
        "INSERT INTO item VALUES (90, 'twin', 2)",
    )
    assert "offending row key (id)=(90)" in text
    assert "together with the window's row key (id)=(70)" in text


def test_composite_key_is_named_column_by_column(pair: EnginePair) -> None:
    cols = f"a INTEGER, b {pair.t('text')}, qty INTEGER, PRIMARY KEY (a, b)"
    pair.ddl(f"CREATE TABLE line ({cols})", sides=("blue",))
    pair.ddl(f"CREATE TABLE line ({cols}, CHECK (qty < 100))", sides=("green",))
    enable(pair)
    rows = [f"INSERT INTO line VALUES ({a}, 'k{b}', {a + b})" for a in range(5) for b in range(9)]
    pair.run("blue", *rows)
    sync(pair)
    text = _refused(pair, "UPDATE line SET qty = 500 WHERE a = 3 AND b = 'k4'")
    assert "offending row key (a, b)=(3, k4)" in text


def test_green_only_foreign_key_refuses_a_delete(pair: EnginePair) -> None:
    """Green keeps a child table blue does not have: deleting its parent is refused."""
    pair.ddl(f"CREATE TABLE item (id INTEGER PRIMARY KEY, code {pair.t('text')})")
    pair.ddl(
        "CREATE TABLE note (id INTEGER PRIMARY KEY, item_id INTEGER REFERENCES item (id))",
        sides=("green",),
    )
    enable(pair)
    pair.run("blue", *(f"INSERT INTO item VALUES ({i}, 'c{i}')" for i in range(1, 30)))
    sync(pair)
    pair.run("green", "INSERT INTO note VALUES (1, 12)")
    text = _refused(pair, "DELETE FROM item WHERE id IN (5, 12, 20)")
    assert "item" in text and "offending row key (id)=(12)" in text
