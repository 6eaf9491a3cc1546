"""Memory: drain a 5,000,000-change backlog with a bounded peak RSS, at the 200,000-change rate.

On PostgreSQL, for each backlog size (default 200,000 then 5,000,000 changes):

1. blue gets a dimension and a fact table (FK, indexed) seeded in the server
   (``generate_series``), green is a file-level copy of that seed (``CREATE DATABASE ...
   TEMPLATE``), and tracking is enabled on blue;
2. the changes are made on blue in application-sized transactions (``--tx-rows``), set-based
   and in the server, so the benchmark itself holds no rows: 59 % fact updates, 30 % fact
   inserts, 10 % fact deletes, 1 % dimension updates, every key changed once (changed keys =
   changes);
3. a separate process drains the backlog (``Syncer(...).until_caught_up()`` with the engine's
   default batch size, as ``bluegreen sync`` does) and its peak RSS is read from the kernel
   when it ends (``os.wait4`` rusage, the same figure as ``resource.getrusage``);
4. green is compared with blue (row counts and content hashes).

Prints, per size: changes, seconds, changes/s, peak RSS of the drain, and the throughput ratio
of the big run to the small one (the small one is drained ``--reference-runs`` times, each
from a fresh seed, and its median taken). Targets: peak RSS under 512 MB; throughput within 10 % of
the 200,000-change run. Nothing is asserted. Run ``uv run python -m bench.memory --help``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make ``bench`` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg

from bench.common import DEFAULT_PG_URL, PgServer, digests, print_table, say, timed, unique_tag

RSS_TARGET_MB = 512
RATIO_TARGET = 0.9
SIZES = (200_000, 5_000_000)

SCHEMA = (
    "CREATE TABLE dim (id INTEGER PRIMARY KEY, code TEXT NOT NULL, name TEXT, "
    "weight NUMERIC(12, 4) NOT NULL, updated_at TIMESTAMP NOT NULL)",
    "CREATE TABLE fact (id BIGINT PRIMARY KEY, dim_id INTEGER NOT NULL REFERENCES dim (id), "
    "qty INTEGER NOT NULL, amount NUMERIC(14, 2) NOT NULL, note TEXT, "
    "updated_at TIMESTAMP NOT NULL)",
    "CREATE INDEX fact_dim_id ON fact (dim_id)",
)


@dataclass(frozen=True)
class Plan:
    """How a backlog of ``changes`` is made: key ranges, each key changed once."""

    changes: int

    @property
    def dim_updates(self) -> int:
        return round(self.changes * 0.01)

    @property
    def fact_updates(self) -> int:
        return round(self.changes * 0.59)

    @property
    def fact_deletes(self) -> int:
        return round(self.changes * 0.10)

    @property
    def fact_inserts(self) -> int:
        return self.changes - self.dim_updates - self.fact_updates - self.fact_deletes

    @property
    def facts(self) -> int:
        """Seed rows: every update and delete has its own row, and a tenth more stay as they are."""
        return self.fact_updates + self.fact_deletes + self.changes // 10

    @property
    def dims(self) -> int:
        return max(1_000, 2 * self.dim_updates)


def seed(url: str, plan: Plan) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.transaction():
            for stmt in SCHEMA:
                conn.execute(stmt)
            conn.execute(
                "INSERT INTO dim SELECT g, 'D' || g, CASE WHEN g %% 17 = 0 THEN NULL ELSE "
                "'dimension ' || g END, g * 0.0001, timestamp '2024-01-01' + g * interval '1 s' "
                "FROM generate_series(1, %s::int) AS g",
                [plan.dims],
            )
            conn.execute(
                "INSERT INTO fact SELECT g, 1 + g %% %s::int, g %% 1000, g * 0.01, "
                "CASE WHEN g %% 10 = 0 THEN NULL ELSE 'note ' || g END, "
                "timestamp '2024-01-01' + g * interval '1 s' "
                "FROM generate_series(1, %s::bigint) AS g",
                [plan.dims, plan.facts],
            )
        conn.execute("VACUUM ANALYZE")


def make_changes(url: str, plan: Plan, tx_rows: int) -> int:
    """The changes, in transactions of ``tx_rows`` rows, set-based; returns transactions."""
    u, x, i = plan.fact_updates, plan.fact_deletes, plan.fact_inserts
    work = [
        (
            "UPDATE dim SET name = 'renamed ' || id, weight = weight + 1, "
            "updated_at = updated_at + interval '1 day' WHERE id BETWEEN %s AND %s",
            1,
            plan.dim_updates,
        ),
        (
            "UPDATE fact SET qty = qty + 1, amount = amount + 0.5, note = 'changed ' || id, "
            "updated_at = updated_at + interval '1 day' WHERE id BETWEEN %s AND %s",
            1,
            u,
        ),
        ("DELETE FROM fact WHERE id BETWEEN %s AND %s", u + 1, u + x),
        (
            "INSERT INTO fact SELECT g, 1 + g %% 997, 1, g * 0.02, 'new ' || g, "
            "timestamp '2025-01-01' FROM generate_series(%s::bigint, %s::bigint) AS g",
            plan.facts + 1,
            plan.facts + i,
        ),
    ]
    transactions = 0
    with psycopg.connect(url, autocommit=True) as conn:
        for sql, first, last in work:
            start = first
            while start <= last:
                end = min(last, start + tx_rows - 1)
                with conn.transaction():
                    conn.execute(sql, [start, end])
                transactions += 1
                start = end + 1
    return transactions


# ---- the drain, in its own process ------------------------------------------------------------
def drain(blue: str, green: str, batch_size: int) -> dict[str, float | int]:
    """Run in the child: sync until caught up, return what it did."""
    from bluegreen.dialects import connect
    from bluegreen.sync.runner import Syncer

    b, g = connect(blue), connect(green)
    try:
        t0 = time.perf_counter()
        summary = Syncer(b, g, batch_size=batch_size).until_caught_up()
        seconds = time.perf_counter() - t0
    finally:
        b.close()
        g.close()
    applied = [w for w in summary.windows if w.changes]
    return {
        "seconds": seconds,
        "changes": sum(w.changes for w in applied),
        "windows": len(applied),
        "caught_up": int(summary.caught_up),
        # where the time went (the windows' own figures: read blue, stage + apply on green)
        "read_s": sum(w.read_seconds for w in applied),
        "stage_apply_s": sum(w.apply_seconds for w in applied),
    }


def drain_in_child(blue: str, green: str, batch_size: int) -> tuple[dict[str, float | int], float]:
    """(the child's report, its peak RSS in MiB from the kernel's rusage)."""
    args = [sys.executable, "-m", "bench.memory", "drain", blue, green, str(batch_size)]
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, cwd=root)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"the drain failed (exit {proc.returncode})")
    return json.loads(out.decode().strip().splitlines()[-1]), usage.ru_maxrss / 1024


@dataclass
class Result:
    changes: int
    facts: int = 0
    seconds: float = 0.0
    rss_mb: float = 0.0
    windows: int = 0
    staged: int = 0
    read_s: float = 0.0
    stage_apply_s: float = 0.0
    setup: dict[str, float] = field(default_factory=dict)
    equal: bool | None = None
    rates: list[float] = field(default_factory=list)  # every run of this size (changes/s)

    @property
    def rate(self) -> float:
        return self.changes / self.seconds if self.seconds else 0.0


def run_size(pg: PgServer, changes: int, tx_rows: int, batch_size: int, verify: bool) -> Result:
    plan = Plan(changes)
    result = Result(changes, plan.facts)
    tag = unique_tag()
    blue_db, green_db = f"bg_mem_{tag}_blue", f"bg_mem_{tag}_green"
    try:
        say(f"[{changes:,}] seeding {plan.facts:,} facts and {plan.dims:,} dimension rows")
        with timed() as t:
            blue = pg.create(blue_db)
            seed(blue, plan)
            green = pg.create(green_db, template=blue_db)
        result.setup["seed s"] = t[0]
        from bluegreen.dialects import connect

        db = connect(blue)
        try:
            db.enable_tracking(list(db.introspect().tables.values()))
        finally:
            db.close()
        with timed() as t:
            n = make_changes(blue, plan, tx_rows)
        result.setup["changes s"] = t[0]
        say(f"[{changes:,}] {changes:,} changes in {n:,} transactions on blue in {t[0]:.0f} s")
        pg.checkpoint()
        report, rss = drain_in_child(blue, green, batch_size)
        result.seconds = float(report["seconds"])
        result.windows = int(report["windows"])
        result.staged = int(report["changes"])
        result.read_s = float(report.get("read_s", 0.0))
        result.stage_apply_s = float(report.get("stage_apply_s", 0.0))
        result.rss_mb = rss
        say(
            f"[{changes:,}] drained in {result.seconds:.1f} s ({result.rate:,.0f} changes/s), "
            f"{result.windows} window(s), peak RSS {rss:.0f} MiB"
        )
        if verify:
            with timed() as t:
                result.equal = _digests(blue) == _digests(green)
            say(f"[{changes:,}] blue and green compared in {t[0]:.0f} s: equal={result.equal}")
    finally:
        for name in (blue_db, green_db):
            pg.drop(name)
    return result


def _digests(url: str) -> dict[str, tuple[int, str]]:
    from bluegreen.dialects import connect

    db = connect(url)
    try:
        return digests(db)
    finally:
        db.close()


def report(results: list[Result]) -> None:
    base = results[0]
    print()
    print_table(
        [
            "changes",
            "seed facts",
            "drain s",
            "changes/s",
            "vs first",
            "windows",
            "read s",
            "stage+apply s",
            "peak RSS MiB",
            "RSS target",
            "green == blue",
        ],
        [
            [
                r.changes,
                r.facts,
                r.seconds,
                r.rate,
                f"{r.rate / base.rate:.2f}" if base.rate else "-",
                r.windows,
                r.read_s,
                r.stage_apply_s,
                r.rss_mb,
                f"< {RSS_TARGET_MB}: {'met' if r.rss_mb < RSS_TARGET_MB else 'missed'}",
                "-" if r.equal is None else ("yes" if r.equal else "NO"),
            ]
            for r in results
        ],
    )
    for r in results:
        if len(r.rates) > 1:
            rates = ", ".join(f"{x:,.0f}" for x in r.rates)
            print(f"{r.changes:,} changes, {len(r.rates)} runs: {rates} changes/s (median shown)")
    if len(results) > 1 and base.rate:
        ratio = results[-1].rate / base.rate
        verdict = "met" if ratio >= RATIO_TARGET else "missed"
        print(
            f"throughput of {results[-1].changes:,} vs {base.changes:,} changes: {ratio:.2f} "
            f"(target >= {RATIO_TARGET}: {verdict})"
        )


def main(argv: list[str] | None = None) -> list[Result]:
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["drain"]:  # the child
        blue, green, batch = argv[1], argv[2], int(argv[3])
        print(json.dumps(drain(blue, green, batch)), flush=True)
        return []
    p = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__.split("\n")[0])
    p.add_argument(
        "--changes",
        type=int,
        nargs="+",
        default=list(SIZES),
        help="backlog sizes, the first is the reference (default 200000 5000000)",
    )
    p.add_argument("--tx-rows", type=int, default=10_000, help="rows per blue transaction")
    p.add_argument("--batch-size", type=int, default=50_000, help="the sync's read batch size")
    p.add_argument("--pg-url", default=DEFAULT_PG_URL, help="server URL (databases are made)")
    p.add_argument("--quick", action="store_true", help="20,000 and 200,000 changes")
    p.add_argument("--no-verify", action="store_true", help="skip the blue/green comparison")
    p.add_argument(
        "--reference-runs",
        type=int,
        default=3,
        help="drains of the first (reference) size, each from a fresh seed; the median is the "
        "reference (a 2-3 s drain varies by tens of percent on a shared machine)",
    )
    args = p.parse_args(argv)
    sizes = [20_000, 200_000] if args.quick else args.changes
    pg = PgServer(args.pg_url)
    try:
        results = []
        for i, n in enumerate(sizes):
            runs = [
                run_size(pg, n, args.tx_rows, args.batch_size, not args.no_verify)
                for _ in range(max(1, args.reference_runs) if i == 0 else 1)
            ]
            chosen = sorted(runs, key=lambda r: r.rate)[len(runs) // 2]
            chosen.rates = [r.rate for r in runs]
            chosen.equal = all(r.equal for r in runs) if chosen.equal is not None else None
            results.append(chosen)
    finally:
        pg.drop_all()
    report(results)
    return results


if __name__ == "__main__":
    main()
