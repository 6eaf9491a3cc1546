"""Which failures a task may retry: only the engine's *transient* errors.

The dialects classify driver errors once (lost connection, deadlock, lock timeout are
transient; an invalid mapping, a too-old watermark, schema drift are terminal). Retrying a
terminal error only delays the page to a human and hides the fix, so the retry condition asks
the exception itself instead of retrying everything.
"""

from __future__ import annotations

from typing import Any

from prefect import Task
from prefect.client.schemas.objects import TaskRun
from prefect.states import State


def is_transient(exc: BaseException | None) -> bool:
    """True when ``exc`` (or an exception it was raised from) says a retry may succeed."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if getattr(exc, "transient", False) is True:
            return True
        exc = exc.__cause__
    return False


def failure_of(state: State[Any]) -> BaseException | None:
    """The exception a failed state carries (in memory: these tasks persist no results)."""
    if isinstance(state.data, BaseException):
        return state.data
    try:
        result = state.result(raise_on_failure=False)
    except Exception as exc:  # the state could not even be read back: treat as that error
        return exc
    return result if isinstance(result, BaseException) else None


def retry_if_transient(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
    """``retry_condition_fn`` for database tasks: retry transient errors, fail terminal ones."""
    return is_transient(failure_of(state))
