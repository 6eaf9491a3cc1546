"""The cutover benchmark's code path on a tiny database, so the script never rots.

It asserts only what makes the benchmark's figures trustworthy: both methods switch, the
writer was refused at least once (so a freeze was actually seen and measured), green equalled
blue at the switch (the cutover's own verify) and every other check the benchmark prints
passed, and the benchmark dropped its databases. No timing is asserted: benchmarks print.
"""

from __future__ import annotations

import psycopg
import pytest

from bench.cutover import main
from tests.conftest import PG_URL, pg_available

pytestmark = [pytest.mark.slow, pytest.mark.postgresql]


def _bench_databases() -> set[str]:
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'bg\\_bench\\_ct\\_%'"
        ).fetchall()
    return {r[0] for r in rows}


def test_quick_run_switches_under_the_writer_and_checks_pass(
    capsys: pytest.CaptureFixture[str],
) -> None:
    if not pg_available():
        pytest.skip(f"PostgreSQL is not reachable at {PG_URL}")
    before = _bench_databases()
    argv = ["--sizes", "2000", "--rate", "100", "--writers", "2", "--warmup", "1.5"]
    argv += ["--settle", "0.3", "--pg-url", PG_URL]
    (result,) = main(argv)

    cut, rolling = result.cutover, result.rolling
    assert cut is not None and rolling is not None
    for w in (cut, rolling):
        assert w.outcome == "switched", w.notes
        assert w.refused >= 1, f"{w.method}: the writer was never refused"
        assert w.writer_seconds is not None and w.writer_seconds > 0, w.method
        assert w.engine_seconds is not None and w.engine_seconds > 0, w.method
        assert w.checks and all(w.checks.values()), (w.method, w.checks, w.notes)
    assert cut.checks["green = blue at the switch (pre-verify + keyed verify)"]
    assert cut.checks["blue accepted no write after its freeze"]
    assert "verify" in cut.phases and "copy" in rolling.phases
    assert _bench_databases() <= before, "the benchmark left databases behind"
    out = capsys.readouterr().out
    assert "cutover freeze s (writer)" in out and "target (" in out
