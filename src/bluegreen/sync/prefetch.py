"""Read blue's next batch while green applies the last one.

A window's time is blue's read (the server aggregating the change log, the driver decoding
rows, polars building the frame) plus green's load and apply. The two use different
connections and different server processes, and the drivers release the GIL while they wait,
so a worker thread that reads ahead turns ``read + apply`` into roughly ``max(read, apply)``.

Memory stays bounded: the worker runs at most ``depth`` batches ahead of the consumer.
Only the worker touches the reading connection until :meth:`Prefetch.close` has joined it, so
a failure on either side never leaves two threads on one connection.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

_DONE = object()


class _Failed:
    """The worker's exception, carried across the queue to the consumer."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class Prefetch(Generic[T]):
    """Iterate ``make()``'s items, produced by a worker thread up to ``depth`` items ahead.

    ``make`` is called in the worker, so the generator (and its cursor) lives in one thread.
    Use as a context manager: leaving it early stops the worker and waits for it.
    """

    def __init__(self, make: Callable[[], Iterator[T]], depth: int = 1, name: str = "") -> None:
        self._make = make
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._work, name=f"bluegreen-prefetch {name}".strip(), daemon=True
        )

    def __enter__(self) -> Prefetch[T]:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _put(self, item: object) -> bool:
        """Hand ``item`` over, unless the consumer has gone (then False)."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _work(self) -> None:
        items: Iterator[T] | None = None
        try:
            items = self._make()
            for item in items:
                if not self._put(item):
                    return
            self._put(_DONE)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self._put(_Failed(exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    def __iter__(self) -> Iterator[T]:
        while True:
            item = self._queue.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.exc
            yield item  # type: ignore[misc]

    def close(self) -> None:
        """Stop the worker (it finishes the batch in hand) and wait until it has exited."""
        self._stop.set()
        while self._thread.is_alive():
            try:  # make room, so a worker blocked on a full queue sees the stop
                self._queue.get_nowait()
            except queue.Empty:
                pass
            self._thread.join(timeout=0.05)
