"""Fact tables are applied batch by batch while they are read (one stage the size of a batch,
blue's next batch read ahead by a worker): many batches in one window, exact counts, a refused
row in a middle batch that rolls the whole window back, and idle tables that get no statement."""

from __future__ import annotations

import pytest

from bluegreen.dialects import dialect_class
from bluegreen.dialects.base import Dialect, Params
from bluegreen.errors import ApplyError
from bluegreen.sync.plan import Step
from tests.conftest import EnginePair
from tests.integration.helpers import assert_same, digests, enable, sync, watermark


def _star(pair: EnginePair, check: bool = False) -> None:
    green_check = ", CHECK (amount <> 4242)" if check else ""
    pair.ddl(
        f"CREATE TABLE region (id INTEGER PRIMARY KEY, name {pair.t('text')})",
        sides=("blue", "green"),
    )
    fact = (
        "CREATE TABLE sale (id INTEGER PRIMARY KEY, region_id INTEGER NOT NULL "
        "REFERENCES region (id), amount INTEGER{extra})"
    )
    pair.ddl(fact.format(extra=""), sides=("blue",))
    pair.ddl(fact.format(extra=green_check), sides=("green",))
    enable(pair)
    pair.run("blue", *(f"INSERT INTO region VALUES ({i}, 'r{i}')" for i in range(1, 4)))
    pair.run("blue", *(f"INSERT INTO sale VALUES ({i}, {1 + i % 3}, {i})" for i in range(100)))
    sync(pair)


@pytest.fixture
def apply_every(
    pair: EnginePair, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> int:
    """Make green's dialect apply a streamed stage once it holds this many rows."""
    rows = getattr(request, "param", 1)
    monkeypatch.setattr(dialect_class(pair.green_url), "stream_apply_rows", rows)
    return rows


@pytest.mark.parametrize("apply_every", [1, 20], indirect=True)
def test_many_batches_of_facts_in_one_window(pair: EnginePair, apply_every: int) -> None:
    _star(pair)
    pair.run(
        "blue",
        "INSERT INTO region VALUES (4, 'new')",  # a parent the new facts need
        *(f"INSERT INTO sale VALUES ({i}, 4, {i})" for i in range(100, 140)),
        "UPDATE sale SET amount = amount + 1000 WHERE id < 30",
        "UPDATE sale SET region_id = 1 WHERE region_id = 3",
        "DELETE FROM region WHERE id = 3",  # deferred until every batch of facts is applied
        "DELETE FROM sale WHERE id BETWEEN 50 AND 59",
        "DELETE FROM sale WHERE id = 120",
    )
    steps: list[Step] = []
    summary = sync(pair, batch_size=7, on_step=steps.append)
    assert_same(pair)
    totals = summary.table_totals()
    sale = next(v for k, v in totals.items() if k.endswith("sale"))
    region = next(v for k, v in totals.items() if k.endswith("region"))
    # every count exact across the batches: 39 new rows (120 came and went: green never had
    # it), the changed ids once each, 10 deleted
    repointed = {i for i in range(100) if 1 + i % 3 == 3} - set(range(50, 60))
    changed = set(range(30)) | repointed
    assert (sale.inserts, sale.updates, sale.deletes) == (39, len(changed), 10)
    assert (region.inserts, region.deferred_deletes) == (1, 1)
    fact_steps = [s for s in steps if s.table.name == "sale"]
    # one delete/update/insert per apply: 40 new keys (120 staged as absent), the changed
    # ones and the 10 deleted, in batches of 7, applied whenever the stage holds apply_every
    keys = 40 + len(changed) + 10
    batches = -(-keys // 7)
    per_apply = -(-apply_every // 7)
    assert len(fact_steps) == 3 * -(-batches // per_apply), [s.describe() for s in fact_steps]


def test_refused_row_in_a_middle_batch_rolls_back_the_whole_window(
    pair: EnginePair, apply_every: int
) -> None:
    _star(pair, check=True)
    before, mark = digests(pair, "green"), watermark(pair)
    # the refused row sits in a middle batch: earlier batches applied, later ones not yet read
    pair.run("blue", *(f"UPDATE sale SET amount = {i + 5000} WHERE id = {i}" for i in range(100)))
    pair.run("blue", "UPDATE sale SET amount = 4242 WHERE id = 47")
    with pytest.raises(ApplyError) as err:
        sync(pair, batch_size=10)
    text = str(err.value)
    assert "sale" in text and "47" in text, text
    assert digests(pair, "green") == before
    assert watermark(pair) == mark
    pair.run("blue", "UPDATE sale SET amount = 4243 WHERE id = 47")
    sync(pair, batch_size=10)
    assert_same(pair)


def test_tables_without_changes_get_no_statement(pair: EnginePair) -> None:
    _star(pair)
    steps: list[Step] = []
    pair.run("blue", "UPDATE region SET name = 'renamed' WHERE id = 2")
    sync(pair, on_step=steps.append)
    assert {s.table.name for s in steps} == {"region"}, [s.describe() for s in steps]
    steps.clear()
    pair.run("blue", "INSERT INTO region VALUES (9, 'x')", "DELETE FROM region WHERE id = 9")
    sync(pair, on_step=steps.append)  # the key is absent on blue: staged as a delete
    assert {(s.table.name, s.phase) for s in steps} <= {
        ("region", "dimensions"),
        ("region", "deferred_deletes"),
    }
    assert_same(pair)


@pytest.fixture
def bounded_applies(
    pair: EnginePair, monkeypatch: pytest.MonkeyPatch
) -> list[tuple[str, tuple[object, ...]]]:
    """Bounded applies on green's dialect (SQLite's are off by default), and every bounded
    statement green runs, with its bounds, observed as the engine receives them."""
    cls = dialect_class(pair.green_url)
    monkeypatch.setattr(cls, "apply_key_range", True)
    seen: list[tuple[str, tuple[object, ...]]] = []
    execute = cls.execute

    def observe(self: Dialect, sql: str, params: Params = (), doing: str = "a statement") -> int:
        if "bg_stage_" in sql and " >= " in sql:
            seen.append((sql, tuple(params)))  # type: ignore[arg-type]
        return execute(self, sql, params, doing=doing)

    monkeypatch.setattr(cls, "execute", observe)
    return seen


@pytest.mark.parametrize("apply_every", [4], indirect=True)
def test_bounded_applies_read_only_the_staged_key_range(
    pair: EnginePair, apply_every: int, bounded_applies: list[tuple[str, tuple[object, ...]]]
) -> None:
    # a '%' in the name: a driver that reads %s markers must get it doubled
    table = '"odd%fact"'
    pair.ddl(
        f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, amount INTEGER)", sides=("blue", "green")
    )
    enable(pair)
    pair.run("blue", *(f"INSERT INTO {table} VALUES ({i}, {i})" for i in range(100)))
    sync(pair)
    bounded_applies.clear()
    pair.run(
        "blue",
        *(f"UPDATE {table} SET amount = -amount WHERE id = {i}" for i in (5, 6, 50, 95)),
        *(f"INSERT INTO {table} VALUES ({i}, 7)" for i in range(200, 206)),
        f"DELETE FROM {table} WHERE id BETWEEN 10 AND 12",
    )
    summary = sync(pair, batch_size=3)
    assert_same(pair)
    stats = next(v for k, v in summary.table_totals().items() if k.endswith("odd%fact"))
    assert (stats.inserts, stats.updates, stats.deletes) == (6, 4, 3)
    # 13 changed keys in batches of 3, applied once 4 rows are staged (every 2 batches): 3
    # chunks, each statement bounded by the keys its chunk holds (two batches), not the table
    ranges = sorted({params for _, params in bounded_applies})
    assert bounded_applies and all("odd%" in sql for sql, _ in bounded_applies)
    changed = [5, 6, 10, 11, 12, 50, 95, *range(200, 206)]
    covered = [k for k in changed if any(lo <= k <= hi for lo, hi in ranges)]  # type: ignore[operator]
    assert covered == changed, ranges
    if dialect_class(pair.blue_url).changes_in_key_order:  # chunks hold consecutive keys
        assert ranges == [(5, 50), (95, 204), (205, 205)], ranges
