"""An engine release operation run from a task: its phases logged, a load's progress shown, and
its receipt logged and published however it ends.

The release flows' tasks differ only in which engine call they make; what surrounds the call is
here, so every operation reports the same way (a failure's receipt is published too: it says
which phase stopped, why, and the fix).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from prefect import get_run_logger

from bluegreen.release import PhaseHooks, Receipt, ReleaseFailed
from tasks.release import (
    DB_TASK,
    LoadProgressArtifact,
    PhaseLog,
    log_receipt,
    publish_receipt,
    release_key,
)
from tasks.retry import retry_if_transient

R = TypeVar("R", bound=Receipt)

CHECK_TASK: dict[str, Any] = {
    "retries": 2,
    "retry_delay_seconds": 5,
    "retry_condition_fn": retry_if_transient,
    **DB_TASK,
}
"""Options of a read-only check task: it is safe to retry a transient failure twice."""


def load_phases(
    pair: str,
    operation: str,
    what: str,
    method: str,
    *,
    dry_run: bool,
    tables: Callable[[], int | None] | None = None,
) -> tuple[LoadProgressArtifact | None, PhaseHooks]:
    """The ``on_progress`` and hooks of an operation that creates green by ``method``.

    Each phase is logged. Outside a dry run a progress artifact
    (``bluegreen-<operation>-<pair>-progress``, described as ``what``) follows the load and is
    finished when the ``create`` phase ends (a copy reports no progress of its own); ``tables``
    counts the tables the load reads, the progress's denominator (called only then)."""
    if dry_run:
        return None, PhaseLog(operation).hooks()
    bar = LoadProgressArtifact(
        release_key(operation, pair, "progress"), what, tables() if tables else None
    )
    return bar, PhaseLog(operation, after={"create": lambda: bar.finish(f"{method} done")}).hooks()


def reported(pair: str, run: Callable[[], R], *, show_plan: bool = False) -> R:
    """Run an engine release operation; log and publish its receipt, a failure's included.

    ``show_plan`` logs a dry run's plan (the phases the real run would take)."""
    try:
        receipt = run()
    except ReleaseFailed as failed:
        log_receipt(failed.receipt)
        publish_receipt(pair, failed.receipt)
        raise
    log_receipt(receipt)
    if show_plan and receipt.extra.get("plan"):
        get_run_logger().info("dry run; the plan:\n%s", receipt.extra["plan"])
    publish_receipt(pair, receipt)
    return receipt
