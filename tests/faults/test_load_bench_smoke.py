"""The load benchmarks' code paths at tiny sizes, so they do not rot: each completes, and what
it syncs ends equal on both sides. (Their figures are printed by the benchmarks themselves;
nothing here judges them.)"""

from __future__ import annotations

import math

import pytest

from bench import lag, memory
from tests.conftest import PG_URL, pg_available

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    "engine", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]
)
def test_lag_measures_every_committed_key(engine: str) -> None:
    if engine == "postgresql" and not pg_available():
        pytest.skip("PostgreSQL is not reachable")
    result = lag.run(engine, seconds=1.5, rate=80, interval=0.02, writers=2, pg_url=PG_URL)
    assert result.committed >= 100
    assert len(result.delays_ms) == result.committed  # every key was seen on green
    assert all(d >= 0 for d in result.delays_ms) and not math.isnan(result.pct(99))
    assert "Traceback" not in result.sync_log


@pytest.mark.postgresql
def test_memory_drains_and_compares() -> None:
    if not pg_available():
        pytest.skip("PostgreSQL is not reachable")
    (result,) = memory.main(["--changes", "3000", "--tx-rows", "1000", "--pg-url", PG_URL])
    assert result.equal and result.staged == result.changes == 3000
    assert result.windows == 1 and result.rss_mb > 0
