"""What every release flow shares: the pair in the engine's terms, per-phase log lines, the
receipt artifacts and the load's progress artifact.

The engine runs a release operation as named phases inside one call and reports them in a
receipt; it knows nothing of Prefect. Here the phases become log lines of the task run as they
start and end (through the engine's :class:`~bluegreen.release.PhaseHooks`, which the flows
also use to act at a phase: the cutover pauses the sync schedule before the freeze), and the
receipt becomes two artifacts under stable keys, so the UI always shows the latest one of each
operation of each pair, with its history:

- ``bluegreen-<operation>-<pair>``: a table, one row per phase (outcome, seconds, detail), its
  description the receipt's summary (outcome, where and why it stopped, the fix, key facts);
- ``bluegreen-<operation>-<pair>-receipt``: the whole receipt, markdown and JSON.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger

from blocks.pair import BlueGreenPair, Side
from bluegreen.release import Finding, LoadProgress, PhaseHooks, Receipt, ReleasePair
from flows.sync import load_pair

# Database tasks: never cached, never persisted (see tasks/__init__.py).
DB_TASK: dict[str, Any] = {"cache_policy": NO_CACHE, "persist_result": False}

log = logging.getLogger("bluegreen.orchestration")


def _logger() -> logging.Logger | logging.LoggerAdapter:
    try:
        return get_run_logger()
    except Exception:  # no run context on this thread
        return log


def slug(pair: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", pair.lower()).strip("-") or "pair"


def release_key(operation: str, pair: str, kind: str | None = None) -> str:
    """``bluegreen-<operation>-<pair>[-<kind>]`` (artifact keys: lowercase, digits, dashes)."""
    key = f"bluegreen-{slug(operation)}-{slug(pair)}"
    return f"{key}-{slug(kind)}" if kind else key


# ---- the pair -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class PairContext:
    """A saved pair block and the engine's view of it (production is the engine's "blue")."""

    name: str
    block: BlueGreenPair
    release: ReleasePair

    @property
    def production(self) -> str:
        """The traffic switch's name for the production side."""
        return self.release.blue_label

    @property
    def standby(self) -> str:
        """The traffic switch's name for the side being prepared."""
        return self.release.green_label


def other_side(side: str) -> Side:
    """The pair block's other side."""
    return "green" if side == "blue" else "blue"


def release_pair(block: BlueGreenPair) -> ReleasePair:
    """The engine's pair: production (whichever side the block says) is the engine's blue,
    labelled with the block's name for that side, which is also the traffic switch's."""
    return ReleasePair.from_settings(
        block.to_settings(),
        blue_label=block.production,
        green_label=other_side(block.production),
    )


def load_context(name: str) -> PairContext:
    """The saved pair ``name`` (a terminal error saying how to create it when missing)."""
    block = load_pair(name)
    return PairContext(name, block, release_pair(block))


# ---- phases as log lines ------------------------------------------------------------------------
PhaseAction = Callable[[], object]


class PhaseLog:
    """PhaseHooks that log each phase as it starts and ends, and run the flow's own actions.

    ``before`` / ``after`` map a phase name to an action run at that point; an action that
    raises fails the phase (the engine then undoes what it must)."""

    def __init__(
        self,
        operation: str,
        *,
        before: dict[str, PhaseAction] | None = None,
        after: dict[str, PhaseAction] | None = None,
    ) -> None:
        self.operation = operation
        self.before = dict(before or {})
        self.after = dict(after or {})
        self._started: dict[str, float] = {}

    def _before(self, phase: str) -> None:
        self._started[phase] = time.perf_counter()
        _logger().info("%s: phase %s started", self.operation, phase)
        action = self.before.get(phase)
        if action is not None:
            action()

    def _after(self, phase: str) -> None:
        action = self.after.get(phase)
        if action is not None:
            action()
        seconds = time.perf_counter() - self._started.get(phase, time.perf_counter())
        _logger().info("%s: phase %s done in %.3f s", self.operation, phase, seconds)

    def hooks(self) -> PhaseHooks:
        return PhaseHooks(before=self._before, after=self._after)


def log_receipt(receipt: Receipt) -> None:
    """One line per phase (outcome, seconds, detail), then the stop reason and fix if any."""
    logger = _logger()
    for p in receipt.phases:
        secs = "" if p.seconds is None else f" in {p.seconds:.3f} s"
        detail = f": {p.detail}" if p.detail else ""
        level = logging.ERROR if p.outcome == "failed" else logging.INFO
        logger.log(level, "%s phase %s %s%s%s", receipt.operation, p.name, p.outcome, secs, detail)
    for w in receipt.warnings:
        logger.warning("%s: %s", receipt.operation, w)
    if receipt.reason:
        logger.error("%s %s stopped: %s", receipt.operation, receipt.id, receipt.reason)
    if receipt.fix:
        logger.error("fix: %s", receipt.fix)


# ---- artifacts ----------------------------------------------------------------------------------
def receipt_summary(receipt: Receipt) -> str:
    """The receipt's markdown without its phase table (the artifact's table holds it)."""
    return receipt.summary_markdown("###")


def phase_rows(receipt: Receipt) -> list[dict[str, Any]]:
    return [
        {
            "phase": p.name,
            "outcome": p.outcome,
            "seconds": None if p.seconds is None else round(p.seconds, 3),
            "started_at": p.started_at,
            "finished_at": p.finished_at,
            "detail": p.detail,
            "description": p.description,
        }
        for p in receipt.phases
    ]


def publish_receipt(pair: str, receipt: Receipt, operation: str | None = None) -> str:
    """The receipt's two artifacts (see the module docstring); returns the table's key.

    Never raises: an artifact that cannot be written must not hide the operation's outcome."""
    key = release_key(operation or receipt.operation, pair)
    try:
        create_table_artifact(
            table=phase_rows(receipt), key=key, description=receipt_summary(receipt)
        )
        create_markdown_artifact(
            markdown=f"{receipt.markdown()}\n\n```json\n{receipt.to_json()}\n```\n",
            key=f"{key}-receipt",
            description=f"{receipt.operation} {receipt.id}: {receipt.outcome} (full receipt)",
        )
    except Exception as exc:
        _logger().warning("could not publish the %s receipt artifacts: %s", key, exc)
    return key


def finding_rows(findings: list[Finding]) -> list[dict[str, Any]]:
    return [
        {"severity": f.severity, "subject": f.subject, "message": f.message, "fix": f.fix or ""}
        for f in findings
    ]


def publish_findings(key: str, findings: list[Finding], description: str) -> None:
    """A table of findings (what, why, the fix) under ``key``; never raises."""
    try:
        create_table_artifact(table=finding_rows(findings), key=key, description=description)
    except Exception as exc:
        _logger().warning("could not publish the %s artifact: %s", key, exc)


class LoadProgressArtifact:
    """The engine's ``on_progress`` as a progress artifact (0-100 %) under a stable key.

    The load reads blue's tables one after another; with ``tables`` known (the plan's source
    count) the progress is (tables done + the current table's fraction) / tables. A copy has no
    callbacks: the flow marks it done when the ``create`` phase ends. Updates are throttled
    (one per ``every`` seconds, plus one per finished table)."""

    def __init__(self, key: str, what: str, tables: int | None = None, every: float = 1.0) -> None:
        self.key = key
        self.what = what
        self.tables = tables
        self.every = every
        self.done_tables: set[str] = set()
        self.rows: dict[str, int] = {}
        self._last = 0.0
        self._lock = threading.Lock()
        self.percent = 0.0
        self.id: UUID | None = None
        try:
            self.id = create_progress_artifact(progress=0.0, key=key, description=what)
        except Exception as exc:
            _logger().warning("could not create the progress artifact %s: %s", key, exc)

    def _set(self, percent: float, description: str) -> None:
        self.percent = max(self.percent, min(100.0, percent))  # never moves backwards
        if self.id is None:
            return
        try:
            update_progress_artifact(self.id, progress=self.percent, description=description)
        except Exception as exc:
            _logger().warning("could not update the progress artifact %s: %s", self.key, exc)

    def __call__(self, p: LoadProgress) -> None:
        with self._lock:
            if not p.second_pass:
                self.rows[p.table] = p.rows
            if p.done and not p.second_pass:
                self.done_tables.add(p.table)
                _logger().info(
                    "loaded %s: %s of %s row(s) in %s batch(es), %.2f s",
                    p.table,
                    p.rows,
                    p.total,
                    p.batches,
                    p.seconds,
                )
            now = time.monotonic()
            if not p.done and now - self._last < self.every:
                return
            self._last = now
            if self.tables:
                current = 0.0 if p.done or p.second_pass else p.fraction
                share = (len(self.done_tables) + current) / self.tables
            else:
                share = p.fraction
            stage = "second pass (cycle columns) of" if p.second_pass else "loading"
            self._set(
                99.0 * share,
                f"{self.what}: {stage} {p.table}, {p.rows} of {p.total} row(s); "
                f"{len(self.done_tables)} table(s) done, {sum(self.rows.values())} row(s) loaded",
            )

    def finish(self, detail: str) -> None:
        self._set(100.0, f"{self.what}: {detail}")
