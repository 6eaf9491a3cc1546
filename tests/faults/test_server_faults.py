"""PostgreSQL cuts the sync's connections (or restarts) in the middle of a window: the run fails
with a transient error (a follow session retries by itself), nothing is half-applied, and the
next run converges."""

from __future__ import annotations

import gc
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from bluegreen.errors import TransientError
from bluegreen.sync.plan import Step
from bluegreen.sync.runner import Syncer
from tests.conftest import PG_URL, EnginePair
from tests.faults.support import (
    Load,
    assert_history_exactly_once,
    assert_tables_equal,
    history,
    shop_on_postgres,
)
from tests.integration.helpers import digests, watermark

pytestmark = [pytest.mark.slow, pytest.mark.postgresql]


def _backends(pair: EnginePair, exclude: set[int] = frozenset()) -> list[int]:
    """Client sessions on the pair's two databases, except ``exclude``."""
    names = [pair.blue_url.rsplit("/", 1)[1], pair.green_url.rsplit("/", 1)[1]]
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = ANY(%s) AND pid <> "
            "pg_backend_pid() AND backend_type = 'client backend'",
            [names],
        ).fetchall()
    return [int(r[0]) for r in rows if int(r[0]) not in exclude]


def _terminate(pids: list[int]) -> None:
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        for pid in pids:
            admin.execute("SELECT pg_terminate_backend(%s)", [pid])


def _mid_apply(action: Callable[[], None]) -> Callable[[Step], None]:
    """An on_step hook that runs ``action`` once, inside the apply of a window with rows."""
    done: list[bool] = []

    def hook(step: Step) -> None:
        if not done and step.phase == "facts":
            done.append(True)
            action()

    return hook


def _backlog(pair: EnginePair) -> Syncer:
    """The shop, synced once; then a backlog of changes on blue. Returns a fresh syncer."""
    shop_on_postgres(pair)
    blue, green = pair.blue(), pair.green()
    Syncer(blue, green).until_caught_up()
    load = Load(pair, bulk_every=0.05).start()
    time.sleep(1.5)
    load.stop()
    return Syncer(pair.blue(), pair.green(), batch_size=500)


@pytest.mark.parametrize("side", ["green", "blue", "both"])
def test_connection_terminated_mid_window(pg_pair: EnginePair, side: str) -> None:
    pair = pg_pair
    syncer = _backlog(pair)
    before_mark, before_rows = watermark(pair), digests(pair, "green")
    before_history = history(pair)
    victims = {"green": [syncer.green], "blue": [syncer.blue], "both": [syncer.green, syncer.blue]}
    pids = [d.conn.info.backend_pid for d in victims[side]]
    syncer.on_step = _mid_apply(lambda: _terminate(pids))
    if side == "blue":
        # blue's snapshot was released after staging: this window commits, the next one fails
        with pytest.raises(TransientError, match="postgresql"):
            syncer.until_caught_up()
            syncer.on_step = None
            syncer.once()
    else:
        with pytest.raises(TransientError, match="postgresql") as err:
            syncer.until_caught_up()
        assert "retry" in str(err.value)
        assert watermark(pair) == before_mark
        assert digests(pair, "green") == before_rows
        assert history(pair) == before_history
    syncer.on_step = None
    summary = syncer.until_caught_up()  # reconnects
    assert summary.caught_up
    assert all(d.conn.info.backend_pid not in pids for d in victims[side])
    assert_tables_equal(pair)
    assert_history_exactly_once(pair)


def test_connections_lost_while_reading_leave_no_stray_traceback(
    pg_pair: EnginePair, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both connections die while blue's change read is half-way (a server-side cursor open):
    the window fails with the transient error of the statement that hit the loss, and the
    abandoned read, closed later by the garbage collector, does not print a traceback of its
    own (it did: closing the cursor on the dead connection raised inside the generator)."""
    pair = pg_pair
    syncer = _backlog(pair)
    syncer.batch_size = 50  # many batches: the read is still open when the load fails
    pids = [syncer.blue.conn.info.backend_pid, syncer.green.conn.info.backend_pid]
    green = syncer.green
    load = green.load_stage
    loads: list[int] = []

    def load_then_cut(*args: object, **kwargs: object) -> int:
        loads.append(1)
        if len(loads) == 2:
            _terminate(pids)
        return load(*args, **kwargs)

    monkeypatch.setattr(green, "load_stage", load_then_cut)
    stray: list[object] = []
    monkeypatch.setattr(sys, "unraisablehook", stray.append)
    before = watermark(pair)
    with pytest.raises(TransientError, match="terminating connection"):
        syncer.until_caught_up()
    gc.collect()
    assert not stray, [getattr(u, "exc_value", u) for u in stray]
    assert watermark(pair) == before
    monkeypatch.undo()
    syncer.batch_size = 5_000
    assert syncer.until_caught_up().caught_up
    assert_tables_equal(pair)


def test_follow_retries_through_terminated_connections(pg_pair: EnginePair, tmp_path: Path) -> None:
    """The CLI's follow session treats a cut connection as transient: it waits, reconnects and
    carries on; after the writers stop it converges by itself and exits cleanly on SIGTERM."""
    pair = pg_pair
    shop_on_postgres(pair)
    log = tmp_path / "follow.log"
    urls = ["--blue", pair.blue_url, "--green", pair.green_url]
    env = {k: v for k, v in os.environ.items() if not k.startswith("BLUEGREEN_")}
    args = ["sync", "--follow", "--interval", "0.05", "--batch-size", "500", *urls]
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bluegreen.cli", *args],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
            env=env,
        )
    load = Load(pair)
    cuts = 0
    try:
        deadline = time.monotonic() + 90
        while not _backends(pair):  # the CLI is connected
            assert time.monotonic() < deadline and proc.poll() is None, log.read_text()
            time.sleep(0.1)
        mine = set(_backends(pair))
        load.start()
        time.sleep(1.0)
        writers = set(_backends(pair)) - mine
        for _ in range(4):
            time.sleep(0.7)
            victims = _backends(pair, exclude=writers)
            _terminate(victims)
            cuts += bool(victims)
            assert proc.poll() is None, log.read_text()[-3000:]
        time.sleep(1.0)
    finally:
        load.stop()
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                assert_tables_equal(pair)
                break
            except AssertionError:
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                assert proc.poll() is None, log.read_text()[-3000:]
                time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    text = log.read_text()
    assert code == 0, text[-3000:]
    assert cuts >= 3
    assert text.count("retrying in") >= 1, text[-3000:]
    assert "Traceback" not in text
    assert_history_exactly_once(pair)


def _cluster() -> tuple[str, str] | None:
    """(version, name) of the local cluster PG_URL points at, when this machine runs it."""
    if not shutil.which("pg_ctlcluster") or not shutil.which("pg_lsclusters"):
        return None
    info = psycopg.conninfo.conninfo_to_dict(PG_URL)
    if str(info.get("host", "localhost")) not in ("127.0.0.1", "localhost", "::1"):
        return None
    port = str(info.get("port") or 5432)
    out = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True, check=False)
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[2] == port and parts[3] == "online":
            return parts[0], parts[1]
    return None


def _wait_ready(seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with psycopg.connect(PG_URL, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return
        except psycopg.OperationalError:
            assert time.monotonic() < deadline, "PostgreSQL did not come back after the restart"
            time.sleep(0.2)


def test_server_restart_mid_window(pg_pair: EnginePair) -> None:
    """A real restart of the local server (pg_ctlcluster) while a window applies. Skipped when
    not root, without pg_ctlcluster, or when other clients use the server (a restart would cut
    them: another test run on this machine)."""
    if os.geteuid() != 0:
        pytest.skip("restarting PostgreSQL needs root")
    cluster = _cluster()
    if cluster is None:
        pytest.skip("no local pg_ctlcluster cluster serves BLUEGREEN_TEST_PG_URL")
    pair = pg_pair
    syncer = _backlog(pair)
    before_mark, before_rows = watermark(pair), digests(pair, "green")
    ours = [pair.blue_url.rsplit("/", 1)[1], pair.green_url.rsplit("/", 1)[1]]
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        others = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
            "AND pid <> pg_backend_pid() AND NOT (datname = ANY(%s))",
            [ours],
        ).fetchone()[0]
    if others:
        pytest.skip(f"{others} other client session(s) use the server; a restart would cut them")
    restarted: list[float] = []

    def restart() -> None:
        t0 = time.monotonic()
        subprocess.run(["pg_ctlcluster", *cluster, "restart"], check=True, timeout=120)
        _wait_ready()
        restarted.append(time.monotonic() - t0)

    syncer.on_step = _mid_apply(restart)
    with pytest.raises(TransientError, match="postgresql"):
        syncer.until_caught_up()
    assert restarted, "the window never reached its apply"
    assert watermark(pair) == before_mark
    assert digests(pair, "green") == before_rows
    syncer.on_step = None
    assert syncer.until_caught_up().caught_up
    assert_tables_equal(pair)
    assert_history_exactly_once(pair)
    print(f"\nserver restarted in {restarted[0]:.1f} s")
