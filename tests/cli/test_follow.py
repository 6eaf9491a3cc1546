"""``sync --follow``: the single keys on a terminal, signals off a terminal."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console

from bluegreen.cli_follow import FollowSession
from bluegreen.demo import create_schema
from bluegreen.sync.runner import Syncer
from tests.cli.conftest import bg, count
from tests.conftest import EnginePair

BLUEGREEN = Path(sys.executable).parent / "bluegreen"
ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")


def wait_for(check: Callable[[], bool], seconds: float = 10.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.05)
    return check()


@pytest.fixture
def tracked(sqlite_pair: EnginePair) -> EnginePair:
    for side in ("blue", "green"):
        create_schema(sqlite_pair.raw(side))
    assert bg("tracking", "enable", "--db", sqlite_pair.blue_url).exit_code == 0
    sqlite_pair.run("blue", "INSERT INTO region (id, code, name) VALUES (1, 'BY', 'Bayern')")
    return sqlite_pair


def follow_args(pair: EnginePair) -> list[str]:
    urls = ["--blue", pair.blue_url, "--green", pair.green_url]
    return [str(BLUEGREEN), "sync", "--follow", "--interval", "0.1", *urls]


def add_region(pair: EnginePair, rid: int) -> None:
    pair.run("blue", f"INSERT INTO region (id, code, name) VALUES ({rid}, 'R', 'Region {rid}')")


def test_keys_pause_resume_reload_and_exit(tracked: EnginePair) -> None:
    pair = tracked
    blue, green = pair.blue(), pair.green()
    syncer = Syncer(blue, green)
    session = FollowSession(syncer, 0.05, Console(file=open(os.devnull, "w")))  # noqa: SIM115
    runner = threading.Thread(target=session.run)
    runner.start()
    try:
        assert wait_for(lambda: count(pair, "green", "region") == 1)
        session.handle_key("p")
        assert session.paused.is_set() and session.state == "paused"
        time.sleep(0.2)  # a window that was already running may finish
        add_region(pair, 2)
        time.sleep(0.5)
        assert count(pair, "green", "region") == 1  # paused: nothing applied
        session.handle_key("R")
        assert wait_for(lambda: count(pair, "green", "region") == 2)

        # E: a column both sides gained after the plan was built joins it only with the reload
        for side in ("blue", "green"):
            pair.run(side, "ALTER TABLE region ADD COLUMN label TEXT")

        def planned() -> list[str]:
            plan = syncer._plan
            return [] if plan is None else [c for t in plan.targets for c in t.columns]

        time.sleep(0.3)
        assert "label" not in planned()
        session.handle_key("e")
        assert wait_for(lambda: "label" in planned())
        pair.run("blue", "UPDATE region SET label = 'x' WHERE id = 1")
        assert wait_for(lambda: pair.rows("green", "region", "1")[0][-1] == "x")
        assert runner.is_alive()

        session.handle_key("x")
        runner.join(timeout=10)
        assert not runner.is_alive()
    finally:
        session.request_exit()
        runner.join(timeout=10)
    totals = session.session.totals
    assert (totals.inserts, totals.updates) == (2, 1)  # region 1, region 2; the label
    touched = sorted(k for k, v in session.session.table_totals().items() if v.total)
    assert touched == ["region"]


def read_pty(fd: int, seconds: float, until: str | None = None) -> str:
    out = b""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
            if until and until in ANSI.sub("", out.decode(errors="replace")):
                break
    return ANSI.sub("", out.decode(errors="replace"))


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_terminal_footer_and_keys(tracked: EnginePair) -> None:
    import pty

    pair = tracked
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        follow_args(pair),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        close_fds=True,
    )
    os.close(slave)
    try:
        seen = read_pty(master, 15, until="X exit")
        assert "X exit" in seen and "P pause" in seen  # the footer
        assert wait_for(lambda: count(pair, "green", "region") == 1)
        os.write(master, b"s")
        seen = read_pty(master, 5, until="totals (session)")
        assert "totals (session)" in seen
        os.write(master, b"t")
        seen = read_pty(master, 5, until="per table (session)")
        assert "per table (session)" in seen and "region" in seen
        os.write(master, b"p")
        seen = read_pty(master, 5, until="[paused]")
        assert "[paused]" in seen
        os.write(master, b"r")
        seen = read_pty(master, 5, until="resumed")
        add_region(pair, 2)
        assert wait_for(lambda: count(pair, "green", "region") == 2)
        os.write(master, b"x")
        seen = read_pty(master, 10, until="seconds")
        assert proc.wait(timeout=15) == 0
        assert "totals" in seen
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)


@pytest.mark.skipif(os.name == "nt", reason="POSIX signals")
def test_plain_follow_exits_cleanly_on_sigterm(tracked: EnginePair) -> None:
    pair = tracked
    proc = subprocess.Popen(
        follow_args(pair),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_for(lambda: count(pair, "green", "region") == 1, 15)
        add_region(pair, 2)
        assert wait_for(lambda: count(pair, "green", "region") == 2)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "X exit" not in out + err  # no footer off a terminal
    assert "exiting after the current window" in err
    assert err.count(" inserts, ") >= 2  # one line per window
    assert "totals" in out and "per table" in out


def test_console_script_smoke(tmp_path: Path) -> None:
    """The installed entry point runs, and a bluegreen error exits 2 without a traceback."""
    help_text = subprocess.run(
        [BLUEGREEN, "--help"], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    for command in ("sync", "status", "stats", "verify", "demo", "tracking"):
        assert command in help_text
    failed = subprocess.run(
        [BLUEGREEN, "sync", "--blue", "sqlite:///b.db"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if not k.startswith("BLUEGREEN_")},
    )
    assert failed.returncode == 2
    assert "no green connection string" in failed.stderr and "fix:" in failed.stderr
    assert "Traceback" not in failed.stderr


@pytest.mark.postgresql
def test_follow_survives_a_lost_connection(
    pg_pair: EnginePair, caplog: pytest.LogCaptureFixture
) -> None:
    """A transient error (green's backend killed) costs a retry, not the follow session."""
    pair = pg_pair
    for side in ("blue", "green"):
        create_schema(pair.raw(side))
    assert bg("tracking", "enable", "--db", pair.blue_url).exit_code == 0
    add_region(pair, 1)
    blue, green = pair.blue(), pair.green()
    session = FollowSession(Syncer(blue, green), 0.05, Console(file=open(os.devnull, "w")))  # noqa: SIM115
    runner = threading.Thread(target=session.run)
    runner.start()
    try:
        assert wait_for(lambda: count(pair, "green", "region") == 1)
        killer = pair.raw("blue")
        killer.execute("SELECT pg_terminate_backend(%s)", [green.conn.info.backend_pid])
        add_region(pair, 2)
        assert wait_for(lambda: count(pair, "green", "region") == 2, 20)
        assert runner.is_alive()
        assert session.failures in (0, 1)  # reset by the next applied window
    finally:
        session.request_exit()
        runner.join(timeout=20)
    assert not runner.is_alive()
    assert session.session.totals.inserts == 2
    retried = [r for r in caplog.records if "retrying in" in r.getMessage()]
    assert retried, "the killed connection was never noticed"
