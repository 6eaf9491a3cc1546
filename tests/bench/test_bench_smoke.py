"""The sync-throughput benchmark's code path on tiny sizes, so the script never rots.

It asserts only what makes the benchmark's figures trustworthy: the run completes, the sync
catches up, and green (and the raw run's target) end equal to blue with the changes applied;
with ``--mapped``, the remapped green catches up too and equals blue through the mapping.
No timing is asserted: benchmarks print, they do not assert.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.sync_throughput import main
from tests.conftest import PG_URL, pg_available

FACTS, DIMS, CHANGES = 2_000, 200, 400


@pytest.mark.parametrize("lookup_values", ["distinct", "repeating"])
@pytest.mark.parametrize(
    "engine",
    [
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgresql),
    ],
)
def test_quick_run_completes_and_green_equals_blue(
    engine: str, lookup_values: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if engine == "postgresql" and not pg_available():
        pytest.skip(f"PostgreSQL is not reachable at {PG_URL}")
    # --quick with smaller explicit sizes: the quick mode's code path, in a second or two;
    # a batch size below the change count makes the sync read several batches.
    argv = ["--quick", "--engine", engine, "--facts", str(FACTS), "--dims", str(DIMS)]
    argv += ["--changes", str(CHANGES), "--batch-size", "150", "--tx-rows", "100"]
    argv += ["--dir", str(tmp_path), "--pg-url", PG_URL, "--mapped"]
    argv += ["--lookup-values", lookup_values]
    (result,) = main(argv)

    assert result.summary is not None and result.summary.caught_up
    totals = result.summary.totals
    assert totals.inserts + totals.updates + totals.deletes + totals.deferred_deletes == CHANGES
    # 30 % inserts and 10 % deletes, a tenth of each on the dimension
    assert result.blue["fact"][0] == FACTS + 108 - 36
    assert result.blue["dim"][0] == DIMS + 12 - 4
    assert result.green == result.blue
    assert result.raw == result.blue
    # the mapped run: the same changes into the remapped green, checked through the mapping
    (run,) = result.runs
    assert run.mapped is not None and run.mapped.summary.caught_up
    mapped = run.mapped.summary.totals
    assert mapped.inserts + mapped.updates + mapped.deletes + mapped.deferred_deletes == CHANGES
    assert result.mapped_check is not None and result.mapped_check.ok
    assert {t.green_table.split(".")[-1] for t in result.mapped_check.tables} == {"dim", "fact"}
    assert result.mapped_problems == [] and result.mapped_verified
    out = capsys.readouterr().out
    assert "changes/s" in out and engine in out
    assert "mapped/identity" in out and "2 table(s) match" in out
    assert f"lookup values {lookup_values}" in out
