"""``bluegreen sync --follow``: the loop, and on a terminal the single keys of the console tool.

Release engineers know the original console tool's keys, so on a TTY a footer offers them:
X exit (after the current window, printing the totals), E reload the workbook now, T per-table
statistics, S totals, P pause, R resume. The keys only set events or read this session's
in-memory totals; every database call stays on the main thread, between windows. Off a
terminal (CI, a service, a pipe) there are no keys and no footer: plain log lines, and
SIGINT/SIGTERM mean X.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from bluegreen import logsetup
from bluegreen.errors import BlueGreenError, TransientError
from bluegreen.sync.runner import RunSummary, Syncer
from bluegreen.sync.state import TableStats, WindowRecord

log = logging.getLogger("bluegreen.sync")

MAX_RETRY_DELAY = 60.0
KEYS = "X exit  E reload workbook  T tables  S totals  P pause  R resume"


def totals_table(summary: RunSummary, title: str) -> Table:
    """This session's totals as one row."""
    t = summary.totals
    table = Table(title=title, title_justify="left")
    for col in ("windows", "inserts", "updates", "deletes", "(deferred)", "seconds"):
        table.add_column(col, justify="right")
    table.add_row(
        str(len([w for w in summary.windows if w.changes])),
        str(t.inserts),
        str(t.updates),
        str(t.deletes + t.deferred_deletes),
        str(t.deferred_deletes),
        f"{summary.seconds:.1f}",
    )
    return table


def per_table(rows: dict[str, TableStats], title: str) -> Table:
    """Per-table inserts, updates and deletes (deferred deletes included and shown apart)."""
    table = Table(title=title, title_justify="left")
    table.add_column("table")
    for col in ("inserts", "updates", "deletes", "(deferred)"):
        table.add_column(col, justify="right")
    for name, s in sorted(rows.items()):
        table.add_row(
            Text(name),
            str(s.inserts),
            str(s.updates),
            str(s.deletes + s.deferred_deletes),
            str(s.deferred_deletes),
        )
    return table


class FollowSession:
    """Runs ``Syncer.follow`` until told to exit, restarting it to reload the plan (E)."""

    def __init__(
        self,
        syncer: Syncer,
        interval: float,
        console: Console,
        time_budget: float | None = None,
    ) -> None:
        self.syncer = syncer
        self.interval = interval
        self.console = console
        self.time_budget = time_budget
        self.stop = threading.Event()
        self.paused = threading.Event()
        self.reload = threading.Event()
        self.quit = threading.Event()
        self.session = RunSummary()
        self.last: WindowRecord | None = None
        self.state = "running"
        self._t0 = time.perf_counter()
        self._lock = threading.Lock()
        self.failures = 0  # transient errors in a row

    # ---- events from the loop and the keys ----------------------------------------------------
    def on_window(self, record: WindowRecord) -> None:
        with self._lock:
            self.session.windows.append(record)
            self.last = record
        self.failures = 0

    def request_exit(self) -> None:
        self.quit.set()
        self.stop.set()
        self.state = "exiting after the current window"

    def handle_key(self, key: str) -> None:
        """One key press (case-insensitive); unknown keys are ignored."""
        key = key.upper()
        if key == "X":
            self.request_exit()
        elif key == "E":
            self.reload.set()
            self.stop.set()
            self.state = "reloading the workbook after the current window"
        elif key == "T":
            self.console.print(per_table(self.snapshot().table_totals(), "per table (session)"))
        elif key == "S":
            self.console.print(totals_table(self.snapshot(), "totals (session)"))
        elif key == "P":
            self.paused.set()
            self.state = "paused"
            log.info("paused: no new window until R")
        elif key == "R":
            self.paused.clear()
            self.state = "running"
            log.info("resumed")

    def snapshot(self) -> RunSummary:
        with self._lock:
            out = RunSummary(windows=list(self.session.windows))
        out.seconds = time.perf_counter() - self._t0
        return out

    def footer(self) -> Text:
        last = self.last.summary() if self.last is not None else "no window applied yet"
        text = Text()
        text.append(f"[{self.state}] ", style="bold")
        text.append(last)
        text.append("\n")
        text.append(KEYS, style="reverse")
        return text

    # ---- the loop -----------------------------------------------------------------------------
    def _remaining(self) -> float | None:
        if self.time_budget is None:
            return None
        return self.time_budget - (time.perf_counter() - self._t0)

    def run(self) -> RunSummary:
        """Follow until X (or a signal, or the time budget); returns the session's totals.

        A transient error (lost connection, deadlock, lock timeout) does not end a follow: the
        failed window rolled back, so the session waits, reconnects and carries on. Terminal
        errors end it (the caller prints message and fix)."""
        while True:
            remaining = self._remaining()
            if remaining is not None and remaining <= 0:
                break
            try:
                if self.failures:
                    self.syncer.blue.ensure_connected()
                    self.syncer.green.ensure_connected()
                self.syncer.follow(
                    self.interval,
                    self.stop,
                    time_budget=remaining,
                    on_window=self.on_window,
                    paused=self.paused,
                )
            except TransientError as exc:
                self.failures += 1
                delay = min(self.interval * 2**self.failures, MAX_RETRY_DELAY)
                log.warning("%s; retrying in %.1f s (attempt %d)", exc, delay, self.failures + 1)
                self.syncer.blue.rollback()
                self.syncer.green.rollback()
                self.stop.wait(delay)
                if self.quit.is_set():
                    break
                continue
            if self.quit.is_set() or not self.reload.is_set():
                break
            self.reload.clear()
            self.stop.clear()
            self._reload()
        self.session.seconds = time.perf_counter() - self._t0
        return self.session

    def _reload(self) -> None:
        """Rebuild the plan (the workbook is re-read); a bad workbook keeps the previous plan."""
        try:
            self.syncer.prepare(refresh=True)
        except BlueGreenError as exc:
            log.error("reload failed, still syncing with the previous plan: %s", exc)
        else:
            log.info("plan reloaded")
        finally:
            self.syncer.green.rollback()
            self.syncer.blue.rollback()
        if not self.paused.is_set():
            self.state = "running"


class ConsoleHandler(logging.Handler):
    """Log lines printed by the live console, above the footer."""

    def __init__(self, console: Console) -> None:
        super().__init__()
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.console.print(Text(self.format(record)), highlight=False, soft_wrap=True)
        except Exception:
            self.handleError(record)


@contextlib.contextmanager
def exit_on_signals(session: FollowSession) -> Iterator[None]:
    """SIGINT/SIGTERM finish the current window and exit; a second SIGINT interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[int, Any] = {}

    def handler(signum: int, _frame: object) -> None:
        if session.quit.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        log.info("signal %s: exiting after the current window", signal.Signals(signum).name)
        session.request_exit()

    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class KeyReader(threading.Thread):
    """Reads single key presses from the terminal without waiting for Enter."""

    def __init__(self, on_key: Callable[[str], None]) -> None:
        super().__init__(name="bluegreen-keys", daemon=True)
        self.on_key = on_key
        self.done = threading.Event()

    def run(self) -> None:
        if os.name == "nt":  # pragma: no cover - Windows console
            self._run_windows()
        else:
            self._run_posix()

    def _run_posix(self) -> None:
        import select
        import termios
        import tty

        fd = sys.stdin.fileno()
        saved = termios.tcgetattr(fd)
        try:
            tty.setcbreak(fd)
            while not self.done.is_set():
                ready, _, _ = select.select([fd], [], [], 0.2)
                if ready:
                    data = os.read(fd, 1)
                    if not data:
                        break
                    self.on_key(data.decode(errors="ignore"))
        finally:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)

    def _run_windows(self) -> None:  # pragma: no cover - Windows console
        import msvcrt

        while not self.done.is_set():
            if msvcrt.kbhit():
                self.on_key(msvcrt.getwch())
            else:
                time.sleep(0.1)


def follow(
    syncer: Syncer,
    interval: float,
    *,
    verbose: int,
    time_budget: float | None = None,
    interactive: bool | None = None,
    console: Console | None = None,
) -> RunSummary:
    """Follow blue; with keys and a footer when stdin is a terminal, plain logging otherwise."""
    if interactive is None:
        interactive = sys.stdin.isatty()
    console = console or Console(stderr=True)
    session = FollowSession(syncer, interval, console, time_budget)
    if not interactive:
        log.info("following blue every %.1f s (Ctrl-C exits after the current window)", interval)
        with exit_on_signals(session):
            return session.run()
    handler = ConsoleHandler(console)
    handler.setFormatter(logsetup.LineFormatter())
    logsetup.configure(verbose, handler)
    keys = KeyReader(session.handle_key)
    try:
        with (
            exit_on_signals(session),
            Live(
                get_renderable=session.footer,
                console=console,
                refresh_per_second=4,
                transient=True,
                redirect_stdout=False,
                redirect_stderr=False,
            ),
        ):
            keys.start()
            return session.run()
    finally:
        keys.done.set()
        keys.join(timeout=1.0)
        logsetup.configure(verbose)
