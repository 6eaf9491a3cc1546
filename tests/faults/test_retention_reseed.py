"""Change-tracking retention cleaned up past green's watermark: the sync refuses with the re-seed
message (library and CLI), green stays where it was, and the re-seed recovers: after
``bluegreen.release.reseed_green`` the sync converges while production keeps writing."""

from __future__ import annotations

import random
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bluegreen.demo import TABLES, create_schema, run_writer, seed_rows
from bluegreen.errors import ReseedRequired
from bluegreen.release import ReleasePair, reseed_green
from bluegreen.watermark import Watermark
from tests.conftest import EnginePair
from tests.faults.support import assert_history_exactly_once, assert_tables_equal
from tests.integration.helpers import digests, sync, watermark

pytestmark = pytest.mark.slow


def _raw(pair: EnginePair) -> tuple[Callable[[], Any], dict[str, str]]:
    """A factory of autocommit connections to blue, and the writer's SQL style."""
    if pair.engine == "postgresql":
        return lambda: psycopg.connect(pair.blue_url, autocommit=True), {"paramstyle": "format"}
    path = pair.blue_url[len("sqlite:///") :]

    def factory() -> sqlite3.Connection:
        conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA recursive_triggers = ON")
        return conn

    return factory, {"paramstyle": "qmark", "begin_sql": "BEGIN IMMEDIATE"}


def _write(pair: EnginePair, transactions: int, seed: int) -> None:
    factory, style = _raw(pair)
    run_writer(factory, max_transactions=transactions, seed=seed, pause=0, **style)


def _prune_past(pair: EnginePair, mark: Watermark) -> int:
    """Clean blue's change log up to its current version, past green's watermark (retrying
    while another session holds PostgreSQL's xmin horizon back)."""
    blue = pair.blue()
    customer = blue.introspect().table("customer").name
    removed = 0
    deadline = time.monotonic() + 30
    try:
        while True:
            removed += blue.cleanup_changes(blue.current_watermark())
            blue.rollback()
            if not blue.check_valid([customer], mark)[0].valid:
                return removed
            assert time.monotonic() < deadline, "the change log was not cleaned past green"
            time.sleep(0.2)
    finally:
        blue.close()


def test_retention_past_the_watermark_needs_a_reseed_and_the_reseed_recovers(
    pair: EnginePair, tmp_path: Path
) -> None:
    for side in ("blue", "green"):
        create_schema(pair.raw(side))
    blue = pair.blue()
    blue.enable_tracking([blue.introspect().table(t) for t in TABLES])
    blue.close()
    factory, style = _raw(pair)
    seed_rows(factory, seed=3, **style)
    sync(pair)
    _write(pair, 40, seed=4)
    sync(pair)
    before_mark, before_rows = watermark(pair), digests(pair, "green")
    _write(pair, 60, seed=5)  # changes green has not seen...
    removed = _prune_past(pair, Watermark.loads(before_mark))  # ...cleaned up by retention
    assert removed > 0

    with pytest.raises(ReseedRequired) as err:
        sync(pair)
    text = str(err.value)
    assert "table customer needs a re-seed" in text or "table public.customer needs" in text
    assert "cleaned up past green's watermark" in text or "older than the oldest" in text
    assert "reseed-green" in text and "green was left at its last watermark" in text
    assert watermark(pair) == before_mark
    assert digests(pair, "green") == before_rows

    urls = ["--blue", pair.blue_url, "--green", pair.green_url]
    cli = subprocess.run(
        [sys.executable, "-m", "bluegreen.cli", "sync", *urls],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert cli.returncode == 2, cli.stderr
    assert "needs a re-seed" in cli.stderr and "fix:" in cli.stderr
    assert "Traceback" not in cli.stderr
    assert watermark(pair) == before_mark

    pair.close()  # a PostgreSQL copy needs every session off blue
    receipt = reseed_green(ReleasePair.of(pair.blue_url, pair.green_url))
    assert receipt.outcome == "ok", receipt.reason
    baseline = receipt.baseline
    assert baseline is not None

    # production goes on writing; the re-seeded green catches up from its new baseline
    _write(pair, 30, seed=random.randrange(1000))
    sync(pair)
    counts = assert_tables_equal(pair, TABLES)
    assert counts["orders"] > 0
    # windows that found nothing may have moved the watermark past the baseline before the first
    # recorded one (nothing to record): the chain starts at or after the baseline
    assert_history_exactly_once(pair, start=baseline, exact_start=False)
