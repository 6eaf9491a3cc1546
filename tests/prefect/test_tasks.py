"""How the database tasks are declared: never cached, retried only at the window level."""

from __future__ import annotations

import pytest
from prefect.cache_policies import NO_CACHE

from bluegreen.errors import ApplyError, ReseedRequired, TerminalError, TransientError
from tasks import window
from tasks.retry import is_transient, retry_if_transient

PHASES = [
    window.fetch_changes,
    window.stage_changes,
    window.apply_dimensions,
    window.apply_facts,
    window.apply_deferred_deletes,
    window.commit_window,
]
RETRIED = [window.prepare_sync, window.sync_window]


@pytest.mark.parametrize("task", PHASES + RETRIED, ids=lambda t: t.name)
def test_database_tasks_never_cache_and_never_persist(task):
    assert task.cache_policy is NO_CACHE
    assert task.persist_result is False


def test_phases_do_not_retry_the_window_does():
    # a phase cannot be retried alone: the window's green transaction is gone after a failure
    assert all(t.retries == 0 for t in PHASES)
    assert all(t.retries > 0 and t.retry_condition_fn is retry_if_transient for t in RETRIED)


def test_transient_classification_follows_the_engine():
    assert is_transient(TransientError("deadlock"))
    try:
        try:
            raise TransientError("lost connection")
        except TransientError as exc:
            raise RuntimeError("wrapped") from exc
    except RuntimeError as wrapped:
        assert is_transient(wrapped)
    for terminal in (
        TerminalError("x"),
        ApplyError("refused"),
        ReseedRequired("t", "too old"),
        ValueError("bug"),
    ):
        assert not is_transient(terminal)
