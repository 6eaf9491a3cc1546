"""Never two syncs of one pair at once, even for flows started outside the deployment."""

from __future__ import annotations

import contextvars
import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from pydantic import SecretStr

from bluegreen.sync.plan import Step
from flows.guard import exclusive, guard_name
from flows.sync import sync_green
from tasks.faults import inject
from tests.conftest import EnginePair
from tests.prefect.conftest import add_customers, create_schema, rows


def test_two_syncs_started_together_one_runs_the_other_is_cancelled(pair: EnginePair, save_pair):
    create_schema(pair)
    add_customers(pair, range(1, 31), orders_each=2)
    name = save_pair(pair)
    release = threading.Event()

    def hold_the_window_open(step: Step) -> None:
        # The run that got in keeps its window open until the other run has ended, so the two
        # runs overlap for certain. Were the guard missing, both would wait here and finish
        # both (the test then fails on the states below instead of hanging).
        release.wait(timeout=20)

    barrier = threading.Barrier(2)

    def start() -> object:
        barrier.wait(timeout=30)
        return sync_green(pair=name, return_state=True)

    with inject(hold_the_window_open), ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(contextvars.copy_context().run, start) for _ in range(2)]
        wait(futures, timeout=60, return_when=FIRST_COMPLETED)
        release.set()
        states = [f.result(timeout=120) for f in futures]

    assert sorted(s.type.value for s in states) == ["CANCELLED", "COMPLETED"]
    cancelled = next(s for s in states if s.is_cancelled())
    assert "another sync of" in (cancelled.message or "")
    completed = next(s for s in states if s.is_completed())
    assert completed.result()["inserts"] == 90
    assert rows(pair, "green") == rows(pair, "blue")


def test_guard_is_per_copy_and_is_released(sqlite_pair: EnginePair, tmp_path):
    green = SecretStr(sqlite_pair.green_url)
    other = SecretStr(f"sqlite:///{tmp_path / 'other-green.db'}")
    assert guard_name(green, "default") != guard_name(other, "default")
    assert guard_name(green, "default") != guard_name(green, "reporting")
    # the name never carries the connection string
    assert str(tmp_path) not in guard_name(green, "default")
    with exclusive(guard_name(green, "default")) as first:
        assert first
        with exclusive(guard_name(green, "default")) as second:
            assert not second
        with exclusive(guard_name(other, "default")) as unrelated:
            assert unrelated
    with exclusive(guard_name(green, "default")) as again:
        assert again
