"""Shared fixtures: real engines, never mocks.

``engine`` is parametrized over sqlite and postgresql (and mssql when BLUEGREEN_TEST_MSSQL_URL
is set). Each test gets a fresh blue and green database on that engine, plus a plain driver
connection to blue that plays the application (``pair.write``).
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import uuid

# Prefect reads its settings when first imported: point it at a private home (no profile, no
# server of the developer's) and turn heartbeats off before any test module imports it.
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="bluegreen-prefect-")
os.environ.pop("PREFECT_API_URL", None)
os.environ.pop("PREFECT_RUNNER_HEARTBEAT_FREQUENCY", None)
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

PG_URL = os.environ.get("BLUEGREEN_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
MSSQL_URL = os.environ.get("BLUEGREEN_TEST_MSSQL_URL")

# Portable type names used by test DDL, per engine.
TYPES = {
    "sqlite": {"blob": "BLOB", "ts": "TIMESTAMP", "text": "TEXT", "bool": "BOOLEAN"},
    "postgresql": {"blob": "BYTEA", "ts": "TIMESTAMP", "text": "TEXT", "bool": "BOOLEAN"},
    "mssql": {"blob": "VARBINARY(MAX)", "ts": "DATETIME2", "text": "NVARCHAR(400)", "bool": "BIT"},
}


def pg_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_URL, connect_timeout=3):
            return True
    except Exception:
        return False


@dataclass
class EnginePair:
    """A blue and a green database on one engine, with helpers that speak its SQL."""

    engine: str
    blue_url: str
    green_url: str
    _cleanup: list = field(default_factory=list)

    def t(self, name: str) -> str:
        """An engine-specific type name for a portable one (blob, ts, text, bool)."""
        return TYPES[self.engine][name]

    def sql(self, text: str) -> str:
        """Rewrite ``?`` placeholders for the engine's driver."""
        return text.replace("?", "%s") if self.engine == "postgresql" else text

    def raw(self, side: str) -> Any:
        """A plain autocommit driver connection to ``side`` (the application's view)."""
        url = self.blue_url if side == "blue" else self.green_url
        if self.engine == "sqlite":
            import bluegreen.dialects.sqlite  # noqa: F401  (registers Decimal/date adapters)

            conn = sqlite3.connect(url[len("sqlite:///") :], isolation_level=None, timeout=30)
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA recursive_triggers = ON")
        elif self.engine == "postgresql":
            import psycopg

            conn = psycopg.connect(url, autocommit=True)
        else:
            import pyodbc

            from bluegreen.dialects.mssql import odbc_connection_string

            conn = pyodbc.connect(odbc_connection_string(url), autocommit=True)
        self._cleanup.append(conn)
        return conn

    def run(self, side: str, *statements: str, params: Sequence[Any] = ()) -> None:
        """Run statements on ``side`` in one transaction (``params`` for a single statement)."""
        conn = self.raw(side)
        cur = conn.cursor()
        if self.engine == "mssql":
            conn.autocommit = False
        else:
            cur.execute("BEGIN")
        try:
            for s in statements:
                cur.execute(self.sql(s), tuple(params)) if params else cur.execute(self.sql(s))
            if self.engine == "mssql":
                conn.commit()
            else:
                cur.execute("COMMIT")
        except BaseException:
            if self.engine == "mssql":
                conn.rollback()
            else:
                cur.execute("ROLLBACK")
            raise
        finally:
            cur.close()
            conn.close()

    def ddl(self, *statements: str, sides: Sequence[str] = ("blue", "green")) -> None:
        """Create the same schema on both sides."""
        for side in sides:
            self.run(side, *statements)

    def rows(self, side: str, table: str, order: str = "1") -> list[tuple]:
        conn = self.raw(side)
        try:
            cur = conn.cursor()
            cur.execute(f"SELECT * FROM {table} ORDER BY {order}")
            out = [tuple(r) for r in cur.fetchall()]
            cur.close()
            return out
        finally:
            conn.close()

    def blue(self) -> Any:
        from bluegreen.dialects import connect

        d = connect(self.blue_url)
        self._cleanup.append(d)
        return d

    def green(self) -> Any:
        from bluegreen.dialects import connect

        d = connect(self.green_url)
        self._cleanup.append(d)
        return d

    def close(self) -> None:
        for c in reversed(self._cleanup):
            try:
                c.close()
            except Exception:
                pass
        self._cleanup.clear()


def _pg_create(name: str) -> str:
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_URL.rsplit("/", 1)[0]
    return f"{base}/{name}"


def _pg_drop(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name]
        )
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def _engines() -> list[Any]:
    out = [pytest.param("sqlite", id="sqlite")]
    out.append(pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgresql))
    out.append(
        pytest.param(
            "mssql",
            id="mssql",
            marks=[
                pytest.mark.mssql,
                pytest.mark.skipif(not MSSQL_URL, reason="BLUEGREEN_TEST_MSSQL_URL is not set"),
            ],
        )
    )
    return out


_PG_OK: bool | None = None


def make_pair(engine: str, tmp_path: Path) -> Iterator[EnginePair]:
    global _PG_OK
    if engine == "sqlite":
        pair = EnginePair(
            "sqlite", f"sqlite:///{tmp_path / 'blue.db'}", f"sqlite:///{tmp_path / 'green.db'}"
        )
        yield pair
        pair.close()
    elif engine == "postgresql":
        if _PG_OK is None:
            _PG_OK = pg_available()
        if not _PG_OK:
            if os.environ.get("CI"):
                pytest.fail(f"PostgreSQL is not reachable at {PG_URL} (CI must start it)")
            pytest.skip(f"PostgreSQL is not reachable at {PG_URL}")
        tag = uuid.uuid4().hex[:10]
        names = (f"bg_{tag}_blue", f"bg_{tag}_green")
        pair = EnginePair("postgresql", _pg_create(names[0]), _pg_create(names[1]))
        yield pair
        pair.close()
        for n in names:
            _pg_drop(n)
    else:
        if not MSSQL_URL:
            pytest.skip("BLUEGREEN_TEST_MSSQL_URL is not set")
        from tests.mssql_support import database_pair

        for blue_url, green_url in database_pair():
            pair = EnginePair("mssql", blue_url, green_url)
            try:
                yield pair
            finally:
                pair.close()


@pytest.fixture(params=_engines())
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EnginePair]:
    """A fresh blue/green pair on each engine."""
    yield from make_pair(request.param, tmp_path)


@pytest.fixture
def sqlite_pair(tmp_path: Path) -> Iterator[EnginePair]:
    yield from make_pair("sqlite", tmp_path)


@pytest.fixture
def pg_pair(tmp_path: Path) -> Iterator[EnginePair]:
    yield from make_pair("postgresql", tmp_path)
