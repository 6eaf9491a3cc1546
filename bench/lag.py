"""Lag: how long after a commit on blue a row is visible on green, with ``sync --follow``.

``--writers`` threads (one connection each, as an application's pool) together commit about
``--rate`` single-row transactions per second on blue, on a fixed schedule; each INSERTs a new
key from its own key range, in order, and notes the moment each COMMIT returned. The sync runs
as it does in production: ``bluegreen sync --follow --interval <s>`` in its own process. A
watcher thread polls green in a tight loop for each writer's largest key (one index probe per
writer: a window applies atomically and a writer's keys commit in order, so every key of that
writer up to the largest is visible) and notes when each key first appears. The delay of a key
is "first seen on green" minus "COMMIT returned on blue", both on this process's clock; the
watcher's poll period (printed) bounds the error from above.

Prints the p50 / p90 / p99 / max delay and the writer's achieved rate; nothing is asserted.
Target: p99 under 100 ms. Run ``uv run python -m bench.lag --help``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make ``bench`` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg

from bench.common import DEFAULT_PG_URL, PgServer, print_table, say, sqlite_open, unique_tag
from bluegreen.dialects import connect

TARGET_P99_MS = 100.0
SCHEMA = (
    "CREATE TABLE event (id BIGINT PRIMARY KEY, account INTEGER NOT NULL, "
    "amount NUMERIC(12, 2) NOT NULL, note TEXT, created_at TIMESTAMP NOT NULL)"
)
INSERT = "INSERT INTO event VALUES (?, ?, ?, ?, CURRENT_TIMESTAMP)"
WINDOW = re.compile(r"window \S+ -> \S+: \d+ inserts.* in ([0-9.]+) s")
SPAN = 1_000_000_000  # writer w inserts keys w * SPAN + 1, w * SPAN + 2, ...


@dataclass
class Result:
    engine: str
    interval: float
    seconds: float
    writers: int = 1
    committed: int = 0
    delays_ms: list[float] = field(default_factory=list)
    polls: int = 0
    poll_ms: float = 0.0
    writer_lateness_ms: list[float] = field(default_factory=list)
    sync_log: str = ""

    @property
    def rate(self) -> float:
        return self.committed / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        if not self.delays_ms:
            return float("nan")
        ordered = sorted(self.delays_ms)
        k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
        return ordered[k]


# ---- the two databases --------------------------------------------------------------------------
@contextlib.contextmanager
def databases(engine: str, pg_url: str, folder: Path) -> Iterator[tuple[str, str]]:
    """Fresh blue and green with the event table; tracking on blue."""
    if engine == "postgresql":
        pg = PgServer(pg_url)
        tag = unique_tag()
        try:
            blue = pg.create(f"bg_lag_{tag}_blue")
            green = pg.create(f"bg_lag_{tag}_green")
            for url in (blue, green):
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute(SCHEMA)
            yield blue, green
        finally:
            pg.drop_all()
    else:
        paths = [folder / "lag_blue.db", folder / "lag_green.db"]
        for p in paths:
            with contextlib.closing(sqlite_open(p)) as conn:
                conn.execute(SCHEMA)
        yield f"sqlite:///{paths[0]}", f"sqlite:///{paths[1]}"


def raw_connect(engine: str, url: str) -> Any:
    if engine == "postgresql":
        return psycopg.connect(url, autocommit=True)
    return sqlite_open(url[len("sqlite:///") :])


def sql(engine: str, text: str) -> str:
    return text.replace("?", "%s") if engine == "postgresql" else text


# ---- writer and watcher -------------------------------------------------------------------------
def write(
    engine: str,
    url: str,
    writer: int,
    schedule: tuple[float, float, float],
    commits: list[float],
    lateness: list[float],
    stop: threading.Event,
) -> None:
    """Writer ``writer``'s share: one single-row transaction every ``period`` s from ``first``
    (on a fixed schedule: a slow commit does not lower the offered rate); commits[i] is the
    moment the COMMIT of the writer's i-th key returned."""
    first, period, end = schedule
    conn = raw_connect(engine, url)
    insert = sql(engine, INSERT)
    begin = "BEGIN IMMEDIATE" if engine == "sqlite" else "BEGIN"
    try:
        i = 0
        while not stop.is_set():
            due = first + i * period
            if due >= end:
                break
            now = time.perf_counter()
            if due > now:
                time.sleep(due - now)
            lateness.append(max(0.0, time.perf_counter() - due) * 1000)
            key = writer * SPAN + i + 1
            cur = conn.cursor()
            cur.execute(begin)
            cur.execute(insert, (key, key % 97, f"{key % 1000}.25", f"event {key}"))
            cur.execute("COMMIT")
            cur.close()
            commits.append(time.perf_counter())
            i += 1
    finally:
        conn.close()


def watch(
    engine: str, url: str, seen: list[list[float]], stop: threading.Event, polls: list[int]
) -> None:
    """Poll green for each writer's largest key; seen[w][i]: when writer w's i-th key showed."""
    conn = raw_connect(engine, url)
    parts = [
        f"(SELECT COALESCE(MAX(id), {w * SPAN}) FROM event WHERE id > {w * SPAN} "
        f"AND id <= {(w + 1) * SPAN})"
        for w in range(len(seen))
    ]
    query = f"SELECT {', '.join(parts)}"
    try:
        while not stop.is_set():
            cur = conn.cursor()
            cur.execute(query)
            tops = cur.fetchone()
            cur.close()
            now = time.perf_counter()
            polls[0] += 1
            for w, top in enumerate(tops):
                count = int(top) - w * SPAN
                if count > len(seen[w]):
                    seen[w].extend([now] * (count - len(seen[w])))
    finally:
        conn.close()


# ---- one run ------------------------------------------------------------------------------------
def start_sync(blue: str, green: str, interval: float, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BLUEGREEN_")}
    args = [sys.executable, "-m", "bluegreen.cli", "sync", "--follow", "--interval", str(interval)]
    with log.open("w") as out:
        return subprocess.Popen(
            [*args, "--blue", blue, "--green", green],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )


def wait_until(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


def green_has_state(green: str) -> bool:
    from bluegreen.sync.state import GreenState

    db = connect(green)
    try:
        return GreenState(db).installed()
    finally:
        db.close()


def run(
    engine: str, seconds: float, rate: float, interval: float, writers: int, pg_url: str
) -> Result:
    result = Result(engine, interval, seconds, writers)
    with (
        tempfile.TemporaryDirectory(prefix="bluegreen-lag-") as tmp,
        databases(engine, pg_url, Path(tmp)) as (blue, green),
    ):
        db = connect(blue)
        try:
            db.enable_tracking([db.introspect().table("event")])
        finally:
            db.close()
        log = Path(tmp) / "sync.log"
        proc = start_sync(blue, green, interval, log)
        try:
            wait_until(lambda: green_has_state(green), 120, "the sync to start")
            time.sleep(1.0)  # a few idle windows: the follow loop is in its steady state
            commits: list[list[float]] = [[] for _ in range(writers)]
            seen: list[list[float]] = [[] for _ in range(writers)]
            polls = [0]
            stop = threading.Event()
            watcher = threading.Thread(target=watch, args=(engine, green, seen, stop, polls))
            watcher.start()
            say(
                f"[{engine}] {writers} writer(s), ~{rate:g} tx/s for {seconds:g} s, "
                f"sync interval {interval} s"
            )
            period = writers / rate
            t0 = time.perf_counter() + 0.1
            threads = [
                threading.Thread(
                    target=write,
                    args=(
                        engine,
                        blue,
                        w,
                        (t0 + w * period / writers, period, t0 + seconds),
                        commits[w],
                        result.writer_lateness_ms,
                        stop,
                    ),
                )
                for w in range(writers)
            ]
            try:
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                elapsed = time.perf_counter() - t0

                def caught_up() -> bool:
                    return all(len(s) >= len(c) for s, c in zip(seen, commits, strict=True))

                wait_until(caught_up, 60, "green to catch up")
            finally:
                stop.set()
                for t in threads:
                    t.join()
                watcher.join()
            watched = time.perf_counter() - t0
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
            result.sync_log = log.read_text(errors="replace")
    result.seconds = elapsed
    result.committed = sum(len(c) for c in commits)
    result.delays_ms = [
        (s - c) * 1000
        for wc, ws in zip(commits, seen, strict=True)
        for c, s in zip(wc, ws, strict=False)
    ]
    result.polls = polls[0]
    result.poll_ms = watched * 1000 / max(1, polls[0])
    return result


def report(results: list[Result]) -> None:
    print()
    print_table(
        [
            "engine",
            "writers",
            "interval s",
            "tx",
            "tx/s",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
            "mean ms",
            "poll ms",
            "writer late p99 ms",
            "p99 target",
        ],
        [
            [
                r.engine,
                r.writers,
                r.interval,
                r.committed,
                r.rate,
                r.pct(50),
                r.pct(90),
                r.pct(99),
                max(r.delays_ms) if r.delays_ms else float("nan"),
                statistics.fmean(r.delays_ms) if r.delays_ms else float("nan"),
                r.poll_ms,
                sorted(r.writer_lateness_ms)[int(0.99 * (len(r.writer_lateness_ms) - 1))]
                if r.writer_lateness_ms
                else 0.0,
                f"< {TARGET_P99_MS:g} ms: {'met' if r.pct(99) < TARGET_P99_MS else 'missed'}",
            ]
            for r in results
        ],
    )
    for r in results:
        took = [float(m.group(1)) for m in WINDOW.finditer(r.sync_log)]
        errors = [line for line in r.sync_log.splitlines() if "error" in line.lower()]
        if took:
            print(
                f"[{r.engine}] windows that applied rows: {len(took)}, their duration "
                f"p50 {statistics.median(took) * 1000:.0f} ms, max {max(took) * 1000:.0f} ms; "
                f"sync errors: {len(errors)}"
            )
        for line in errors[:5]:
            print(f"  {line}")


def main(argv: list[str] | None = None) -> list[Result]:
    p = argparse.ArgumentParser(prog="python -m bench.lag", description=__doc__.split("\n")[0])
    p.add_argument("--engine", choices=["postgresql", "sqlite", "all"], default="postgresql")
    p.add_argument("--seconds", type=float, default=60.0, help="how long the writer writes")
    p.add_argument("--rate", type=float, default=500.0, help="single-row transactions per second")
    p.add_argument("--interval", type=float, default=0.01, help="the follow loop's interval")
    p.add_argument("--writers", type=int, default=4, help="writer connections sharing the rate")
    p.add_argument("--pg-url", default=DEFAULT_PG_URL, help="server URL (databases are made)")
    p.add_argument("--quick", action="store_true", help="10 s instead of 60 s")
    args = p.parse_args(argv)
    seconds = 10.0 if args.quick else args.seconds
    engines = ["postgresql", "sqlite"] if args.engine == "all" else [args.engine]
    results = [
        run(e, seconds, args.rate, args.interval, max(1, args.writers), args.pg_url)
        for e in engines
    ]
    report(results)
    return results


if __name__ == "__main__":
    main()
