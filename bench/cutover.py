"""Cutover: the write freeze of a cutover under a live writer, by database size, next to the
read-only window of the rolling upgrade (no change tracking) on the same data and script.

On PostgreSQL, for each size (default 1,000,000 then 10,000,000 fact rows):

1. **Seed** (not timed): a ``dim`` table (``rows / 100`` rows, 100 to 10,000) and a ``fact``
   table of ``rows`` rows (bigint key, FK to ``dim``, integer, numeric, text with NULLs,
   timestamp), loaded by ``COPY ... FROM STDIN`` from an in-process generator, keys and the
   FK index built after the load, then ``VACUUM ANALYZE``. Each method below starts from its
   own ``CREATE DATABASE ... TEMPLATE`` clone of this seed.
2. **Cutover** (change tracking): ``prepare_green`` (a copy of blue, tracking enabled on blue,
   the baseline recorded, the first sync); a paced writer starts (``--writers`` connections
   sharing ``--rate`` single-row transactions per second, half INSERTs of new keys, half
   UPDATEs of random existing rows, each reading the ``FileSwitch`` before every transaction
   and writing where it points) and the sync follows it (``Syncer.follow`` in a thread, the
   sync schedule). The upgrade script is applied to green the way the pause-for-schema-change
   flow does it (sync paused, schema recorded, script run, mapping re-checked, sync resumed),
   the sync catches up for ``--warmup`` seconds, then ``cutover(...)`` runs; the ``freeze``
   phase's ``before`` hook stops the sync, as the cutover flow pauses its schedule.
3. **Rolling upgrade** (no tracking): a fresh clone of the seed, the same writer (the switch
   names ``blue`` and ``stage``), ``--warmup`` seconds, then ``rolling_upgrade(...)`` with the
   same script: freeze, copy, upgrade, count, switch, all inside the read-only window.

Each window is measured twice: by the writer (first refused write on blue to the first write
accepted on the new side, both the moment the database answered) and by the engine (the
receipt's ``freeze_seconds``, from the freeze call to the switch). Checked, and printed, never
asserted: no write was accepted by blue after its freeze (the writer's log, and for the
cutover blue's change log since the version at the freeze); green equalled blue at the switch
(the cutover's own ``verify_pair``, counts and content hashes) and the rolling stage matched
blue's row counts; every insert blue acknowledged is on the new side. Target: a cutover freeze
under 1 s at every size and no growth with size. Run ``uv run python -m bench.cutover --help``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import multiprocessing as mp
import random
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make ``bench`` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg

from bench.common import DEFAULT_PG_URL, PgServer, print_table, say, timed, unique_tag
from bluegreen.dialects import connect
from bluegreen.release import (
    FileSwitch,
    PhaseHooks,
    Receipt,
    ReleaseFailed,
    ReleasePair,
    check_schema_change,
    cutover,
    pause_for_schema_change,
    prepare_green,
    rolling_upgrade,
)
from bluegreen.release.switch import TrafficSwitch

SIZES = (1_000_000, 10_000_000)
QUICK_SIZES = (20_000, 200_000)
TARGET_SECONDS = 1.0
GROWTH_LIMIT = 1.5
""""No growth": the largest size's freeze at most this many times the smallest's (noise)."""
SCRIPT = (
    "ALTER TABLE fact ADD COLUMN channel TEXT;\n"
    "CREATE INDEX fact_updated_at ON fact (updated_at);\n"
)
KEY_BASE = 10**12  # the writer's new keys: KEY_BASE + writer * SPAN + n (far above the seed)
SPAN = 10**9

DDL = (
    "CREATE TABLE dim (id INTEGER NOT NULL, code TEXT NOT NULL, name TEXT, "
    "weight NUMERIC(12, 4) NOT NULL, created_at TIMESTAMP NOT NULL)",
    "CREATE TABLE fact (id BIGINT NOT NULL, dim_id INTEGER NOT NULL, qty INTEGER NOT NULL, "
    "amount NUMERIC(14, 2) NOT NULL, note TEXT, updated_at TIMESTAMP NOT NULL)",
)
CONSTRAINTS = (
    "ALTER TABLE dim ADD PRIMARY KEY (id)",
    "ALTER TABLE fact ADD PRIMARY KEY (id)",
    "ALTER TABLE fact ADD FOREIGN KEY (dim_id) REFERENCES dim (id)",
    "CREATE INDEX fact_dim_id ON fact (dim_id)",
)
INSERT = (
    "INSERT INTO fact (id, dim_id, qty, amount, note, updated_at) "
    "VALUES (%s, %s, 1, 1.25, %s, localtimestamp)"
)
UPDATE = "UPDATE fact SET qty = qty + 1, updated_at = localtimestamp WHERE id = %s"


# ---- the seed -----------------------------------------------------------------------------------
_WORDS = ("alpha", "beta", "gamma", "delta", "épsilon", "zeta", "eta", "theta", "iota", "kappa")
_NULL = "\\N"
_PERIOD = 9_973  # the non-key columns repeat with this period (a prime): cheap and varied


def dims_for(rows: int) -> int:
    return max(100, min(10_000, rows // 100))


def _fact_tails(dims: int) -> list[str]:
    out = []
    for i in range(_PERIOD):
        note = _NULL if i % 10 == 0 else ("" if i % 23 == 0 else f"{_WORDS[i % 10]}-{i * 7}")
        stamp = (
            f"2024-{1 + i % 12:02d}-{1 + i % 28:02d} "
            f"{i % 24:02d}:{i // 24 % 60:02d}:{i // 1440 % 60:02d}"
        )
        out.append(
            f"\t{i * 7919 % dims + 1}\t{i % 10_000}\t{i * 37 % 10_000_000}.{i % 100:02d}"
            f"\t{note}\t{stamp}\n"
        )
    return out


def fact_chunks(rows: int, dims: int, chunk: int = 200_000) -> Iterator[str]:
    """COPY text for ``rows`` fact rows, ``chunk`` rows at a time (about 1 s per million)."""
    tails = _fact_tails(dims)
    for lo in range(1, rows + 1, chunk):
        yield "".join(
            [f"{i}{tails[i % _PERIOD]}" for i in range(lo, min(rows, lo + chunk - 1) + 1)]
        )


def dim_text(dims: int) -> str:
    return "".join(
        f"{k}\tD{k:08d}\t{_NULL if k % 17 == 0 else _WORDS[k % 10] + ' ' + str(k)}"
        f"\t{k * 31 % 100_000}.{k % 10_000:04d}\t2023-{1 + k % 12:02d}-{1 + k % 28:02d} 12:00:00\n"
        for k in range(1, dims + 1)
    )


def seed(pg: PgServer, name: str, rows: int) -> str:
    """Create database ``name`` holding ``dim`` and ``rows`` facts (see the module doc)."""
    url = pg.create(name)
    dims = dims_for(rows)
    with psycopg.connect(url, autocommit=True) as conn:
        for stmt in DDL:
            conn.execute(stmt)
        with conn.cursor() as cur:
            with cur.copy("COPY dim (id, code, name, weight, created_at) FROM STDIN") as cp:
                cp.write(dim_text(dims))
            cols = "id, dim_id, qty, amount, note, updated_at"
            with cur.copy(f"COPY fact ({cols}) FROM STDIN") as cp:
                for text in fact_chunks(rows, dims):
                    cp.write(text)
        for stmt in CONSTRAINTS:
            conn.execute(stmt)
        conn.execute("VACUUM ANALYZE")
    pg.checkpoint()
    return url


# ---- the application ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Attempt:
    """One single-row transaction: where it went, when it started and got its answer (epoch
    seconds), whether it committed, and the new key of an INSERT."""

    side: str
    start: float
    end: float
    ok: bool
    key: int | None = None
    error: str = ""


class PacedWriter:
    """``writers`` connections sharing ``rate`` single-row transactions per second on a fixed
    schedule; before each one the switch is read and the transaction goes to the side it
    names. A slot missed by more than one period (a blackout: connections refused) is dropped,
    not made up in a burst, so the offered rate stays ``rate``. A refused write keeps its
    session when the session survived (a read-only session answers fast); a broken one is
    reopened at the next attempt."""

    def __init__(
        self,
        urls: dict[str, str],
        switch: TrafficSwitch,
        *,
        rate: float,
        writers: int,
        facts: int,
        first_side: str = "blue",
    ) -> None:
        self.urls = urls
        self.switch = switch
        self.rate = rate
        self.writers = max(1, writers)
        self.facts = facts
        self.dims = dims_for(facts)
        self.first_side = first_side
        self._stop = threading.Event()
        self._log: list[list[Attempt]] = [[] for _ in range(self.writers)]
        self.skipped = [0] * self.writers
        self._threads: list[threading.Thread] = []
        self.started = 0.0
        self.stopped = 0.0

    def start(self) -> None:
        t0 = time.perf_counter() + 0.05
        self.started = time.time()
        self._threads = [
            threading.Thread(target=self._run, args=(w, t0), daemon=True)
            for w in range(self.writers)
        ]
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=30)
        self.stopped = time.time()

    @property
    def attempts(self) -> list[Attempt]:
        return sorted((a for log in self._log for a in log), key=lambda a: a.start)

    def _run(self, w: int, t0: float) -> None:
        rng = random.Random(w)
        period = self.writers / self.rate
        due = t0 + w * period / self.writers
        conns: dict[str, psycopg.Connection[Any]] = {}
        log = self._log[w]
        n = 0
        try:
            while not self._stop.is_set():
                now = time.perf_counter()
                if due > now:
                    if self._stop.wait(due - now):
                        break
                elif now - due > period:
                    missed = int((now - due) / period)
                    self.skipped[w] += missed
                    due += missed * period
                due += period
                try:
                    side = self.switch.active() or self.first_side
                except Exception:  # a torn read cannot happen (atomic replace); be safe anyway
                    continue
                n += 1
                key = KEY_BASE + w * SPAN + n if n % 2 else None
                start = time.time()
                try:
                    conn = conns.get(side)
                    if conn is None:
                        conn = psycopg.connect(self.urls[side], autocommit=True, connect_timeout=5)
                        conns[side] = conn
                    if key is not None:
                        conn.execute(INSERT, (key, key % self.dims + 1, f"w{w}"))
                    else:
                        conn.execute(UPDATE, (rng.randint(1, self.facts),))
                except psycopg.Error as exc:
                    log.append(Attempt(side, start, time.time(), False, key, _first_line(exc)))
                    broken = conns.get(side)
                    if broken is not None and (broken.broken or broken.closed):
                        conns.pop(side)
                        with contextlib.suppress(Exception):
                            broken.close()
                    continue
                log.append(Attempt(side, start, time.time(), True, key))
        finally:
            for conn in conns.values():
                with contextlib.suppress(Exception):
                    conn.close()


class WriterProcess:
    """A :class:`PacedWriter` in its own process, as the application is: the cutover's
    verify hashes rows in Python, and writer threads sharing its interpreter lock would be
    starved (late slots, late observations). The switch is a file both processes read."""

    def __init__(
        self,
        urls: dict[str, str],
        switch: FileSwitch,
        *,
        rate: float,
        writers: int,
        facts: int,
        first_side: str = "blue",
    ) -> None:
        self.rate = rate
        self.config = {
            "urls": dict(urls),
            "switch": str(switch.path),
            "rate": rate,
            "writers": writers,
            "facts": facts,
            "first_side": first_side,
        }
        ctx = mp.get_context("spawn")
        self._stop = ctx.Event()
        self._ready = ctx.Event()
        self._out: Any = ctx.Queue()
        self._proc = ctx.Process(
            target=_writer_main, args=(self.config, self._stop, self._ready, self._out)
        )
        self.attempts: list[Attempt] = []
        self.skipped: list[int] = []
        self.started = 0.0
        self.stopped = 0.0

    def start(self) -> None:
        """Start the process and wait until its writers run (importing takes a moment)."""
        self._proc.start()
        if not self._ready.wait(120):
            self._proc.kill()
            raise SystemExit("the writer process did not start within 120 s")

    def stop(self) -> None:
        self._stop.set()
        self.attempts, self.skipped, self.started, self.stopped = self._out.get(timeout=120)
        self._proc.join(timeout=30)


def _writer_main(config: dict[str, Any], stop: Any, ready: Any, out: Any) -> None:
    writer = PacedWriter(
        config["urls"],
        FileSwitch(config["switch"]),
        rate=config["rate"],
        writers=config["writers"],
        facts=config["facts"],
        first_side=config["first_side"],
    )
    writer.start()
    ready.set()
    try:
        stop.wait()
    finally:
        writer.stop()
        out.put((writer.attempts, writer.skipped, writer.started, writer.stopped))


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]


class Follower:
    """The sync schedule: ``Syncer.follow`` in a thread; ``stop()`` lets the running window
    finish (as pausing a schedule waits for the run in flight)."""

    def __init__(self, pair: ReleasePair, interval: float) -> None:
        self.pair = pair
        self.interval = interval
        self.windows = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=120)
            self._thread = None

    def _run(self) -> None:
        blue, green = self.pair.connect_blue(), self.pair.connect_green()
        try:
            summary = self.pair.syncer(blue, green).follow(self.interval, self._stop)
            self.windows += len([w for w in summary.windows if w.changes])
        except Exception as exc:
            self.errors.append(_first_line(exc))
        finally:
            blue.close()
            green.close()


# ---- measuring one method -----------------------------------------------------------------------
@dataclass
class Window:
    """One method's freeze (or read-only window) on one size, and what was checked."""

    method: str
    rows: int
    outcome: str = ""
    writer_seconds: float | None = None
    engine_seconds: float | None = None
    phases: dict[str, float] = field(default_factory=dict)
    refused: int = 0
    accepted: int = 0
    offered_rate: float = 0.0
    achieved_rate: float = 0.0
    skipped: int = 0
    checks: dict[str, bool] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    keys_in_freeze: int | None = None  # the cutover's keyed verify: changed keys it compared

    @property
    def ok(self) -> bool:
        return self.outcome == "switched" and all(self.checks.values())

    def check_text(self) -> str:
        if not self.checks:
            return self.outcome or "-"
        bad = [k for k, v in self.checks.items() if not v]
        return "all ok" if not bad else "FAILED: " + ", ".join(bad)


def _epoch(iso: str | None) -> float | None:
    return dt.datetime.fromisoformat(iso).timestamp() if iso else None


def _phase_end(receipt: Receipt, name: str) -> float | None:
    for p in receipt.phases:
        if p.name == name:
            return _epoch(p.finished_at)
    return None


def measure_writer(
    win: Window, writer: WriterProcess, old: str, new: str, since: float, frozen_at: float | None
) -> None:
    """The writer's view: first refused write on ``old`` (after ``since``) to the first write
    accepted on ``new``; and whether ``old`` accepted anything that started after
    ``frozen_at`` (the freeze confirmed)."""
    attempts = writer.attempts
    refused = [a for a in attempts if not a.ok and a.side == old and a.end >= since]
    accepted_new = [a for a in attempts if a.ok and a.side == new]
    win.refused = len([a for a in attempts if not a.ok])
    win.accepted = len([a for a in attempts if a.ok])
    span = max(1e-9, writer.stopped - writer.started)
    win.offered_rate = writer.rate
    win.achieved_rate = len(attempts) / span
    win.skipped = sum(writer.skipped)
    if refused and accepted_new:
        win.writer_seconds = min(a.end for a in accepted_new) - min(a.end for a in refused)
    errors: dict[str, int] = {}
    for a in refused:
        errors[a.error] = errors.get(a.error, 0) + 1
    win.errors = [f"{n} x {e}" for e, n in sorted(errors.items(), key=lambda x: -x[1])[:3]]
    if frozen_at is not None:
        late = [a for a in attempts if a.ok and a.side == old and a.start >= frozen_at]
        win.checks[f"{old} accepted no write after its freeze"] = not late
        if late:
            win.notes.append(f"{len(late)} write(s) accepted by {old} after its freeze")


def acknowledged_kept(writer: WriterProcess, old: str, new_url: str) -> tuple[bool, str]:
    """Every INSERT ``old`` acknowledged is on the new side (nothing was lost at the switch)."""
    keys = [a.key for a in writer.attempts if a.ok and a.side == old and a.key is not None]
    with psycopg.connect(new_url, autocommit=True) as conn:
        found = conn.execute("SELECT count(*) FROM fact WHERE id = ANY(%s)", [keys]).fetchone()
    n = int(found[0]) if found else 0
    return n == len(keys), f"{n} of {len(keys)} insert(s) acknowledged by {old} are on the new side"


@dataclass
class Settings:
    rate: float
    writers: int
    warmup: float
    settle: float
    interval: float
    script: str
    folder: Path


def run_cutover(pg: PgServer, seed_name: str, rows: int, prefix: str, s: Settings) -> Window:
    """Clone, prepare green, upgrade green under the writer, cut over; measure and check."""
    win = Window("cutover", rows)
    blue = pg.create(f"{prefix}_blue", template=seed_name)
    green_name = f"{prefix}_green"
    green = pg.url_for(green_name)
    pg.created.append(green_name)
    switch = FileSwitch(s.folder / f"{prefix}_switch.json")
    switch.point_to("blue")
    pair = ReleasePair.of(blue, green)
    with timed() as t:
        prepared = prepare_green(pair, method="copy", enable_tracking=True)
    say(f"  cutover: green prepared in {t[0]:.1f} s ({prepared.outcome})")
    pg.checkpoint()
    writer = WriterProcess(
        {"blue": blue, "green": green}, switch, rate=s.rate, writers=s.writers, facts=rows
    )
    follower = Follower(pair, s.interval)
    writer.start()
    follower.start()
    try:
        time.sleep(s.warmup / 2)
        # the schema change on green, as the pause-for-schema-change flow makes it
        follower.stop()
        pause_for_schema_change(pair)
        with timed() as t:
            db = connect(green)
            try:
                db.run_script(s.script, doing="run the upgrade script on green")
            finally:
                db.close()
        report = check_schema_change(pair)
        follower.start()
        say(
            f"  cutover: upgrade script ran on green in {t[0]:.1f} s (blue kept taking writes); "
            f"mapping re-check {'ok' if report.ok else 'FAILED: ' + str(report.reason)}"
        )
        time.sleep(s.warmup)  # the sync catches up with what the writer did meanwhile

        def before(phase: str) -> None:
            if phase == "freeze":
                follower.stop()  # the cutover flow pauses the sync schedule here

        since = time.time()
        receipt: Any
        try:
            receipt = cutover(pair, switch, hooks=PhaseHooks(before=before))
        except ReleaseFailed as exc:
            receipt = exc.receipt
            win.notes.append(f"cutover {receipt.outcome}: {receipt.reason} (fix: {receipt.fix})")
        time.sleep(s.settle)
    finally:
        follower.stop()
        writer.stop()
    win.outcome = receipt.outcome
    win.engine_seconds = getattr(receipt, "freeze_seconds", None)
    win.phases = {k: v for k, v in receipt.phase_seconds().items() if v is not None}
    win.notes += [f"the sync follower stopped on an error: {e}" for e in follower.errors]
    for i, r in enumerate(getattr(receipt, "pre_verification", []) or []):
        win.notes.append(f"pre-verify pass {i + 1} ({r.seconds:.2f} s): {r.summary()}")
    if getattr(receipt, "verification", None) is not None:
        win.keys_in_freeze = receipt.verification.keys_checked
    frozen_at = _epoch(getattr(receipt, "freeze_confirmed_at", None))
    measure_writer(win, writer, "blue", "green", since, frozen_at)
    if win.outcome != "switched":
        return win
    # blue's change log agrees: nothing was written on blue after the version at the freeze
    db = connect(blue)
    try:
        schema = db.introspect()
        later = 0
        for name in db.tracked_tables():
            table = schema.find(name)
            if table is not None and receipt.version_at_freeze is not None:
                later += db.count_changes(table, receipt.version_at_freeze)
    finally:
        db.close()
    win.checks["blue's change log is empty after the freeze"] = later == 0
    verification = receipt.verification
    win.checks["green = blue at the switch (pre-verify + keyed verify)"] = bool(
        verification is not None and verification.ok
    )
    if verification is not None:
        win.notes.append(f"verify at the switch: {verification.summary()}")
    kept, text = acknowledged_kept(writer, "blue", green)
    win.checks["every acknowledged insert is on green"] = kept
    win.notes.append(text)
    return win


def run_rolling(pg: PgServer, seed_name: str, rows: int, prefix: str, s: Settings) -> Window:
    """Clone, then the rolling upgrade with the same script under the same writer."""
    win = Window("rolling", rows)
    blue = pg.create(f"{prefix}_rblue", template=seed_name)
    stage_name = f"{prefix}_stage"
    stage = pg.url_for(stage_name)
    pg.created.append(stage_name)
    switch = FileSwitch(s.folder / f"{prefix}_rswitch.json")
    switch.point_to("blue")
    pg.checkpoint()
    writer = WriterProcess(
        {"blue": blue, "stage": stage}, switch, rate=s.rate, writers=s.writers, facts=rows
    )
    writer.start()
    try:
        time.sleep(s.warmup)
        since = time.time()
        receipt: Any
        try:
            receipt = rolling_upgrade(blue, stage, switch, s.script)
        except ReleaseFailed as exc:
            receipt = exc.receipt
            win.notes.append(f"rolling {receipt.outcome}: {receipt.reason} (fix: {receipt.fix})")
        time.sleep(s.settle)
    finally:
        writer.stop()
    win.outcome = receipt.outcome
    win.engine_seconds = getattr(receipt, "freeze_seconds", None)
    win.phases = {k: v for k, v in receipt.phase_seconds().items() if v is not None}
    measure_writer(win, writer, "blue", "stage", since, _phase_end(receipt, "freeze"))
    if win.outcome != "switched":
        return win
    counts = receipt.counts
    win.checks["stage = blue at the switch (row counts)"] = bool(counts) and all(
        a == b for a, b in counts.values()
    )
    win.notes.append(
        "counts at the switch: " + ", ".join(f"{k} {a}/{b}" for k, (a, b) in counts.items())
    )
    kept, text = acknowledged_kept(writer, "blue", stage)
    win.checks["every acknowledged insert is on the stage"] = kept
    win.notes.append(text)
    return win


# ---- one size -----------------------------------------------------------------------------------
@dataclass
class SizeResult:
    rows: int
    seed_seconds: float = 0.0
    cutovers: list[Window] = field(default_factory=list)
    rollings: list[Window] = field(default_factory=list)

    @staticmethod
    def median(windows: Sequence[Window]) -> Window | None:
        """The run with the median writer-seen window (the lower middle for an even count)."""
        done = [w for w in windows if w.writer_seconds is not None]
        if not done:
            return windows[0] if windows else None
        ordered = sorted(done, key=lambda w: w.writer_seconds or 0.0)
        return ordered[(len(ordered) - 1) // 2]

    @property
    def cutover(self) -> Window | None:
        return self.median(self.cutovers)

    @property
    def rolling(self) -> Window | None:
        return self.median(self.rollings)


def run_size(pg: PgServer, rows: int, repeat: int, s: Settings, keep: bool) -> SizeResult:
    tag = unique_tag()
    result = SizeResult(rows)
    seed_name = f"bg_bench_ct_{tag}_seed"
    say(f"[{rows:,} rows] seeding {seed_name} ({dims_for(rows):,} dimension rows) ...")
    with timed() as t:
        seed(pg, seed_name, rows)
    result.seed_seconds = t[0]
    say(f"[{rows:,} rows] seeded in {t[0]:.1f} s")
    for r in range(1, repeat + 1):
        prefix = f"bg_bench_ct_{tag}_r{r}"
        say(f"[{rows:,} rows] run {r}/{repeat}: cutover")
        w = run_cutover(pg, seed_name, rows, prefix, s)
        result.cutovers.append(w)
        _say_window(w)
        if not keep:
            for suffix in ("blue", "green"):
                pg.drop(f"{prefix}_{suffix}")
        say(f"[{rows:,} rows] run {r}/{repeat}: rolling upgrade")
        w = run_rolling(pg, seed_name, rows, prefix, s)
        result.rollings.append(w)
        _say_window(w)
        if not keep:
            for suffix in ("rblue", "stage"):
                pg.drop(f"{prefix}_{suffix}")
    if not keep:
        pg.drop(seed_name)
    return result


def _s(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def _say_window(w: Window) -> None:
    phases = ", ".join(f"{k} {v:.3f}" for k, v in w.phases.items())
    say(
        f"  {w.method}: {w.outcome}; window {_s(w.writer_seconds)} s (writer), "
        f"{_s(w.engine_seconds)} s (engine); phases: {phases}"
    )
    say(
        f"  {w.method}: writer {w.achieved_rate:.0f} tx/s attempted of {w.offered_rate:g} "
        f"offered ({w.skipped} late slot(s) dropped), {w.accepted} accepted, {w.refused} "
        f"refused; checks: {w.check_text()}"
    )
    for line in w.notes:
        say(f"    {line}")
    for line in w.errors:
        say(f"    refused: {line}")


# ---- report -------------------------------------------------------------------------------------
def verdict(results: Sequence[SizeResult]) -> tuple[bool, str]:
    """Under 1 s at every size (writer's view and engine's) and no growth, largest vs smallest."""
    cut = [r.cutover for r in results]
    if not results or any(w is None or w.writer_seconds is None for w in cut):
        return False, "missed: a cutover did not complete (see above)"
    writer = [w.writer_seconds or 0.0 for w in cut if w is not None]
    engine = [w.engine_seconds or 0.0 for w in cut if w is not None]
    worst = max(writer + engine)
    smallest, largest = writer[0], writer[-1]
    growth = largest / smallest if smallest > 0 else float("inf")
    ok = worst < TARGET_SECONDS and growth <= GROWTH_LIMIT
    checks = all(w is not None and w.ok for w in cut)
    text = (
        f"{'met' if ok and checks else 'missed'}: longest freeze {worst:.3f} s "
        f"(target < {TARGET_SECONDS:g} s); writer-seen freeze {smallest:.3f} s at "
        f"{results[0].rows:,} rows -> {largest:.3f} s at {results[-1].rows:,} rows, "
        f"x{growth:.2f} (no growth: at most x{GROWTH_LIMIT:g})"
    )
    if not checks:
        text += "; a correctness check failed (see above)"
    return ok and checks, text


def report(results: Sequence[SizeResult], seconds: float | None = None) -> None:
    print()
    rows = []
    for r in results:
        c, w = r.cutover, r.rolling
        ratio = "-"
        if c and w and c.writer_seconds and w.writer_seconds:
            ratio = f"{w.writer_seconds / c.writer_seconds:,.2f}"
        rows.append(
            [
                r.rows,
                _s(c.writer_seconds if c else None),
                _s(c.engine_seconds if c else None),
                _s(c.phases.get("pre-verify") if c else None),
                _s(c.phases.get("verify") if c else None),
                "-" if c is None or c.keys_in_freeze is None else f"{c.keys_in_freeze:,}",
                _s(_without_verify(c)),
                _s(w.writer_seconds if w else None),
                _s(w.engine_seconds if w else None),
                ratio,
                "ok" if c and w and c.ok and w.ok else "FAILED",
            ]
        )
    print_table(
        [
            "rows",
            "cutover freeze s (writer)",
            "(engine)",
            "pre-verify s (live)",
            "of which verify s",
            "keys verified in freeze",
            "(engine) less verify",
            "rolling read-only s (writer)",
            "(engine)",
            "rolling / cutover",
            "checks",
        ],
        rows,
    )
    print()
    print_table(
        ["rows", "method", *_phase_names(results)],
        [
            [r.rows, w.method, *[_s(w.phases.get(p)) for p in _phase_names(results)]]
            for r in results
            for w in (r.cutover, r.rolling)
            if w is not None
        ],
    )
    for r in results:
        if len(r.cutovers) > 1:
            print(
                f"{r.rows:,} rows: writer-seen cutover freezes "
                + ", ".join(_s(w.writer_seconds) for w in r.cutovers)
                + "; rolling windows "
                + ", ".join(_s(w.writer_seconds) for w in r.rollings)
                + " (the tables show the median run)"
            )
    target = f"cutover freeze < {TARGET_SECONDS:g} s, no growth with size"
    print(f"target ({target}): {verdict(results)[1]}")
    if seconds is not None:
        print(f"whole run (seeding included): {seconds / 60:.1f} min")


def _without_verify(w: Window | None) -> float | None:
    """The freeze without the verify phase: the part that does not read every row."""
    if w is None or w.engine_seconds is None:
        return None
    return w.engine_seconds - w.phases.get("verify", 0.0)


def _phase_names(results: Sequence[SizeResult]) -> list[str]:
    names: list[str] = []
    for r in results:
        for w in (*r.cutovers, *r.rollings):
            names += [p for p in w.phases if p not in names]
    return names


# ---- command line -------------------------------------------------------------------------------
def parse_sizes(text: str) -> list[int]:
    try:
        sizes = [int(x.replace("_", "")) for x in text.split(",") if x.strip()]
    except ValueError:
        raise SystemExit(f"--sizes {text!r}: give row counts separated by commas") from None
    if not sizes or any(n < 100 for n in sizes):
        raise SystemExit(f"--sizes {text!r}: every size needs at least 100 rows")
    return sorted(sizes)


def main(argv: list[str] | None = None) -> list[SizeResult]:
    p = argparse.ArgumentParser(
        prog="python -m bench.cutover",
        description="The cutover's write freeze under a ~500 tx/s writer, by database size, next "
        "to the read-only window of the rolling upgrade (no change tracking) on the same data "
        "and upgrade script (PostgreSQL). Prints; asserts nothing.",
        epilog=f"Target: a cutover freeze under {TARGET_SECONDS:g} s at every size and no growth "
        f"(the largest size's at most x{GROWTH_LIMIT:g} the smallest's). See bench/README.md.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--sizes",
        default=",".join(str(n) for n in SIZES),
        help="fact rows per database, comma-separated",
    )
    p.add_argument("--quick", action="store_true", help="sizes 20000,200000 (a minute or two)")
    p.add_argument("--rate", type=float, default=500.0, help="writer transactions per second")
    p.add_argument("--writers", type=int, default=8, help="writer connections sharing --rate")
    p.add_argument(
        "--warmup", type=float, default=5.0, help="seconds the writer runs (and green syncs) first"
    )
    p.add_argument("--settle", type=float, default=1.0, help="seconds the writer runs after")
    p.add_argument("--interval", type=float, default=0.05, help="the sync follow loop's interval")
    p.add_argument(
        "--script",
        type=Path,
        help="upgrade script file (none: the built-in one, a column and an index added on fact)",
    )
    p.add_argument("--repeat", type=int, default=1, help="runs per size; tables show the median")
    p.add_argument("--pg-url", default=DEFAULT_PG_URL, help="server URL (databases are made)")
    p.add_argument("--keep", action="store_true", help="keep the databases and print their URLs")
    args = p.parse_args(argv)
    sizes = list(QUICK_SIZES) if args.quick else parse_sizes(args.sizes)
    script = args.script.read_text(encoding="utf-8") if args.script else SCRIPT
    pg = PgServer(args.pg_url)
    results: list[SizeResult] = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bluegreen-cutover-") as tmp:
        s = Settings(
            rate=args.rate,
            writers=max(1, args.writers),
            warmup=args.warmup,
            settle=args.settle,
            interval=args.interval,
            script=script,
            folder=Path(tmp),
        )
        say(
            f"cutover bench: sizes {', '.join(f'{n:,}' for n in sizes)}; writer ~{s.rate:g} tx/s "
            f"over {s.writers} connection(s); upgrade script: {' '.join(script.split())}"
        )
        try:
            for rows in sizes:
                results.append(run_size(pg, rows, max(1, args.repeat), s, args.keep))
        finally:
            if args.keep:
                for name in pg.created:
                    say(f"kept {pg.url_for(name)}")
            else:
                pg.drop_all()
    report(results, time.perf_counter() - t0)
    return results


if __name__ == "__main__":
    main()
