"""The read-ahead worker: order kept, errors carried to the consumer, lookahead bounded, and an
early exit stops the worker (and closes its generator) before the caller goes on."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from bluegreen.sync.prefetch import Prefetch


def test_items_arrive_in_order_from_another_thread() -> None:
    seen: set[str] = set()

    def make() -> Iterator[int]:
        for i in range(100):
            seen.add(threading.current_thread().name)
            yield i

    with Prefetch(make, name="t") as ahead:
        assert list(ahead) == list(range(100))
    assert seen == {"bluegreen-prefetch t"}


def test_an_error_in_the_worker_reaches_the_consumer_after_the_good_items() -> None:
    def make() -> Iterator[int]:
        yield 1
        yield 2
        raise RuntimeError("connection lost")

    got = []
    with pytest.raises(RuntimeError, match="connection lost"), Prefetch(make) as ahead:
        for item in ahead:
            got.append(item)
    assert got == [1, 2]


def test_lookahead_is_bounded_by_depth() -> None:
    produced: list[int] = []

    def make() -> Iterator[int]:
        for i in range(50):
            produced.append(i)
            yield i

    with Prefetch(make, depth=2) as ahead:
        it = iter(ahead)
        assert next(it) == 0
        time.sleep(0.3)  # let the worker run as far ahead as it may
        # one handed out, two waiting in the queue, one in the worker's hand
        assert len(produced) <= 4, produced


def test_leaving_early_stops_the_worker_and_closes_its_generator() -> None:
    closed = threading.Event()

    def make() -> Iterator[int]:
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.set()

    ahead = Prefetch(make, depth=1)
    with ahead:
        for item in ahead:
            if item == 3:
                break
    assert closed.is_set()
    assert not ahead._thread.is_alive()


def test_a_failure_in_the_consumer_still_joins_the_worker() -> None:
    def make() -> Iterator[int]:
        yield from range(10_000)

    ahead = Prefetch(make)
    with pytest.raises(ValueError), ahead:
        for _ in ahead:
            raise ValueError("green refused a row")
    assert not ahead._thread.is_alive()
