"""Prefect overhead: the same backlog through the Prefect sync flow and through the engine alone.

On PostgreSQL: blue is seeded in the server (the dimension/fact schema of ``bench.memory``), a
file-level copy of the seed is kept as the green template, tracking is enabled on blue and the
backlog is made (``--changes``, default 200,000). Then, ``--repeat`` times, on two fresh copies of
the green template:

* ``engine``: ``Syncer(blue, green).until_caught_up()``, what ``bluegreen sync`` runs;
* ``flow``: ``flows.sync.sync_green(pair=...)`` called as the schedule calls it, against a
  temporary Prefect API (``prefect_test_harness``: a local server in a subprocess, started once
  and not timed), with a saved ``BlueGreenPair`` block for the pair. The flow runs one task run
  per window and per window phase, logs to the API, measures the lag and publishes artifacts:
  all of that is the overhead measured.

The two runs alternate (engine first on odd repetitions, flow first on even ones); the best and
the median of each are printed with the overhead ratio. Both greens are compared with blue.
Target: the flow under 10 % slower. Nothing is asserted.
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

from bench.common import DEFAULT_PG_URL, PgServer, digests, print_table, say, timed, unique_tag
from bench.memory import Plan, make_changes, seed

TARGET = 1.10


@dataclass
class Result:
    changes: int
    engine_s: list[float] = field(default_factory=list)
    flow_s: list[float] = field(default_factory=list)
    flow_windows: list[int] = field(default_factory=list)
    equal: bool | None = None

    @property
    def ratio_best(self) -> float:
        return min(self.flow_s) / min(self.engine_s)

    @property
    def ratio_median(self) -> float:
        return statistics.median(self.flow_s) / statistics.median(self.engine_s)


def run_engine(blue: str, green: str, batch_size: int) -> float:
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
    return t[0]


def run_flow(blue: str, green: str, batch_size: int) -> tuple[float, int]:
    from blocks import BlueGreenPair, DatabaseConnection
    from flows.sync import sync_green

    name = f"bench-{unique_tag()}"
    BlueGreenPair(
        blue=DatabaseConnection(dialect="postgresql", connection_string=blue),
        green=DatabaseConnection(dialect="postgresql", connection_string=green),
        batch_size=batch_size,
        time_budget=3600.0,
    ).save(name)
    with timed() as t:
        report = sync_green(pair=name)
    assert isinstance(report, dict) and report.get("caught_up"), report
    return t[0], int(report.get("windows", 0))


def _digests(url: str) -> dict[str, tuple[int, str]]:
    from bluegreen.dialects import connect

    db = connect(url)
    try:
        return digests(db)
    finally:
        db.close()


def run(pg: PgServer, changes: int, repeat: int, batch_size: int, verify: bool) -> Result:
    from prefect.settings import (  # noqa: TID251  (the benchmark measures Prefect itself)
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        temporary_settings,
    )
    from prefect.testing.utilities import prefect_test_harness  # noqa: TID251

    from bluegreen.dialects import connect

    plan = Plan(changes)
    result = Result(changes)
    tag = unique_tag()
    blue_db, seed_db = f"bg_pf_{tag}_blue", f"bg_pf_{tag}_seed"
    say(f"seeding {plan.facts:,} facts; {changes:,} changes")
    blue = pg.create(blue_db)
    seed(blue, plan)
    pg.create(seed_db, template=blue_db)
    db = connect(blue)
    try:
        db.enable_tracking(list(db.introspect().tables.values()))
    finally:
        db.close()
    with timed() as t:
        make_changes(blue, plan, 10_000)
    say(f"backlog made in {t[0]:.0f} s; starting a temporary Prefect API")
    with (
        prefect_test_harness(server_startup_timeout=180),
        temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
    ):
        for rep in range(1, repeat + 1):
            greens = {kind: f"bg_pf_{tag}_{kind}{rep}" for kind in ("engine", "flow")}
            for name in greens.values():
                pg.create(name, template=seed_db)
            pg.checkpoint()
            order = ("engine", "flow") if rep % 2 else ("flow", "engine")
            for kind in order:
                url = pg.url_for(greens[kind])
                if kind == "engine":
                    result.engine_s.append(run_engine(blue, url, batch_size))
                else:
                    seconds, windows = run_flow(blue, url, batch_size)
                    result.flow_s.append(seconds)
                    result.flow_windows.append(windows)
                took = (result.engine_s if kind == "engine" else result.flow_s)[-1]
                say(f"run {rep} {kind}: {took:.2f} s")
            if verify and rep == 1:
                want = _digests(blue)
                result.equal = all(_digests(pg.url_for(n)) == want for n in greens.values())
                say(f"both greens equal blue: {result.equal}")
            for name in greens.values():
                pg.drop(name)
            time.sleep(1.0)
    return result


def report(r: Result) -> None:
    print()
    print_table(
        ["path", "changes", "runs", "best s", "median s", "best changes/s"],
        [
            [
                "engine (Syncer)",
                r.changes,
                len(r.engine_s),
                min(r.engine_s),
                statistics.median(r.engine_s),
                r.changes / min(r.engine_s),
            ],
            [
                "Prefect flow",
                r.changes,
                len(r.flow_s),
                min(r.flow_s),
                statistics.median(r.flow_s),
                r.changes / min(r.flow_s),
            ],
        ],
    )
    verdict = "met" if r.ratio_best <= TARGET else "missed"
    print(
        f"flow / engine: best {r.ratio_best:.3f}, median {r.ratio_median:.3f} "
        f"(target <= {TARGET:.2f}: {verdict}); flow windows with rows: {r.flow_windows}; "
        f"greens equal blue: {r.equal}"
    )


def main(argv: list[str] | None = None) -> Result:
    p = argparse.ArgumentParser(
        prog="python -m bench.prefect_overhead", description=__doc__.split("\n")[0]
    )
    p.add_argument("--changes", type=int, default=200_000, help="backlog size")
    p.add_argument("--repeat", type=int, default=3, help="runs of each path (best and median)")
    p.add_argument("--batch-size", type=int, default=50_000, help="the sync's read batch size")
    p.add_argument("--pg-url", default=DEFAULT_PG_URL, help="server URL (databases are made)")
    p.add_argument("--quick", action="store_true", help="20,000 changes, 2 runs")
    p.add_argument("--no-verify", action="store_true", help="skip the blue/green comparison")
    args = p.parse_args(argv)
    changes, repeat = (20_000, 2) if args.quick else (args.changes, max(1, args.repeat))
    pg = PgServer(args.pg_url)
    try:
        result = run(pg, changes, repeat, args.batch_size, not args.no_verify)
    finally:
        pg.drop_all()
    report(result)
    return result


if __name__ == "__main__":
    main()
