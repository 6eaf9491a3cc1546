"""The throughput benchmark's mapped green: a copy of blue's ``fact`` rebuilt in the mapped
schema (rename, widened decimal, lookup on insert, version column) starts equal to blue through
the mapping and stays equal across a sync of inserts, updates and deletes."""

from __future__ import annotations

from pathlib import Path

from bluegreen.mapping import MappingPlanBuilder
from bluegreen.mapping.bench import LOOKUP_TABLE, remap_fact, write_workbook
from bluegreen.release.verify import verify_pair
from bluegreen.sync.runner import Syncer
from tests.conftest import EnginePair
from tests.mapping.helpers import enable, num, serial_pk

DDL = (
    "CREATE TABLE dim (id INTEGER PRIMARY KEY, name TEXT)",
    "CREATE TABLE fact (id INTEGER PRIMARY KEY, dim_id INTEGER NOT NULL REFERENCES dim (id), "
    "qty INTEGER NOT NULL, amount NUMERIC(14,2) NOT NULL, note TEXT, "
    "updated_at TIMESTAMP NOT NULL)",
    "CREATE INDEX fact_dim_id ON fact (dim_id)",
)
SEED = (
    "INSERT INTO dim (id, name) VALUES (1, 'one'), (2, 'two')",
    "INSERT INTO fact VALUES (1, 1, 5, 1.25, 'alpha', '2024-01-01 00:00:01'), "
    "(2, 1, -3, 0.10, NULL, '2024-01-01 00:00:02'), (3, 2, 7, 99.99, '', '2024-01-01 00:00:03'), "
    "(4, 2, 0, 12.00, 'alpha', '2024-01-01 00:00:04'), (5, 1, 1, 1.00, 'beta', "
    "'2024-01-01 00:00:05')",
)
CHANGES = (
    "INSERT INTO fact VALUES (6, 2, 60, 6.06, 'gamma', '2024-01-02 00:00:06'), "
    "(7, 1, 70, 7.07, 'alpha', '2024-01-02 00:00:07'), (8, 1, 80, 8.08, NULL, "
    "'2024-01-02 00:00:08'), (9, 2, 90, 9.09, '', '2024-01-02 00:00:09')",
    "UPDATE fact SET qty = 11, amount = 10.50, note = 'delta' WHERE id = 1",
    "UPDATE fact SET note = 'beta' WHERE id = 2",
    "UPDATE fact SET note = NULL WHERE id = 3",
    "DELETE FROM fact WHERE id = 4",
)


def _setup(pair: EnginePair, tmp_path: Path) -> MappingPlanBuilder:
    for side in ("blue", "green"):
        pair.run(side, *DDL, *SEED)
    green = pair.green()
    remap_fact(green, serial_pk(pair))
    blue = pair.blue()
    builder = write_workbook(blue, green, tmp_path / "mapping.xlsx")
    blue.close()
    green.close()
    enable(pair)
    return builder


def _verify(pair: EnginePair, builder: MappingPlanBuilder) -> bool:
    blue, green = pair.blue(), pair.green()
    try:
        plan, shaper = builder(blue, green)
        return verify_pair(blue, green, plan, shaper).ok
    finally:
        blue.close()
        green.close()


def _query(pair: EnginePair, side: str, sql: str) -> list[tuple[object, ...]]:
    cur = pair.raw(side).cursor()
    cur.execute(sql)
    rows = [tuple(r) for r in cur.fetchall()]
    cur.close()
    return rows


def _green_facts(pair: EnginePair) -> list[tuple[object, ...]]:
    """Green's facts with the note text their key points to, as blue's columns."""
    notes = dict(pair.rows("green", LOOKUP_TABLE, "note_id"))
    cols = "id, dim_id, quantity, amount, note_id, ct_version"
    rows = _query(pair, "green", f"SELECT {cols} FROM fact ORDER BY id")
    return [
        (i, d, q, num(a), notes.get(n) if n is not None else None, v) for i, d, q, a, n, v in rows
    ]


def test_remapped_green_starts_equal_and_syncs(pair: EnginePair, tmp_path: Path) -> None:
    builder = _setup(pair, tmp_path)
    # the rebuilt fact: renamed, widened, looked up, versioned; the seed's rows kept
    fact = pair.green().introspect().table("fact")
    names = [c.name for c in fact.columns]
    assert names == ["id", "dim_id", "quantity", "amount", "note_id", "updated_at", "ct_version"]
    assert "18" in fact.column("amount").type and fact.foreign_keys
    assert sorted(n for _, n in pair.rows("green", LOOKUP_TABLE, "note_id")) == [
        "",
        "alpha",
        "beta",
    ]
    assert _verify(pair, builder)

    pair.run("blue", *CHANGES)
    blue, green = pair.blue(), pair.green()
    summary = Syncer(blue, green, plan_builder=builder, batch_size=3).until_caught_up()
    blue.close()
    green.close()
    assert summary.caught_up and summary.totals.inserts == 4
    version = summary.windows[-1].to_mark.version

    blue_rows = _query(pair, "blue", "SELECT id, dim_id, qty, amount, note FROM fact ORDER BY id")
    expected = [(i, d, q, num(a), n) for i, d, q, a, n in blue_rows]
    got = _green_facts(pair)
    assert [g[:5] for g in got] == expected
    changed = {1, 2, 3, 6, 7, 8, 9}
    assert {g[0]: g[5] for g in got} == {i: version if i in changed else None for i, *_ in expected}
    # each new value inserted once ('alpha', 'beta' and '' were there)
    notes = sorted(n for _, n in pair.rows("green", LOOKUP_TABLE, "note_id"))
    assert notes == ["", "alpha", "beta", "delta", "gamma"]
    assert _verify(pair, builder)


def test_verify_through_the_mapping_sees_a_wrong_lookup_key(
    pair: EnginePair, tmp_path: Path
) -> None:
    builder = _setup(pair, tmp_path)
    beta = next(k for k, n in pair.rows("green", LOOKUP_TABLE, "note_id") if n == "beta")
    pair.run("green", f"UPDATE fact SET note_id = {beta} WHERE id = 1")  # 'alpha' -> 'beta'
    assert not _verify(pair, builder)
