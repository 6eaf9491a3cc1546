"""Fixtures for the command-line tests: a clean environment, a runner, and the demo's shop
schema on a real blue/green pair (SQLite files and the local PostgreSQL)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from bluegreen.cli import app
from bluegreen.demo import create_schema, seed_rows
from tests.conftest import EnginePair

# rows seed_rows() writes with its defaults: 5 regions, 15 products, 40 customers, 150 orders
SEEDED = {"region": 5, "product": 15, "customer": 40, "orders": 150}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No BLUEGREEN_* setting of the developer's and no stray ./bluegreen.toml leak in; the
    ``bluegreen`` logger is restored after each test (the CLI installs its handler on it)."""
    for key in list(os.environ):
        if key.startswith("BLUEGREEN_") and not key.startswith("BLUEGREEN_TEST_"):
            monkeypatch.delenv(key)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    logger = logging.getLogger("bluegreen")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    logger.handlers[:] = saved[0]
    logger.setLevel(saved[1])
    logger.propagate = saved[2]


def bg(*args: object, env: dict[str, str] | None = None, input: str | None = None) -> Result:
    """Run ``bluegreen ARGS`` in-process; unexpected exceptions propagate (they are bugs)."""
    return CliRunner().invoke(
        app, [str(a) for a in args], env=env, input=input, catch_exceptions=False
    )


def paramstyle(pair: EnginePair) -> str:
    return "format" if pair.engine == "postgresql" else "qmark"


def begin_sql(pair: EnginePair) -> str:
    return "BEGIN IMMEDIATE" if pair.engine == "sqlite" else "BEGIN"


@pytest.fixture
def shop(pair: EnginePair) -> EnginePair:
    """The demo's schema on both sides of ``pair`` (no rows, no tracking yet)."""
    for side in ("blue", "green"):
        create_schema(pair.raw(side))
    return pair


def seed(pair: EnginePair) -> None:
    """The seed rows on blue (tracked if tracking is on), written like an application would."""
    seed_rows(
        lambda: pair.raw("blue"), seed=7, paramstyle=paramstyle(pair), begin_sql=begin_sql(pair)
    )


def count(pair: EnginePair, side: str, table: str) -> int:
    conn = pair.raw(side)
    try:
        cur = conn.cursor()
        cur.execute(f"SELECT COUNT(*) FROM {table}")
        return int(cur.fetchone()[0])
    finally:
        conn.close()
