"""Sync throughput against the engine's raw limit, measured in the same run.

Seeds blue with a star schema (a dimension and a fact with an FK to it), clones it as green (and
as a third database for the raw run), enables change tracking on blue, makes the changes (60 %
updates, 30 % inserts, 10 % deletes, in transactions of 1,000 rows, on both tables), then times:

* ``sync``: ``Syncer(blue, green, batch_size=...).until_caught_up()`` end to end, reading
  blue's change log included;
* ``raw``: the same net changed rows, already in Python memory, pushed into a staging table with
  the engine's fastest bulk path and applied set-based (PostgreSQL: binary COPY + UPDATE ... FROM
  / INSERT ... WHERE NOT EXISTS / DELETE ... WHERE EXISTS; SQLite: executemany into a temporary
  table + upsert / delete), against the clone that still holds the seed, so both runs do the
  same work from the same starting data.

Both results are checked against blue (row counts and content hashes) and printed with their
ratio; nothing is asserted. Run ``uv run python -m bench.sync_throughput --help``.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make ``bench`` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg

from bench.common import (
    COLUMNS,
    DEFAULT_PG_URL,
    DIM,
    ENGINES,
    FACT,
    PgServer,
    Sizes,
    Workload,
    apply_postgres,
    apply_sqlite,
    column_types,
    digests,
    net_changes,
    peak_rss_mb,
    print_table,
    process_peak_rss_mb,
    remove_sqlite,
    reset_peak_rss,
    say,
    seed_postgres,
    seed_sqlite,
    sqlite_checkpoint,
    sqlite_clone,
    timed,
    unique_tag,
)
from bluegreen.dialects import connect
from bluegreen.sync.runner import RunSummary, Syncer

FULL = Sizes(facts=1_000_000, dims=100_000, changes=200_000)
QUICK = Sizes(facts=100_000, dims=10_000, changes=20_000)
RATIO_TARGET = 0.7
PG_RATE_TARGET = 60_000

# the order a set-based apply must follow: parents upserted first, children deleted before them
_PG_TYPES = {"integer": "int4", "bigint": "int8", "text": "text", "timestamp": "timestamp"}

StagedRows = dict[str, list[tuple[Any, ...]]]


@dataclass
class Run:
    """One repetition: a sync and a raw apply of the same changes, run back to back."""

    sync_seconds: float
    raw_seconds: float
    sync_rss_mb: float
    raw_rss_mb: float
    summary: RunSummary

    @property
    def ratio(self) -> float:
        return self.raw_seconds / self.sync_seconds if self.sync_seconds else 0.0


@dataclass
class Result:
    """One engine's measurements and the checks that make them trustworthy.

    With several repetitions the reported figures are those of the run whose ratio is the
    median: sync and raw of one run are measured back to back, so they share the machine's
    load of that moment, and their ratio is steadier than a ratio of separate minimums.
    """

    engine: str
    changes: int
    runs: list[Run] = field(default_factory=list)
    blue: dict[str, tuple[int, str]] = field(default_factory=dict)
    green: dict[str, tuple[int, str]] = field(default_factory=dict)
    raw: dict[str, tuple[int, str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def median(self) -> Run | None:
        if not self.runs:
            return None
        ordered = sorted(self.runs, key=lambda r: r.ratio)
        return ordered[(len(ordered) - 1) // 2]

    @property
    def summary(self) -> RunSummary | None:
        return self.median.summary if self.median else None

    @property
    def sync_seconds(self) -> float:
        return self.median.sync_seconds if self.median else 0.0

    @property
    def raw_seconds(self) -> float:
        return self.median.raw_seconds if self.median else 0.0

    @property
    def sync_rss_mb(self) -> float:
        return max((r.sync_rss_mb for r in self.runs), default=0.0)

    @property
    def raw_rss_mb(self) -> float:
        return max((r.raw_rss_mb for r in self.runs), default=0.0)

    @property
    def best_rate(self) -> float:
        best = min((r.sync_seconds for r in self.runs), default=0.0)
        return self.changes / best if best else 0.0

    @property
    def rate(self) -> float:
        return self.changes / self.sync_seconds if self.sync_seconds else 0.0

    @property
    def raw_rate(self) -> float:
        return self.changes / self.raw_seconds if self.raw_seconds else 0.0

    @property
    def ratio(self) -> float:
        return self.median.ratio if self.median else 0.0

    @property
    def target(self) -> str:
        if self.engine == "postgresql":
            return f">= {RATIO_TARGET} and >= {PG_RATE_TARGET:,}/s"
        return f">= {RATIO_TARGET}"

    @property
    def verified(self) -> bool:
        return (
            bool(self.blue) and self.blue == self.green and (not self.raw or self.raw == self.blue)
        )

    @property
    def verdict(self) -> str:
        if self.blue and not self.verified:
            return "WRONG (green != blue)"
        ok = self.ratio >= RATIO_TARGET
        if self.engine == "postgresql":  # the machine's capability: its best run
            ok = ok and self.best_rate >= PG_RATE_TARGET
        return "meets target" if ok else "below target"


# ---- the raw limit ------------------------------------------------------------------------------


def staged_rows(net: dict[str, dict[int, tuple[Any, ...] | None]]) -> StagedRows:
    """Each table's net changed rows as stage rows: the row plus 1, or the key, NULLs and 0.

    Sorted by key, the order a change read hands them to the sync (and the one that touches
    the target's pages in order; unsorted input makes SQLite's apply measurably slower).
    """
    out: StagedRows = {}
    for table, changes in net.items():
        blank = (None,) * (len(COLUMNS[table]) - 1)
        out[table] = [
            (*row, 1) if row is not None else (key, *blank, 0)
            for key, row in sorted(changes.items())
        ]
    return out


def raw_postgres(url: str, rows: StagedRows) -> float:
    """Binary COPY into temporary stages, then one set-based apply; seconds to commit.

    The connection comes from bluegreen's own dialect (the settings the sync's green has).
    """
    engine = connect(url)
    conn: psycopg.Connection = engine.conn
    with (
        contextlib.closing(engine),
        timed() as t,
        conn.transaction(),
        conn.cursor() as cur,
    ):
        for table in (DIM, FACT):
            cols = COLUMNS[table]
            types = column_types("postgresql", table)
            defs = ", ".join(f"{c} {ty}" for c, ty in zip(cols, types, strict=True))
            cur.execute(
                f"CREATE TEMP TABLE raw_{table} ({defs}, present smallint NOT NULL) ON COMMIT DROP"
            )
            with cur.copy(
                f"COPY raw_{table} ({', '.join(cols)}, present) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types([_PG_TYPES.get(ty, ty.split("(")[0]) for ty in types] + ["int2"])
                for row in rows[table]:
                    copy.write_row(row)
            cur.execute(f"ANALYZE raw_{table}")
        for stmt in _set_based(postgres=True):
            cur.execute(stmt)
    return t[0]


def raw_sqlite(path: str, rows: StagedRows) -> float:
    """executemany into temporary stages, then upserts and deletes; seconds to commit.

    The connection comes from bluegreen's own SQLite dialect, so it has the very settings
    (pragmas) the sync's green connection has.
    """
    engine = connect(f"sqlite:///{path}")
    conn = engine.conn
    with contextlib.closing(engine), timed() as t:
        conn.execute("BEGIN IMMEDIATE")
        for table in (DIM, FACT):
            cols = COLUMNS[table]
            types = column_types("sqlite", table)
            defs = ", ".join(f"{c} {ty}" for c, ty in zip(cols, types, strict=True))
            conn.execute(f"CREATE TEMP TABLE raw_{table} ({defs}, present INTEGER NOT NULL)")
            marks = ", ".join("?" * (len(cols) + 1))
            conn.executemany(f"INSERT INTO raw_{table} VALUES ({marks})", rows[table])
        for stmt in _set_based(postgres=False):
            conn.execute(stmt)
        conn.execute("COMMIT")
        conn.execute(f"DROP TABLE temp.raw_{DIM}")
        conn.execute(f"DROP TABLE temp.raw_{FACT}")
    return t[0]


def _set_based(postgres: bool) -> list[str]:
    """Parents upserted first, children deleted and upserted, parents deleted last."""

    def upsert(table: str) -> list[str]:
        cols = COLUMNS[table]
        names = ", ".join(cols)
        if postgres:  # UPDATE ... FROM, then INSERT ... WHERE NOT EXISTS
            sets = ", ".join(f"{c} = s.{c}" for c in cols[1:])
            return [
                f"UPDATE {table} AS t SET {sets} FROM raw_{table} AS s "
                "WHERE t.id = s.id AND s.present = 1",
                f"INSERT INTO {table} ({names}) SELECT {', '.join(f's.{c}' for c in cols)} "
                f"FROM raw_{table} AS s WHERE s.present = 1 AND NOT EXISTS "
                f"(SELECT 1 FROM {table} AS t WHERE t.id = s.id)",
            ]
        sets = ", ".join(f"{c} = excluded.{c}" for c in cols[1:])
        return [
            f"INSERT INTO {table} ({names}) SELECT {names} FROM raw_{table} WHERE present = 1 "
            f"ON CONFLICT (id) DO UPDATE SET {sets}"
        ]

    def delete(table: str) -> str:
        if postgres:
            return (
                f"DELETE FROM {table} AS t WHERE EXISTS "
                f"(SELECT 1 FROM raw_{table} AS s WHERE s.id = t.id AND s.present = 0)"
            )
        return f"DELETE FROM {table} WHERE id IN (SELECT id FROM raw_{table} WHERE present = 0)"

    return [*upsert(DIM), delete(FACT), *upsert(FACT), delete(DIM)]


# ---- one engine ---------------------------------------------------------------------------------


def run_sync(blue_url: str, green_url: str, batch_size: int) -> tuple[float, RunSummary]:
    """The timed, end-to-end sync through the public engine API."""
    with timed() as t:
        blue, green = connect(blue_url), connect(green_url)
        try:
            summary = Syncer(blue, green, batch_size=batch_size).until_caught_up()
        finally:
            blue.close()
            green.close()
    return t[0], summary


def _digests(url: str) -> dict[str, tuple[int, str]]:
    db = connect(url)
    try:
        return digests(db)
    finally:
        db.close()


def run_engine(
    engine: str,
    sizes: Sizes,
    *,
    batch_size: int,
    pg_url: str = DEFAULT_PG_URL,
    directory: Path | None = None,
    repeat: int = 1,
    verify: bool = True,
    keep: bool = False,
) -> Result:
    """Seed, change, then ``repeat`` times: sync and raw-apply onto fresh clones of the seed.

    The best (shortest) sync and the best raw run are reported: on a shared machine the
    shortest time is the one least disturbed by other work. The first repetition's green and
    raw databases are compared with blue.
    """
    work = Workload(sizes)
    result = Result(engine=engine, changes=sizes.changes)
    pg = PgServer(pg_url)
    tmp = None
    if engine == "sqlite" and directory is None:
        tmp = tempfile.TemporaryDirectory(prefix="bluegreen-bench-")
        directory = Path(tmp.name)
    tag = unique_tag()
    db = _Databases(engine, pg, directory, tag)
    try:
        say(f"[{engine}] seeding {sizes.dims:,} dimension and {sizes.facts:,} fact rows")
        with timed() as t:
            db.seed(work)
        say(f"[{engine}] seeded and copied in {t[0]:.1f} s; enabling tracking on blue")
        blue = connect(db.url("blue"))
        try:
            blue.enable_tracking(list(blue.introspect().tables.values()))
        finally:
            blue.close()

        txs = work.transactions()
        with timed() as t:
            db.apply(txs)
        say(
            f"[{engine}] {sizes.changes:,} changes in {len(txs)} transactions applied to blue "
            f"in {t[0]:.1f} s"
        )
        rows = staged_rows(net_changes(txs))
        del txs
        changed = sum(len(v) for v in rows.values())
        if changed != sizes.changes:  # cannot happen: every key is changed once
            result.notes.append(f"net changed rows {changed} != changes {sizes.changes}")

        for rep in range(1, repeat + 1):
            green, raw = db.clone(f"green{rep}"), db.clone(f"raw{rep}")
            # alternate the order, so a drift in the machine's load favours neither side
            if rep % 2:
                sync = _measure_sync(engine, db, green, batch_size)
                raw_seconds, raw_rss = _measure_raw(engine, db, raw, rows)
            else:
                raw_seconds, raw_rss = _measure_raw(engine, db, raw, rows)
                sync = _measure_sync(engine, db, green, batch_size)
            run = Run(sync[0], raw_seconds, sync[2], raw_rss, sync[1])
            result.runs.append(run)
            say(
                f"[{engine}] run {rep}: sync {run.sync_seconds:.2f} s, raw {raw_seconds:.2f} s, "
                f"ratio {run.ratio:.2f}"
            )
            if verify and rep == 1:
                with timed() as t:
                    result.blue = _digests(db.url("blue"))
                    result.green = _digests(db.url(green))
                    result.raw = _digests(db.url(raw))
                state = "equal" if result.verified else "DIFFERENT"
                say(f"[{engine}] blue, green and raw compared in {t[0]:.1f} s: {state}")
            if not (keep and rep == repeat):
                db.drop(green)
                db.drop(raw)
        if keep:
            say(f"[{engine}] kept: " + " ".join(db.url(n) for n in db.names))
    finally:
        if not keep:
            db.drop_all()
            if tmp is not None:
                tmp.cleanup()
    return result


def _measure_sync(
    engine: str, db: _Databases, green: str, batch_size: int
) -> tuple[float, RunSummary, float]:
    db.quiesce()
    reset_peak_rss()
    seconds, summary = run_sync(db.url("blue"), db.url(green), batch_size)
    rss = peak_rss_mb()
    say(f"[{engine}] sync: {summary.summary()}")
    for w in summary.windows:
        if w.changes:
            say(
                f"[{engine}]   window {w.window_id}: {w.changes:,} rows, read "
                f"{w.read_seconds:.2f} s, stage+apply {w.apply_seconds:.2f} s, "
                f"total {w.total_seconds:.2f} s"
            )
    return seconds, summary, rss


def _measure_raw(engine: str, db: _Databases, name: str, rows: StagedRows) -> tuple[float, float]:
    db.quiesce()
    reset_peak_rss()
    seconds = db.raw(name, rows)
    rss = peak_rss_mb()
    say(f"[{engine}] raw: {seconds:.2f} s")
    return seconds, rss


class _Databases:
    """The run's databases on one engine: blue, a pristine copy of the seed, and clones."""

    def __init__(self, engine: str, pg: PgServer, directory: Path | None, tag: str) -> None:
        self.engine = engine
        self.pg = pg
        self.directory = directory
        self.tag = tag
        self.names: list[str] = []

    def _db(self, name: str) -> str:
        return f"bg_bench_{self.tag}_{name}"

    def _path(self, name: str) -> Path:
        assert self.directory is not None
        return self.directory / f"bench_{self.tag}_{name}.db"

    def url(self, name: str) -> str:
        if self.engine == "postgresql":
            return self.pg.url_for(self._db(name))
        return f"sqlite:///{self._path(name)}"

    def seed(self, work: Workload) -> None:
        """Seed blue, then keep a copy of the seed that every clone is taken from."""
        self.names += ["blue", "seed"]
        if self.engine == "postgresql":
            seed_postgres(self.pg.create(self._db("blue")), work)
            self.pg.create(self._db("seed"), template=self._db("blue"))
        else:
            assert self.directory is not None
            self.directory.mkdir(parents=True, exist_ok=True)
            seed_sqlite(self._path("blue"), work)
            sqlite_clone(self._path("blue"), self._path("seed"))

    def clone(self, name: str) -> str:
        """A fresh file-level copy of the seed (PostgreSQL: CREATE DATABASE ... TEMPLATE)."""
        if self.engine == "postgresql":
            self.pg.create(self._db(name), template=self._db("seed"))
        else:
            sqlite_clone(self._path("seed"), self._path(name))
        self.names.append(name)
        return name

    def apply(self, txs: list[Any]) -> None:
        if self.engine == "postgresql":
            apply_postgres(self.url("blue"), txs)
        else:
            apply_sqlite(self._path("blue"), txs)

    def raw(self, name: str, rows: StagedRows) -> float:
        if self.engine == "postgresql":
            return raw_postgres(self.url(name), rows)
        return raw_sqlite(str(self._path(name)), rows)

    def quiesce(self) -> None:
        """Flush pending writes so no checkpoint of the setup lands inside a timed phase."""
        if self.engine == "postgresql":
            self.pg.checkpoint()
        else:
            for name in self.names:
                sqlite_checkpoint(self._path(name))

    def drop(self, name: str) -> None:
        if self.engine == "postgresql":
            self.pg.drop(self._db(name))
        else:
            remove_sqlite(self._path(name))
        if name in self.names:
            self.names.remove(name)

    def drop_all(self) -> None:
        for name in list(self.names):
            with contextlib.suppress(Exception):
                self.drop(name)
        self.pg.drop_all()


# ---- the command line ---------------------------------------------------------------------------


def report(results: list[Result]) -> None:
    headers = [
        "engine",
        "changes",
        "seconds",
        "changes/s",
        "raw s",
        "raw changes/s",
        "ratio",
        "target",
        "verdict",
        "peak RSS sync MiB",
        "peak RSS raw MiB",
    ]
    print()
    print_table(
        headers,
        [
            [
                r.engine,
                r.changes,
                r.sync_seconds,
                r.rate,
                r.raw_seconds,
                r.raw_rate,
                f"{r.ratio:.2f}",
                r.target,
                r.verdict,
                r.sync_rss_mb,
                r.raw_rss_mb,
            ]
            for r in results
        ],
    )
    for r in results:
        if len(r.runs) > 1:
            ratios = ", ".join(f"{run.ratio:.2f}" for run in r.runs)
            print(
                f"{r.engine}: {len(r.runs)} runs, ratios {ratios} (the table shows the median "
                f"run); best sync {r.best_rate:,.0f} changes/s"
            )
        for note in r.notes:
            print(f"note ({r.engine}): {note}")
    print(f"peak RSS of the whole process: {process_peak_rss_mb():,.0f} MiB")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.sync_throughput",
        description="Time `sync --until-caught-up` against the engine's raw bulk-apply limit.",
    )
    p.add_argument("--engine", choices=[*ENGINES, "all"], default="all")
    p.add_argument("--facts", type=int, help=f"fact rows in the seed (default {FULL.facts:,})")
    p.add_argument("--dims", type=int, help=f"dimension rows in the seed (default {FULL.dims:,})")
    p.add_argument("--changes", type=int, help=f"changes made on blue (default {FULL.changes:,})")
    p.add_argument("--tx-rows", type=int, default=1_000, help="rows per blue transaction")
    p.add_argument("--batch-size", type=int, default=50_000, help="the sync's batch size")
    p.add_argument("--pg-url", default=DEFAULT_PG_URL, help="server URL (databases are made)")
    p.add_argument("--dir", type=Path, help="folder for the SQLite files (default: a temp dir)")
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke sizes: {QUICK.facts:,} facts, {QUICK.dims:,} dims, {QUICK.changes:,} changes",
    )
    p.add_argument(
        "--repeat", type=int, default=1, help="sync and raw runs (the best of each is reported)"
    )
    p.add_argument("--no-verify", action="store_true", help="skip the blue/green/raw comparison")
    p.add_argument("--keep", action="store_true", help="keep the databases for inspection")
    return p.parse_args(argv)


def sizes_of(args: argparse.Namespace) -> Sizes:
    base = QUICK if args.quick else FULL
    return Sizes(
        facts=args.facts or base.facts,
        dims=args.dims or base.dims,
        changes=args.changes or base.changes,
        tx_rows=args.tx_rows,
    )


def main(argv: list[str] | None = None) -> list[Result]:
    args = parse_args(argv)
    sizes = sizes_of(args)
    engines = list(ENGINES) if args.engine == "all" else [args.engine]
    results = []
    for engine in engines:
        results.append(
            run_engine(
                engine,
                sizes,
                batch_size=args.batch_size,
                pg_url=args.pg_url,
                directory=args.dir,
                repeat=max(1, args.repeat),
                verify=not args.no_verify,
                keep=args.keep,
            )
        )
    report(results)
    return results


if __name__ == "__main__":
    main()
