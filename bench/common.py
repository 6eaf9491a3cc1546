"""Shared helpers for the benchmarks: a star-schema workload, database plumbing, measuring.

The workload is a dimension table and a fact table with a foreign key to it, seeded with
deterministic pseudo-random rows, and a stream of changes (updates, inserts, deletes) grouped in
application-sized transactions. Every changed key is changed exactly once, so the number of
changes equals the number of net changed rows a sync must move, and the final state of every
changed row is known in memory (the input of a benchmark's "raw limit" path).

``fact.note`` comes in two flavours (:data:`LOOKUP_VALUES`), because a benchmark that maps it
through a lookup measures something different with each: ``distinct`` notes are nearly unique
free text (a natural key mapped to a surrogate: almost every changed row brings a new value),
``repeating`` notes are one of about 200 labels, as a status, currency or country column is
(new values are rare: about 1 in 200 changed facts brings a label the seed never used).

Benchmarks print; they never assert. Tests only check that a benchmark's code path completes
and that the databases it syncs end up equal.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import random
import re
import resource
import sqlite3
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from bluegreen.dialects.base import Dialect
from bluegreen.verify import table_digest

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
ENGINES = ("sqlite", "postgresql")

# ---- measuring ----------------------------------------------------------------------------------

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


_PROCESS_PEAK = [0.0]  # the highest mark seen before any reset (the kernel forgets it)


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (Linux) so the next reading covers one phase only.

    Returns False where that is not possible; :func:`peak_rss_mb` then reports the peak of the
    whole process so far.
    """
    _PROCESS_PEAK[0] = max(_PROCESS_PEAK[0], peak_rss_mb())
    try:
        _CLEAR_REFS.write_text("5")
        return True
    except OSError:
        return False


def process_peak_rss_mb() -> float:
    """Peak resident memory of the whole process in MiB, across every reset."""
    return max(_PROCESS_PEAK[0], peak_rss_mb())


def peak_rss_mb() -> float:
    """Peak resident memory in MiB since the last :func:`reset_peak_rss` (or process start)."""
    try:
        m = re.search(r"VmHWM:\s+(\d+)\s+kB", _STATUS.read_text())
        if m:
            return int(m.group(1)) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextlib.contextmanager
def timed() -> Iterator[list[float]]:
    """``with timed() as t: ...`` then ``t[0]`` holds the elapsed seconds."""
    out = [0.0]
    t0 = time.perf_counter()
    try:
        yield out
    finally:
        out[0] = time.perf_counter() - t0


def say(text: str) -> None:
    """A progress line on stdout, flushed at once (benchmarks run for minutes)."""
    print(text, flush=True)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A plain text table with right-aligned numbers (readable in a log and in a report)."""
    cells = [[str(h) for h in headers], *[[_fmt(v) for v in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(r: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )

    print(line(cells[0]))
    print("  ".join("-" * w for w in widths))
    for r in cells[1:]:
        print(line(r))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if value < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


# ---- databases ----------------------------------------------------------------------------------


@dataclass
class PgServer:
    """One PostgreSQL server: creates, clones and drops the benchmark's own databases."""

    url: str = DEFAULT_PG_URL
    created: list[str] = field(default_factory=list)

    def url_for(self, name: str) -> str:
        base, _, rest = self.url.rpartition("/")
        query = "?" + rest.split("?", 1)[1] if "?" in rest else ""
        return f"{base}/{name}{query}"

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(self.url, autocommit=True)

    def create(self, name: str, template: str | None = None) -> str:
        """Create database ``name`` (a file-level copy of ``template`` when given)."""
        with self.admin() as conn:
            if template:
                conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            else:
                conn.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return self.url_for(name)

    def drop(self, name: str) -> None:
        with self.admin() as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name]
            )
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        if name in self.created:
            self.created.remove(name)

    def drop_all(self) -> None:
        for name in list(self.created):
            with contextlib.suppress(Exception):
                self.drop(name)

    def checkpoint(self) -> None:
        """Flush dirty pages now, so a checkpoint does not land inside a timed phase."""
        with self.admin() as conn:
            conn.execute("CHECKPOINT")


def unique_tag() -> str:
    return uuid.uuid4().hex[:8]


def sqlite_open(path: str | Path) -> sqlite3.Connection:
    """A plain connection configured like an application's (and like bluegreen's dialect)."""
    import bluegreen.dialects.sqlite  # noqa: F401  (registers the Decimal/datetime adapters)

    conn = sqlite3.connect(str(path), isolation_level=None, timeout=30.0)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA recursive_triggers = ON")
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def sqlite_clone(src: str | Path, dst: str | Path) -> None:
    """Copy a SQLite database page by page (the backup API: consistent, and fast)."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{dst}{suffix}").unlink(missing_ok=True)
    with (
        contextlib.closing(sqlite3.connect(str(src))) as a,
        contextlib.closing(sqlite3.connect(str(dst))) as b,
    ):
        a.backup(b)
    with contextlib.closing(sqlite_open(dst)):
        pass  # leave the copy in WAL mode, like the original


def sqlite_checkpoint(path: str | Path) -> None:
    """Fold the WAL back into the main file, so no checkpoint lands inside a timed phase."""
    with contextlib.closing(sqlite3.connect(str(path), isolation_level=None)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def remove_sqlite(path: str | Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


# ---- the star-schema workload -------------------------------------------------------------------

DIM = "dim"
FACT = "fact"
DIM_COLUMNS = ("id", "code", "name", "region", "weight", "created_at")
FACT_COLUMNS = ("id", "dim_id", "qty", "amount", "note", "updated_at")
COLUMNS = {DIM: DIM_COLUMNS, FACT: FACT_COLUMNS}

_TYPES = {
    "postgresql": {
        DIM: ("integer", "text", "text", "text", "numeric(12,4)", "timestamp"),
        FACT: ("bigint", "integer", "integer", "numeric(14,2)", "text", "timestamp"),
    },
    "sqlite": {
        DIM: ("INTEGER", "TEXT", "TEXT", "TEXT", "NUMERIC(12,4)", "TIMESTAMP"),
        FACT: ("INTEGER", "INTEGER", "INTEGER", "NUMERIC(14,2)", "TEXT", "TIMESTAMP"),
    },
}
_NOT_NULL = {
    DIM: {"code", "region", "weight", "created_at"},
    FACT: {"dim_id", "qty", "amount", "updated_at"},
}
_REGIONS = ("north", "south", "east", "west", "central", "überseeisch", "ост", "")
_WORDS = ("alpha", "beta", "gamma", "delta", "épsilon", "zeta", "eta", "theta", "iota", "kappa")
_EPOCH = dt.datetime(2024, 1, 1, 0, 0, 0)


def column_types(engine: str, table: str) -> tuple[str, ...]:
    return _TYPES[engine][table]


def schema_ddl(engine: str) -> list[str]:
    """The dimension, the fact (FK to the dimension, indexed), on ``engine``'s types."""
    out = []
    for table in (DIM, FACT):
        cols = [
            f"{c} {t}{' NOT NULL' if c in _NOT_NULL[table] else ''}"
            + (" PRIMARY KEY" if c == "id" else "")
            + (f" REFERENCES {DIM} (id)" if c == "dim_id" else "")
            for c, t in zip(COLUMNS[table], column_types(engine, table), strict=True)
        ]
        out.append(f"CREATE TABLE {table} ({', '.join(cols)})")
    # deleting a dimension row checks the fact's FK: without this index that is a full scan
    out.append(f"CREATE INDEX fact_dim_id ON {FACT} (dim_id)")
    return out


@dataclass(frozen=True)
class Sizes:
    """How big the seed is and how many changes (and of which kinds) are made."""

    facts: int
    dims: int
    changes: int
    tx_rows: int = 1_000
    update_share: float = 0.6
    insert_share: float = 0.3
    dim_share: float = 0.1  # share of each kind of change that hits the dimension

    @property
    def updates(self) -> int:
        return round(self.changes * self.update_share)

    @property
    def inserts(self) -> int:
        return round(self.changes * self.insert_share)

    @property
    def deletes(self) -> int:
        return self.changes - self.updates - self.inserts

    def split(self, n: int) -> tuple[int, int]:
        """(dimension, fact) share of ``n`` changes of one kind."""
        d = round(n * self.dim_share)
        return d, n - d

    def check(self) -> None:
        d_del, f_del = self.split(self.deletes)
        d_upd, f_upd = self.split(self.updates)
        if d_del + d_upd > self.dims // 2:
            raise SystemExit(
                f"--dims {self.dims} is too small for {self.changes} changes: the dimension needs "
                f"at least {2 * (d_del + d_upd)} rows (raise --dims or lower --changes)"
            )
        if f_upd + f_del > self.facts:
            raise SystemExit(
                f"--facts {self.facts} is too small for {f_upd + f_del} fact updates and deletes "
                "(raise --facts or lower --changes)"
            )


def _dim_row(rng: random.Random, key: int, version: int) -> tuple[Any, ...]:
    name = None if key % 17 == 0 else ("" if key % 23 == 0 else f"{rng.choice(_WORDS)} {key}")
    weight = decimal.Decimal(rng.randrange(0, 10**8)).scaleb(-4)
    return (
        key,
        f"D{key:08d}",
        name,
        rng.choice(_REGIONS),
        weight,
        _EPOCH + dt.timedelta(seconds=key * 7 + version, microseconds=rng.randrange(10**6)),
    )


LOOKUP_VALUES = ("distinct", "repeating")  # how ``fact.note`` is generated (module docstring)
_LABEL_NUMBERS = 20  # repeating notes: every word with 0..19, i.e. 200 labels
NEW_LABEL_SHARE = 1 / 200  # repeating notes: share of changed facts with a label the seed lacks


def _note(rng: random.Random, values: str, change: bool) -> str | None:
    """A fact's note: 10 % NULL and 5 % empty in either mode, the rest as ``values`` says.

    ``distinct`` draws exactly what the workload always drew (same rng calls, same rows).
    ``repeating`` draws one of the 200 labels; a change (``change``) instead brings, with
    probability :data:`NEW_LABEL_SHARE`, a label numbered beyond them, one no seed row has, so
    a lookup with on missing ``insert`` still takes its insert path, rarely.
    """
    r = rng.random()
    if r < 0.1:
        return None
    if r < 0.15:
        return ""
    word = rng.choice(_WORDS)
    if values == "distinct":
        return f"{word}-{rng.randrange(10**6)}"
    if change and r < 0.15 + NEW_LABEL_SHARE:
        return f"{word}-{rng.randrange(_LABEL_NUMBERS, 10**6)}"
    return f"{word}-{rng.randrange(_LABEL_NUMBERS)}"


def _fact_row(
    rng: random.Random,
    key: int,
    dim_id: int,
    version: int,
    values: str = "distinct",
) -> tuple[Any, ...]:
    """A fact row; ``version`` 0 is the seed, any other a change (see :func:`_note`)."""
    note = _note(rng, values, change=version > 0)
    amount = decimal.Decimal(rng.randrange(-(10**7), 10**9)).scaleb(-2)
    return (
        key,
        dim_id,
        rng.randrange(-5, 10_000),
        amount,
        note,
        _EPOCH + dt.timedelta(seconds=key + version * 60, microseconds=rng.randrange(10**6)),
    )


class Workload:
    """Deterministic seed rows and changes for one :class:`Sizes`.

    Dimension rows ``dims - dim_deletes + 1 .. dims`` are never referenced by a fact, so the
    changes can delete them without breaking the foreign key; every other change keeps the FK
    valid at every commit (a new fact points at a live or an already inserted dimension row).
    ``lookup_values`` picks how ``fact.note`` is generated (:data:`LOOKUP_VALUES`, module
    docstring); the default keeps the rows every benchmark has always used.
    """

    def __init__(
        self, sizes: Sizes, seed: int = 20_240_101, lookup_values: str = "distinct"
    ) -> None:
        sizes.check()
        if lookup_values not in LOOKUP_VALUES:
            raise ValueError(f"lookup_values must be one of {LOOKUP_VALUES}, not {lookup_values!r}")
        self.sizes = sizes
        self.seed = seed
        self.lookup_values = lookup_values
        d_del, _ = sizes.split(sizes.deletes)
        self.live_dims = sizes.dims - d_del  # dims a fact may reference

    # -- the seed --
    def dim_rows(self) -> Iterator[tuple[Any, ...]]:
        rng = random.Random(self.seed)
        for key in range(1, self.sizes.dims + 1):
            yield _dim_row(rng, key, 0)

    def fact_rows(self) -> Iterator[tuple[Any, ...]]:
        rng = random.Random(self.seed + 1)
        for key in range(1, self.sizes.facts + 1):
            dim_id = rng.randrange(1, self.live_dims + 1)
            yield _fact_row(rng, key, dim_id, 0, self.lookup_values)

    def _seed_dims(self, keys: set[int]) -> dict[int, int]:
        """The seed's dimension of each fact in ``keys`` (regenerated, not stored)."""
        return {row[0]: row[1] for row in self.fact_rows() if row[0] in keys}

    # -- the changes --
    def transactions(self) -> list[Transaction]:
        """Every change, grouped in transactions of ``tx_rows`` rows, in commit order."""
        s = self.sizes
        rng = random.Random(self.seed + 2)
        d_upd, f_upd = s.split(s.updates)
        d_ins, f_ins = s.split(s.inserts)
        d_del, f_del = s.split(s.deletes)
        dim_upd = rng.sample(range(1, self.live_dims + 1), d_upd)
        dim_del = list(range(self.live_dims + 1, s.dims + 1))[:d_del]
        fact_keys = rng.sample(range(1, s.facts + 1), f_upd + f_del)
        fact_upd, fact_del = fact_keys[:f_upd], fact_keys[f_upd:]
        dim_ins = list(range(s.dims + 1, s.dims + d_ins + 1))
        fact_ins = list(range(s.facts + 1, s.facts + f_ins + 1))
        n_tx = max(1, -(-s.changes // s.tx_rows))
        chunks = {
            name: _split(keys, n_tx)
            for name, keys in (
                ("dim_ins", dim_ins),
                ("dim_upd", dim_upd),
                ("dim_del", dim_del),
                ("fact_ins", fact_ins),
                ("fact_upd", fact_upd),
                ("fact_del", fact_del),
            )
        }
        out: list[Transaction] = []
        new_dims: list[int] = []
        seed_dims = self._seed_dims(set(fact_upd))
        values = self.lookup_values
        for i in range(n_tx):
            version = i + 1
            tx = Transaction()
            tx.dim_inserts = [_dim_row(rng, k, version) for k in chunks["dim_ins"][i]]
            new_dims.extend(chunks["dim_ins"][i])
            tx.dim_updates = [_dim_row(rng, k, version) for k in chunks["dim_upd"][i]]

            def pick_dim() -> int:
                if new_dims and rng.random() < 0.1:
                    return rng.choice(new_dims)
                return rng.randrange(1, self.live_dims + 1)

            tx.fact_inserts = [
                _fact_row(rng, k, pick_dim(), version, values) for k in chunks["fact_ins"][i]
            ]
            # most updates leave a fact's dimension alone (as in real fact tables); some move it
            tx.fact_updates = [
                _fact_row(
                    rng, k, pick_dim() if rng.random() < 0.1 else seed_dims[k], version, values
                )
                for k in chunks["fact_upd"][i]
            ]
            tx.fact_deletes = chunks["fact_del"][i]
            tx.dim_deletes = chunks["dim_del"][i]
            out.append(tx)
        return out


@dataclass
class Transaction:
    """One application transaction's rows (written in this order: parents first)."""

    dim_inserts: list[tuple[Any, ...]] = field(default_factory=list)
    dim_updates: list[tuple[Any, ...]] = field(default_factory=list)
    fact_inserts: list[tuple[Any, ...]] = field(default_factory=list)
    fact_updates: list[tuple[Any, ...]] = field(default_factory=list)
    fact_deletes: list[int] = field(default_factory=list)
    dim_deletes: list[int] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return (
            len(self.dim_inserts)
            + len(self.dim_updates)
            + len(self.fact_inserts)
            + len(self.fact_updates)
            + len(self.fact_deletes)
            + len(self.dim_deletes)
        )


def _split(items: list[int], n: int) -> list[list[int]]:
    """``items`` in ``n`` consecutive, nearly equal chunks."""
    q, r = divmod(len(items), n)
    out, start = [], 0
    for i in range(n):
        end = start + q + (1 if i < r else 0)
        out.append(items[start:end])
        start = end
    return out


def net_changes(txs: Sequence[Transaction]) -> dict[str, dict[int, tuple[Any, ...] | None]]:
    """Per table: changed key -> its final row, or None when it ends deleted."""
    out: dict[str, dict[int, tuple[Any, ...] | None]] = {DIM: {}, FACT: {}}
    for tx in txs:
        for row in (*tx.dim_inserts, *tx.dim_updates):
            out[DIM][row[0]] = row
        for row in (*tx.fact_inserts, *tx.fact_updates):
            out[FACT][row[0]] = row
        for key in tx.fact_deletes:
            out[FACT][key] = None
        for key in tx.dim_deletes:
            out[DIM][key] = None
    return out


# ---- writing the workload -----------------------------------------------------------------------


def seed_postgres(url: str, work: Workload) -> None:
    """Create the schema and COPY the seed in (PostgreSQL's bulk path), then VACUUM ANALYZE."""
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.transaction():
            for stmt in schema_ddl("postgresql"):
                conn.execute(stmt)
            with conn.cursor() as cur:
                for table, rows in ((DIM, work.dim_rows()), (FACT, work.fact_rows())):
                    cols = ", ".join(COLUMNS[table])
                    with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
        conn.execute("VACUUM ANALYZE")


def seed_sqlite(path: str | Path, work: Workload) -> None:
    """Create the schema and insert the seed with executemany in one transaction."""
    with contextlib.closing(sqlite_open(path)) as conn:
        conn.execute("BEGIN IMMEDIATE")
        for stmt in schema_ddl("sqlite"):
            conn.execute(stmt)
        for table, rows in ((DIM, work.dim_rows()), (FACT, work.fact_rows())):
            marks = ", ".join("?" * len(COLUMNS[table]))
            conn.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
        conn.execute("COMMIT")
        conn.execute("ANALYZE")


def _pg_unnest(table: str) -> str:
    types = column_types("postgresql", table)
    args = ", ".join(f"%s::{t.split('(')[0]}[]" for t in types)
    return f"unnest({args}) AS u ({', '.join(COLUMNS[table])})"


def apply_postgres(url: str, txs: Sequence[Transaction]) -> None:
    """Play the application on blue: each transaction as a few set-based statements."""
    stmts = {}
    for table in (DIM, FACT):
        cols = COLUMNS[table]
        stmts[table, "ins"] = (
            f"INSERT INTO {table} ({', '.join(cols)}) SELECT * FROM {_pg_unnest(table)}"
        )
        sets = ", ".join(f"{c} = u.{c}" for c in cols[1:])
        stmts[table, "upd"] = (
            f"UPDATE {table} AS t SET {sets} FROM {_pg_unnest(table)} WHERE t.id = u.id"
        )
        stmts[table, "del"] = f"DELETE FROM {table} WHERE id = ANY(%s)"

    def columns_of(rows: list[tuple[Any, ...]]) -> list[list[Any]]:
        return [list(c) for c in zip(*rows, strict=True)]

    with psycopg.connect(url, autocommit=True) as conn:
        for tx in txs:
            with conn.transaction():
                for table, kind, rows in (
                    (DIM, "ins", tx.dim_inserts),
                    (DIM, "upd", tx.dim_updates),
                    (FACT, "ins", tx.fact_inserts),
                    (FACT, "upd", tx.fact_updates),
                ):
                    if rows:
                        conn.execute(stmts[table, kind], columns_of(rows))
                if tx.fact_deletes:
                    conn.execute(stmts[FACT, "del"], [tx.fact_deletes])
                if tx.dim_deletes:
                    conn.execute(stmts[DIM, "del"], [tx.dim_deletes])


def apply_sqlite(path: str | Path, txs: Sequence[Transaction]) -> None:
    """Play the application on blue: each transaction as executemany calls (row triggers)."""
    with contextlib.closing(sqlite_open(path)) as conn:
        for tx in txs:
            conn.execute("BEGIN IMMEDIATE")
            for table, ins, upd in (
                (DIM, tx.dim_inserts, tx.dim_updates),
                (FACT, tx.fact_inserts, tx.fact_updates),
            ):
                cols = COLUMNS[table]
                if ins:
                    conn.executemany(
                        f"INSERT INTO {table} VALUES ({', '.join('?' * len(cols))})", ins
                    )
                if upd:
                    sets = ", ".join(f"{c} = ?" for c in cols[1:])
                    conn.executemany(
                        f"UPDATE {table} SET {sets} WHERE id = ?", [(*r[1:], r[0]) for r in upd]
                    )
            conn.executemany(f"DELETE FROM {FACT} WHERE id = ?", [(k,) for k in tx.fact_deletes])
            conn.executemany(f"DELETE FROM {DIM} WHERE id = ?", [(k,) for k in tx.dim_deletes])
            conn.execute("COMMIT")


# ---- comparing ----------------------------------------------------------------------------------


def digests(db: Dialect, tables: Sequence[str] = (DIM, FACT)) -> dict[str, tuple[int, str]]:
    """(rows, content hash) of each workload table, through bluegreen's own verifier."""
    schema = db.introspect()
    out = {}
    for name in tables:
        table = schema.table(name)
        d = table_digest(db, table.name, [c.name for c in table.columns])
        out[name] = (d.rows, d.digest)
    db.rollback()
    return out
