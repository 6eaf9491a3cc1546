"""Helpers for the fault tests: a busy shop on blue, the real CLI as a killable process, and
the checks that green equals blue and that green's history covers blue's stream exactly once.

The shop is the demo's schema (region, customer with a self-reference, product, orders) written
by the demo's FK-valid writer, plus ``ledger``: a wide table (numeric, text, timestamp, boolean,
bytes, an FK to region) that a bulk writer changes by the thousand rows per transaction, so
windows are big enough for a kill to land in any of their phases.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from bluegreen.demo import TABLES, WriterStats, create_schema, run_writer, seed_rows
from bluegreen.dialects import connect
from bluegreen.sync.state import GreenState
from bluegreen.watermark import Watermark
from tests.conftest import EnginePair

LEDGER = (
    "CREATE TABLE ledger (id INTEGER PRIMARY KEY, region_id INTEGER NOT NULL REFERENCES region "
    "(id), amount NUMERIC(14, 2) NOT NULL, note TEXT, booked_at TIMESTAMP NOT NULL, "
    "settled BOOLEAN, payload BYTEA)"
)
ALL_TABLES = (*TABLES, "ledger")
LEDGER_ROWS = 6_000


def shop_on_postgres(pair: EnginePair) -> None:
    """The demo schema and the ledger on both sides; tracking on blue before any row; seeded."""
    for side in ("blue", "green"):
        conn = pair.raw(side)
        create_schema(conn)
        conn.execute(LEDGER)
        conn.close()
    blue = connect(pair.blue_url)
    try:
        schema = blue.introspect()
        blue.enable_tracking([schema.table(t) for t in ALL_TABLES])
    finally:
        blue.close()
    seed_rows(lambda: psycopg.connect(pair.blue_url, autocommit=True), seed=7, paramstyle="format")
    with psycopg.connect(pair.blue_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO ledger SELECT g, 1 + g %% 5, g * 1.25, 'n' || g, "
            "timestamp '2025-01-01' + g * interval '1 minute', g %% 3 = 0, "
            "CASE WHEN g %% 7 = 0 THEN NULL ELSE decode(md5(g::text), 'hex') END "
            "FROM generate_series(1, %s::int) AS g",
            [LEDGER_ROWS],
        )


def bulk_change(conn: psycopg.Connection, rng: random.Random, next_id: list[int]) -> None:
    """One transaction of about 900 ledger changes: updates, deletes, inserts."""
    bucket = rng.randrange(8)
    with conn.transaction():
        conn.execute(
            "UPDATE ledger SET amount = amount + 1, note = md5(random()::text), "
            "booked_at = booked_at + interval '1 second', settled = NOT coalesce(settled, false) "
            "WHERE id %% 8 = %s",
            [bucket],
        )
        conn.execute(
            "DELETE FROM ledger WHERE id IN (SELECT id FROM ledger ORDER BY random() LIMIT 50)"
        )
        start = next_id[0]
        conn.execute(
            "INSERT INTO ledger SELECT g, 1 + g %% 5, g * 0.5, NULL, now()::timestamp, NULL, "
            "'\\x00ff'::bytea FROM generate_series(%s::int, %s::int) AS g",
            [start, start + 99],
        )
        next_id[0] = start + 100


@dataclass
class Load:
    """The demo writer and the bulk writer running on blue until :meth:`stop`."""

    pair: EnginePair
    pause: float = 0.005
    bulk_every: float = 1.0
    stop_event: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    writer: WriterStats | None = None
    bulk_transactions: int = 0

    def start(self) -> Load:
        self.threads = [
            threading.Thread(target=self._guard(self._write), name="fault-writer", daemon=True),
            threading.Thread(target=self._guard(self._bulk), name="fault-bulk", daemon=True),
        ]
        for t in self.threads:
            t.start()
        return self

    def _guard(self, fn: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                fn()
            except BaseException as exc:
                self.errors.append(exc)
                self.stop_event.set()

        return run

    def _write(self) -> None:
        self.writer = run_writer(
            lambda: psycopg.connect(self.pair.blue_url, autocommit=True),
            stop=self.stop_event,
            seed=11,
            paramstyle="format",
            pause=self.pause,
        )

    def _bulk(self) -> None:
        rng = random.Random(13)
        next_id = [LEDGER_ROWS + 1]
        with psycopg.connect(self.pair.blue_url, autocommit=True) as conn:
            while not self.stop_event.wait(self.bulk_every * rng.uniform(0.5, 1.5)):
                bulk_change(conn, rng, next_id)
                self.bulk_transactions += 1

    def stop(self) -> None:
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout=30)
        if self.errors:
            raise self.errors[0]


# ---- the real command line as killable processes ------------------------------------------------
# Importing the CLI takes seconds on a busy machine, so a kill loop that started
# ``python -m bluegreen.cli`` each time would spend its time in start-ups. A fork server imports
# ``bluegreen.cli`` once (no thread, no connection, no polars work yet: safe to fork), and forks
# one child per run; the child points its stdout and stderr at the run's log and calls
# ``bluegreen.cli.main()`` with the run's arguments, exactly what ``python -m bluegreen.cli ARGS``
# does after its imports. Each child is a separate process with its own connections: SIGKILL
# ends it as it would end a sync started from a shell.
_FORK_SERVER = """
import json, os, sys
import bluegreen.cli as cli
print("ready", flush=True)
for line in sys.stdin:
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                break
        except ChildProcessError:
            break
    job = json.loads(line)
    if job is None:
        break
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 70
        try:
            log = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.dup2(log, 1)
            os.dup2(log, 2)
            sys.argv = ["bluegreen", *job["argv"]]
            try:
                cli.main()
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    print(pid, flush=True)
"""


class ForkServer:
    """Starts ``bluegreen`` runs as forked children of one process that imported the CLI."""

    def __init__(self, cwd: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BLUEGREEN_")}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _FORK_SERVER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=cwd,
            env=env,
        )
        line = self._read(120)
        assert line.strip() == "ready", f"the fork server did not start: {line!r}"

    def _read(self, timeout: float) -> str:
        assert self.proc.stdout is not None
        box: list[str] = []
        reader = threading.Thread(target=lambda: box.append(self.proc.stdout.readline()))
        reader.daemon = True
        reader.start()
        reader.join(timeout)
        return box[0] if box else ""

    def run(self, args: list[str], log: Path) -> CliRun:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"log": str(log), "argv": args}) + "\n")
        self.proc.stdin.flush()
        return CliRun(int(self._read(30)), log)

    def close(self) -> None:
        if self.proc.stdin is not None:
            with contextlib.suppress(Exception):
                self.proc.stdin.write("null\n")
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@dataclass
class CliRun:
    """One forked ``bluegreen`` run: its pid and its log (stdout and stderr)."""

    pid: int
    log: Path
    started: float = field(default_factory=time.monotonic)

    def text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def alive(self) -> bool:
        """Running (not exited, not a zombie waiting to be reaped)."""
        try:
            stat = Path(f"/proc/{self.pid}/stat").read_text()
        except FileNotFoundError:
            return False
        return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while self.alive():
            assert time.monotonic() < deadline, f"process {self.pid} survived SIGKILL"
            time.sleep(0.005)


# ---- what phase a process was in -----------------------------------------------------------------
_PHASE = re.compile(r"window phase: (fetch|stage|apply|commit)")
_WINDOW_DONE = re.compile(r"window \S+ -> \S+: (\d+ inserts|no changes)")


def last_phase(text: str) -> str:
    """The window phase a log ends in: fetch, stage, apply, commit, ``between windows`` (a
    window finished, the next not begun) or ``startup`` (no window yet)."""
    state = "startup"
    for line in text.splitlines():
        m = _PHASE.search(line)
        if m:
            state = m.group(1)
        elif _WINDOW_DONE.search(line):
            state = "between windows"
    return state


def phase_count(text: str, phase: str) -> int:
    return sum(1 for m in _PHASE.finditer(text) if m.group(1) == phase)


# ---- checks --------------------------------------------------------------------------------------
def assert_tables_equal(pair: EnginePair, tables: tuple[str, ...] = ALL_TABLES) -> dict[str, int]:
    """Every row and every column of ``tables``, compared in key order; returns row counts."""
    counts = {}
    for t in tables:
        blue, green = pair.rows("blue", t, "id"), pair.rows("green", t, "id")
        assert len(blue) == len(green), f"{t}: blue has {len(blue)} rows, green {len(green)}"
        for b, g in zip(blue, green, strict=True):
            assert b == g, f"{t}: blue {b} != green {g}"
        counts[t] = len(blue)
    return counts


@dataclass(frozen=True)
class HistoryRow:
    window_id: int
    from_mark: Watermark
    to_mark: Watermark
    from_text: str
    to_text: str


def history(pair: EnginePair, stream: str = "default") -> list[HistoryRow]:
    green = connect(pair.green_url)
    try:
        state = GreenState(green, stream)
        ph = green.placeholder()
        rows = green.query(
            f"SELECT window_id, from_position, to_position FROM {state.t_history} "
            f"WHERE stream = {ph} ORDER BY window_id",
            [stream],
        )
    finally:
        green.close()
    return [HistoryRow(int(w), Watermark.loads(f), Watermark.loads(t), f, t) for w, f, t in rows]


def green_mark(pair: EnginePair, stream: str = "default") -> Watermark:
    green = connect(pair.green_url)
    try:
        return GreenState(green, stream).read()[0]
    finally:
        green.close()


def assert_history_exactly_once(
    pair: EnginePair, start: Watermark | None = None, exact_start: bool = True
) -> int:
    """Green's recorded windows chain from ``start`` (origin by default; ``exact_start=False``:
    from a point at or after it) with neither gap nor overlap, and blue logged no change after
    the last one that green's watermark does not hold. Returns the number of recorded windows."""
    rows = history(pair)
    assert rows, "green recorded no window"
    first = start or Watermark.start()
    if exact_start:
        assert rows[0].from_text == first.dumps(), f"first window starts at {rows[0].from_text}"
    else:
        assert first <= rows[0].from_mark, f"first window starts at {rows[0].from_text}"
    for prev, cur in itertools.pairwise(rows):
        assert cur.from_text == prev.to_text, (
            f"window {cur.window_id} starts at {cur.from_text}, but window {prev.window_id} "
            f"ended at {prev.to_text}"
        )
    for r in rows:
        assert r.to_text != r.from_text and r.from_mark <= r.to_mark, f"window {r.window_id}"
    mark = green_mark(pair)
    last = rows[-1].to_mark
    assert last <= mark
    if mark != last:  # windows that found nothing moved the watermark on: nothing was missed
        blue = connect(pair.blue_url)
        try:
            schema = blue.introspect()
            pending = {t: blue.count_changes(schema.table(t), last) for t in _tracked(blue)}
        finally:
            blue.close()
        assert not any(pending.values()), f"changes after the last recorded window: {pending}"
    return len(rows)


def _tracked(blue: Any) -> list[str]:
    return [n.name for n in blue.tracked_tables()]


@contextlib.contextmanager
def admin(url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(url, autocommit=True) as conn:
        yield conn
