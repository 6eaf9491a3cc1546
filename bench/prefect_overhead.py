"""Prefect overhead: the same backlog through the Prefect sync flow and through the engine alone.

On PostgreSQL, for each backlog size (``--changes``, default 200,000; the issue's size is the
5,000,000-change backlog of ``bench.memory``): blue is seeded in the server (the
dimension/fact schema of ``bench.memory``), a file-level copy of the seed is kept as the green
template, tracking is enabled on blue and the backlog is made (every key changed once, in
transactions of 10,000 rows). Then, ``--repeat`` times, on two fresh copies of the green
template:

* ``engine``: ``Syncer(blue, green).until_caught_up()``, what ``bluegreen sync`` runs;
* ``flow``: ``flows.sync.sync_green(pair=...)`` called as the schedule calls it, against a
  temporary Prefect API (``prefect_test_harness``: a local server in a subprocess, started once
  and not timed), with a saved ``BlueGreenPair`` block for the pair. Everything the flow does
  is in the time: the flow run and its states, loading the block, the sync guard's lease,
  one task run per window and per window phase, logs to the API, the lag, two artifacts.

Both paths run in this process, warm: one run of each against a small pair with nothing to do
comes first (imports, block types, the sync guard's concurrency limit: every flow run syncs a
fresh copy under one database name, so the guard takes its slot in one request, as for a copy
synced on a schedule). A ``CHECKPOINT`` precedes each timed run, and the two alternate (engine
first on odd repetitions, flow first on even ones). Per size, the best and median of each
path, the ratio of every pair, and each path's peak RSS (the kernel's high-water mark, reset
before each run) are printed, and each path's time outside its windows' own clocks (a window's
clock runs from its open to its commit; the flow's phase task runs fall inside it): the flow's
minus the engine's is Prefect's own time per run, which the windows' variance (identical runs
differ by up to 30 % on a shared machine) does not blur. Both greens are compared with blue
after the first repetition. Target: the flow under 10 % slower. Nothing is asserted.

    uv run python -m bench.prefect_overhead --repeat 5                    # 200,000 changes
    uv run python -m bench.prefect_overhead --changes 5000000 --repeat 1  # the issue's backlog
    uv run python -m bench.prefect_overhead --changes 200000 5000000 --repeat 5 1

Run ``uv run python -m bench.prefect_overhead --help``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make ``bench`` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Prefect reads its settings at import: a private home, no server of the developer's, no
# heartbeat events (as the test suite does).
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="bluegreen-bench-prefect-"))
os.environ.pop("PREFECT_API_URL", None)
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.pop("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", None)

from bench.common import (
    DEFAULT_PG_URL,
    PgServer,
    digests,
    peak_rss_mb,
    print_table,
    reset_peak_rss,
    say,
    timed,
    unique_tag,
)
from bench.memory import Plan, make_changes, seed

TARGET = 1.10
TX_ROWS = 10_000
# Every flow run syncs a green of this name (a fresh copy each time): the sync guard is named
# after the copy, so its concurrency limit exists after the warm-up, as it does for a copy
# that is synced on a schedule (only a copy's first run creates it).
FLOW_GREEN = f"bg_pf_{unique_tag()}_flowgreen"


@dataclass
class Result:
    changes: int
    engine_s: list[float] = field(default_factory=list)
    flow_s: list[float] = field(default_factory=list)
    engine_out: list[float] = field(default_factory=list)  # seconds outside the windows
    flow_out: list[float] = field(default_factory=list)
    engine_rss: list[float] = field(default_factory=list)
    flow_rss: list[float] = field(default_factory=list)
    flow_windows: list[str] = field(default_factory=list)  # "applied/opened" per flow run
    equal: bool | None = None

    @property
    def ratio_best(self) -> float:
        return min(self.flow_s) / min(self.engine_s)

    @property
    def ratio_median(self) -> float:
        return statistics.median(self.flow_s) / statistics.median(self.engine_s)

    @property
    def pair_ratios(self) -> list[float]:
        return [f / e for e, f in zip(self.engine_s, self.flow_s, strict=False)]

    @property
    def orchestration(self) -> list[float]:
        """Per pair: the flow's time outside its windows minus the engine's (Prefect's own)."""
        return [f - e for e, f in zip(self.engine_out, self.flow_out, strict=False)]


def run_engine(blue: str, green: str, batch_size: int) -> tuple[float, float]:
    """(wall seconds, seconds outside the windows' own clocks)."""
    from bluegreen.dialects import connect
    from bluegreen.sync.runner import Syncer

    with timed() as t:
        b, g = connect(blue), connect(green)
        try:
            summary = Syncer(b, g, batch_size=batch_size).until_caught_up()
        finally:
            b.close()
            g.close()
    assert summary.caught_up
    return t[0], t[0] - sum(w.total_seconds for w in summary.windows if w.changes)


def save_pair(blue: str, green: str, batch_size: int) -> str:
    from blocks import BlueGreenPair, DatabaseConnection

    name = f"bench-{unique_tag()}"
    BlueGreenPair(
        blue=DatabaseConnection(dialect="postgresql", connection_string=blue),
        green=DatabaseConnection(dialect="postgresql", connection_string=green),
        batch_size=batch_size,
        time_budget=4 * 3600.0,  # a 5,000,000-change window on a busy machine takes minutes
    ).save(name)
    return name


def run_flow(blue: str, green: str, batch_size: int) -> tuple[float, float, str]:
    """(wall seconds, seconds outside the windows' own clocks, "applied/opened" windows)."""
    from flows.sync import sync_green

    name = save_pair(blue, green, batch_size)
    with timed() as t:
        report = sync_green(pair=name)
    assert isinstance(report, dict) and report.get("caught_up"), report
    windows = f"{report.get('windows', 0)}/{report.get('windows_opened', 0)}"
    return t[0], t[0] - float(report.get("window_seconds", 0.0)), windows


def warm_up(pg: PgServer, tag: str, batch_size: int) -> None:
    """One run of each path against a small tracked pair with nothing to do: imports, block
    types and the first API calls are paid here, not in the first timed run."""
    from bluegreen.dialects import connect
    from flows.sync import sync_green

    blue, green = pg.create(f"bg_pf_{tag}_wblue"), pg.create(FLOW_GREEN)
    for url in (blue, green):
        seed(url, Plan(0))
    db = connect(blue)
    try:
        db.enable_tracking(list(db.introspect().tables.values()))
    finally:
        db.close()
    run_engine(blue, green, batch_size)
    sync_green(pair=save_pair(blue, green, batch_size))
    pg.drop(f"bg_pf_{tag}_wblue")
    pg.drop(FLOW_GREEN)


def _digests(url: str) -> dict[str, tuple[int, str]]:
    from bluegreen.dialects import connect

    db = connect(url)
    try:
        return digests(db)
    finally:
        db.close()


def run_size(pg: PgServer, changes: int, repeat: int, batch_size: int, verify: bool) -> Result:
    from bluegreen.dialects import connect

    plan = Plan(changes)
    result = Result(changes)
    tag = unique_tag()
    blue_db, seed_db = f"bg_pf_{tag}_blue", f"bg_pf_{tag}_seed"
    say(f"[{changes:,}] seeding {plan.facts:,} facts")
    blue = pg.create(blue_db)
    seed(blue, plan)
    pg.create(seed_db, template=blue_db)
    db = connect(blue)
    try:
        db.enable_tracking(list(db.introspect().tables.values()))
    finally:
        db.close()
    with timed() as t:
        make_changes(blue, plan, TX_ROWS)
    say(f"[{changes:,}] backlog made in {t[0]:.0f} s")
    for rep in range(1, repeat + 1):
        greens = {"engine": f"bg_pf_{tag}_engine{rep}", "flow": FLOW_GREEN}
        for name in greens.values():
            pg.create(name, template=seed_db)
        order = ("engine", "flow") if rep % 2 else ("flow", "engine")
        for kind in order:
            url = pg.url_for(greens[kind])
            pg.checkpoint()  # the previous run's writes are not flushed inside this one
            time.sleep(1.0)
            reset_peak_rss()
            if kind == "engine":
                seconds, outside = run_engine(blue, url, batch_size)
                result.engine_s.append(seconds)
                result.engine_out.append(outside)
                result.engine_rss.append(peak_rss_mb())
            else:
                seconds, outside, windows = run_flow(blue, url, batch_size)
                result.flow_s.append(seconds)
                result.flow_out.append(outside)
                result.flow_rss.append(peak_rss_mb())
                result.flow_windows.append(windows)
            say(
                f"[{changes:,}] run {rep} {kind}: {seconds:.2f} s ({outside:.2f} s outside windows)"
            )
        if verify and rep == 1:
            want = _digests(blue)
            result.equal = all(_digests(pg.url_for(n)) == want for n in greens.values())
            say(f"[{changes:,}] both greens equal blue: {result.equal}")
        for name in greens.values():
            pg.drop(name)
    for name in (blue_db, seed_db):
        pg.drop(name)
    return result


def run(pg: PgServer, sizes: list[tuple[int, int]], batch_size: int, verify: bool) -> list[Result]:
    from prefect.settings import (  # noqa: TID251  (the benchmark measures Prefect itself)
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        temporary_settings,
    )
    from prefect.testing.utilities import prefect_test_harness  # noqa: TID251

    say("starting a temporary Prefect API")
    with (
        prefect_test_harness(server_startup_timeout=180),
        temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
    ):
        warm_up(pg, unique_tag(), batch_size)
        return [run_size(pg, n, repeat, batch_size, verify) for n, repeat in sizes]


def report(results: list[Result]) -> None:
    print()
    rows = []
    for r in results:
        for path, seconds, outside, rss in (
            ("engine (Syncer)", r.engine_s, r.engine_out, r.engine_rss),
            ("Prefect flow", r.flow_s, r.flow_out, r.flow_rss),
        ):
            rows.append(
                [
                    path,
                    r.changes,
                    len(seconds),
                    min(seconds),
                    statistics.median(seconds),
                    r.changes / min(seconds),
                    statistics.median(outside),
                    max(rss),
                ]
            )
    print_table(
        [
            "path",
            "changes",
            "runs",
            "best s",
            "median s",
            "best changes/s",
            "outside windows s",
            "peak RSS MiB",
        ],
        rows,
    )
    for r in results:
        verdict = "met" if r.ratio_median <= TARGET else "missed"
        pairs = ", ".join(f"{x:.2f}" for x in r.pair_ratios)
        own = ", ".join(f"{x:.2f}" for x in r.orchestration)
        print(
            f"{r.changes:,} changes: flow / engine median {r.ratio_median:.3f}, best "
            f"{r.ratio_best:.3f}, per pair {pairs} (target <= {TARGET:.2f}: {verdict}); "
            f"flow windows applied/opened: {', '.join(r.flow_windows)}; greens equal blue: "
            f"{r.equal}"
        )
        print(
            f"{r.changes:,} changes: Prefect's own time per run (flow minus engine, both outside "
            f"the windows' own clocks) median {statistics.median(r.orchestration):.2f} s, per "
            f"pair {own}"
        )


def main(argv: list[str] | None = None) -> list[Result]:
    p = argparse.ArgumentParser(
        prog="python -m bench.prefect_overhead", description=__doc__.split("\n")[0]
    )
    p.add_argument(
        "--changes",
        type=int,
        nargs="+",
        default=[200_000],
        help="backlog sizes (default 200000; the issue's backlog is 5000000)",
    )
    p.add_argument(
        "--repeat",
        type=int,
        nargs="+",
        default=[3],
        help="runs of each path per size: one number for every size, or one per size",
    )
    p.add_argument("--batch-size", type=int, default=50_000, help="the sync's read batch size")
    p.add_argument("--pg-url", default=DEFAULT_PG_URL, help="server URL (databases are made)")
    p.add_argument("--quick", action="store_true", help="20,000 changes, 2 runs")
    p.add_argument("--no-verify", action="store_true", help="skip the blue/green comparison")
    args = p.parse_args(argv)
    if args.quick:
        sizes = [(20_000, 2)]
    else:
        repeats = args.repeat * len(args.changes) if len(args.repeat) == 1 else args.repeat
        if len(repeats) != len(args.changes):
            p.error("--repeat takes one number, or one per --changes size")
        sizes = [(n, max(1, r)) for n, r in zip(args.changes, repeats, strict=True)]
    pg = PgServer(args.pg_url)
    try:
        results = run(pg, sizes, args.batch_size, not args.no_verify)
    finally:
        pg.drop_all()
    report(results)
    return results


if __name__ == "__main__":
    main()
