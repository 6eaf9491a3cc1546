"""Fault injection: callables run before every apply step of every window in this process.

Drills and tests use it to prove that a transient failure in the middle of a window rolls the
window back and that the retried window finishes the job (``with inject(hook): ...``). It is
empty in normal operation, and it lives here rather than in a flow parameter because a callable
cannot travel through the Prefect API.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from bluegreen.sync.plan import Step
from bluegreen.sync.window import StepHook

_lock = threading.Lock()
_hooks: list[StepHook] = []


@contextmanager
def inject(hook: StepHook) -> Iterator[StepHook]:
    """Run ``hook(step)`` before each apply step while the block is active."""
    with _lock:
        _hooks.append(hook)
    try:
        yield hook
    finally:
        with _lock:
            _hooks.remove(hook)


def run_hooks(step: Step) -> None:
    """The ``on_step`` the sync passes to the engine: every injected hook, in order."""
    with _lock:
        hooks = list(_hooks)
    for hook in hooks:
        hook(step)
