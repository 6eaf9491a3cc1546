"""Crash loop: ``bluegreen sync --follow`` killed with SIGKILL 50+ times while production writes.

A writer plays the application on blue (PostgreSQL) and a bulk writer changes hundreds of
ledger rows per transaction, so windows have several batches. The CLI runs as a separate
process (forked from a server that imported it once, see ``tests/faults/support.py``; ``-v``: its
debug lines name the window phase it is in) and is killed with SIGKILL, just after it logs a
chosen phase (fetch, stage, apply, commit), just after a window committed, or after a random
delay, then restarted at once. At the end the writers stop, ``python -m bluegreen.cli sync``
catches up, and:

* green equals blue: every table, every row, every column, compared in key order;
* green's history covers blue's change stream exactly once: each recorded window starts where
  the previous one ended, from the origin to the last, and nothing after the last is missing;
* kills landed in every phase of a window (the spread is printed).
"""

from __future__ import annotations

import collections
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import EnginePair
from tests.faults.support import (
    CliRun,
    ForkServer,
    Load,
    assert_history_exactly_once,
    assert_tables_equal,
    last_phase,
    phase_count,
    shop_on_postgres,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgresql]

KILLS = 50
PHASES = ("fetch", "stage", "apply", "commit")
# how each kill is timed, in turn: after a phase begins, after a window committed (so the loop
# makes progress: every kill before a commit leaves a bigger backlog), or at random
MODES = ("fetch", "stage", "committed", "apply", "commit", "random", "committed")
COMMITTED = re.compile(r"window \S+ -> \S+: \d+ inserts")


def _sync_args(pair: EnginePair, *mode: str) -> list[str]:
    urls = ["--blue", pair.blue_url, "--green", pair.green_url]
    return ["-v", "sync", *mode, "--batch-size", "500", *urls]


def _wait_then_kill(run: CliRun, rng: random.Random, mode: str) -> None:
    """Wait for the moment ``mode`` names (at most 30 s), then SIGKILL the run."""
    if mode == "random":
        time.sleep(rng.uniform(0.0, 2.0))
    else:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and run.alive():
            text = run.text()
            if COMMITTED.search(text) if mode == "committed" else phase_count(text, mode):
                break
            time.sleep(0.001)
        # fetch and commit last milliseconds: kill at once; stage and apply: a little later
        time.sleep(rng.uniform(0.0, 0.002 if mode in ("fetch", "commit") else 0.05))
    assert run.alive(), f"the sync ended by itself:\n{run.text()[-3000:]}"
    run.kill()


def test_sigkill_loop_converges_and_history_is_exactly_once(
    pg_pair: EnginePair, tmp_path: Path
) -> None:
    pair = pg_pair
    shop_on_postgres(pair)
    follow = _sync_args(pair, "--follow", "--interval", "0.05")
    logs = tmp_path / "logs"
    logs.mkdir()
    rng = random.Random(20250101)
    spread: collections.Counter[str] = collections.Counter()
    server = ForkServer(tmp_path)
    load = Load(pair).start()
    t0 = time.monotonic()
    try:
        # the first run drains the seed (a window from the origin) before the kills begin
        modes = ["committed", *(MODES[i % len(MODES)] for i in range(KILLS - 1))]
        for i, mode in enumerate(modes):
            run = server.run(follow, logs / f"run-{i}.log")
            _wait_then_kill(run, rng, mode)
            text = run.text()
            assert "Traceback" not in text and "error" not in text.lower(), text[-3000:]
            spread[last_phase(text)] += 1
            assert not load.errors, load.errors
    finally:
        load.stop()
        server.close()
    seconds = time.monotonic() - t0
    print(f"\n{KILLS} kills in {seconds:.0f} s; by the phase they landed in: {dict(spread)}")
    print(f"writer: {load.writer}; bulk transactions: {load.bulk_transactions}")

    final = subprocess.run(
        [sys.executable, "-m", "bluegreen.cli", *_sync_args(pair, "--until-caught-up")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert final.returncode == 0, final.stderr[-3000:]
    counts = assert_tables_equal(pair)
    windows = assert_history_exactly_once(pair)
    print(f"rows per table: {counts}; recorded windows: {windows}")
    assert counts["ledger"] > 5_000 and counts["orders"] > 0
    assert sum(spread.values()) == KILLS
    for phase in PHASES:
        assert spread[phase] >= 1, f"no kill landed in {phase}: {dict(spread)}"
