"""The benchmark helper builds a mapped run (rename + cast + version column + lookup) that syncs."""

from __future__ import annotations

from pathlib import Path

from bluegreen.mapping.bench import setup_mapped_bench, write_bench_rows
from bluegreen.sync.runner import Syncer
from tests.conftest import EnginePair


def test_mapped_bench_setup_syncs(pair: EnginePair, tmp_path: Path) -> None:
    blue, green = pair.blue(), pair.green()
    builder = setup_mapped_bench(blue, green, tmp_path / "bench.xlsx", rows=300, regions=7)
    syncer = Syncer(blue, green, plan_builder=builder, batch_size=128)
    first = syncer.until_caught_up()
    assert first.caught_up and first.totals.inserts == 300
    write_bench_rows(blue, start=300, count=50, regions=7)
    second = syncer.until_caught_up()
    assert second.totals.inserts == 50
    rows = pair.rows("green", "bench_item", "id")
    assert len(rows) == 350
    version = second.windows[-1].to_mark.version
    # id, name (renamed), qty (cast to an integer), region_id (looked up), ct_version
    assert rows[0][:4] == (0, "item 0", 0, 1)
    assert rows[-1] == (349, "item 349", 349, 349 % 7 + 1, version)
