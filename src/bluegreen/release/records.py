"""Named, timed phases as data, the receipts that record them, findings, and release errors.

Every release operation (prepare, cutover, rollback, re-seed, rolling upgrade) is first built as
a :class:`PhasePlan`: a list of named phases with a one-line description each. A dry run prints
the plan; a real run executes the phases in order and records, per phase, when it started and
ended, how long it took, its outcome and a detail line. The records land in a receipt (a
dataclass with ``as_dict()`` / ``markdown()``) that the orchestration layer turns into an
artifact; nothing here knows about Prefect.

Hooks run before and after each phase: the flows use them to pause a schedule, the tests to
inject a fault in exactly one phase.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import time
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from pydantic import SecretStr

from bluegreen.errors import BlueGreenError, TerminalError
from bluegreen.watermark import Watermark

PhaseOutcome = Literal["pending", "ok", "failed", "skipped"]
Severity = Literal["error", "warning", "info"]
HookFn = Callable[[str], None]
"""Called with the phase's name; raising from it fails that phase (fault injection)."""


def utcnow() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def new_id() -> str:
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True)
class Finding:
    """One thing a check found: what (``subject``), why it matters, and what to do."""

    severity: Severity
    subject: str
    message: str
    fix: str | None = None

    def line(self) -> str:
        fix = f"; fix: {self.fix}" if self.fix else ""
        return f"{self.severity}: {self.subject}: {self.message}{fix}"


@dataclass
class PhaseRecord:
    """What one phase did: timestamps (UTC, ISO 8601), duration, outcome and a detail line."""

    name: str
    description: str
    outcome: PhaseOutcome = "pending"
    started_at: str | None = None
    finished_at: str | None = None
    seconds: float | None = None
    detail: str = ""


@dataclass(frozen=True)
class Phase:
    """A named step of a release; ``run`` returns an optional detail line for the record."""

    name: str
    description: str
    run: Callable[[], str | None] = field(compare=False, repr=False)


@dataclass
class PhaseHooks:
    """Callables run before / after every phase (by name); an exception fails the phase."""

    before: HookFn | None = None
    after: HookFn | None = None


class PhaseFailed(Exception):
    """Internal: phase ``name`` raised ``cause`` (the receipt records both)."""

    def __init__(self, name: str, cause: BaseException) -> None:
        super().__init__(f"phase {name} failed: {cause}")
        self.name = name
        self.cause = cause


@dataclass
class PhasePlan:
    """The phases of one release operation, as data: describe it (dry run) or run it."""

    operation: str
    phases: list[Phase]

    def describe(self) -> str:
        lines = [f"{self.operation}: {len(self.phases)} phase(s)"]
        for i, p in enumerate(self.phases, 1):
            lines.append(f"  {i}. {p.name:<12} {p.description}")
        return "\n".join(lines)

    def records(self) -> list[PhaseRecord]:
        return [PhaseRecord(p.name, p.description) for p in self.phases]

    def run(self, records: list[PhaseRecord], hooks: PhaseHooks | None = None) -> None:
        """Run every phase in order, filling ``records``; PhaseFailed on the first failure."""
        by_name = {r.name: r for r in records}
        for phase in self.phases:
            rec = by_name[phase.name]
            rec.started_at = utcnow()
            t0 = time.perf_counter()
            try:
                if hooks is not None and hooks.before is not None:
                    hooks.before(phase.name)
                detail = phase.run()
                if hooks is not None and hooks.after is not None:
                    hooks.after(phase.name)
            except BaseException as exc:
                rec.outcome = "failed"
                rec.detail = _first_line(exc)
                rec.finished_at = utcnow()
                rec.seconds = time.perf_counter() - t0
                if not isinstance(exc, Exception):
                    raise
                raise PhaseFailed(phase.name, exc) from exc
            rec.outcome = "ok"
            rec.detail = detail or ""
            rec.finished_at = utcnow()
            rec.seconds = time.perf_counter() - t0


def _first_line(exc: BaseException) -> str:
    text = exc.message if isinstance(exc, BlueGreenError) else str(exc)
    return (text or type(exc).__name__).splitlines()[0][:300]


def failure_text(exc: BaseException) -> tuple[str, str | None]:
    """(message, fix) of any exception, for a receipt."""
    if isinstance(exc, BlueGreenError):
        return exc.message, exc.fix
    return f"{type(exc).__name__}: {exc}", None


@dataclass
class Receipt:
    """What a release operation did, phase by phase; subclasses add the operation's facts."""

    operation: str = ""
    id: str = field(default_factory=new_id)
    outcome: str = "pending"
    started_at: str = field(default_factory=utcnow)
    finished_at: str | None = None
    phases: list[PhaseRecord] = field(default_factory=list)
    failed_phase: str | None = None
    reason: str | None = None
    fix: str | None = None
    warnings: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.outcome in ("ok", "switched", "dry-run", "paused", "resumed")

    def phase(self, name: str) -> PhaseRecord:
        for p in self.phases:
            if p.name == name:
                return p
        raise KeyError(name)

    def phase_seconds(self) -> dict[str, float | None]:
        return {p.name: p.seconds for p in self.phases}

    def as_dict(self) -> dict[str, Any]:
        return {f.name: jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, sort_keys=False, default=str)

    def facts(self) -> list[tuple[str, str]]:
        """Key facts for the markdown summary (subclasses add theirs)."""
        return []

    def summary_markdown(self, heading: str = "##") -> str:
        """Outcome (under a ``heading``), where and why it stopped, the fix, key facts and
        warnings: the markdown without the phase table."""
        lines = [f"{heading} {self.operation} {self.id}: {self.outcome}", ""]
        if self.reason:
            where = f" in phase **{self.failed_phase}**" if self.failed_phase else ""
            lines.append(f"**Stopped{where}:** {self.reason}")
            if self.fix:
                lines.append(f"**Fix:** {self.fix}")
            lines.append("")
        lines += [f"- {k}: {v}" for k, v in self.facts()]
        lines += [f"- warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def markdown(self) -> str:
        """A human summary: outcome, key facts, then the phase table."""
        lines = [self.summary_markdown(), "", "| phase | outcome | seconds | detail |"]
        lines.append("|---|---|---:|---|")
        for p in self.phases:
            secs = "" if p.seconds is None else f"{p.seconds:.3f}"
            detail = p.detail.replace("|", "\\|")
            lines.append(f"| {p.name} | {p.outcome} | {secs} | {detail} |")
        return "\n".join(lines)


def jsonable(value: Any) -> Any:
    """A JSON-ready form of receipt contents (secrets never: they print as their redaction)."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, SecretStr):
        return "**********"
    if isinstance(value, Watermark):
        return json.loads(value.dumps())
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if hasattr(value, "as_dict") and callable(value.as_dict):
        return value.as_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: jsonable(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.repr and not callable(getattr(value, f.name))
        }
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    return str(value)


class ReleaseFailed(TerminalError):
    """A release operation stopped; ``receipt`` says in which phase, why, and what was undone."""

    def __init__(self, receipt: Receipt, cause: BaseException | None = None) -> None:
        where = f" in phase {receipt.failed_phase}" if receipt.failed_phase else ""
        super().__init__(
            f"{receipt.operation} {receipt.id} stopped{where}: {receipt.reason}",
            fix=receipt.fix,
        )
        self.receipt = receipt
        # a lost connection may be worth retrying the whole operation from its first phase
        self.transient = bool(cause is not None and getattr(cause, "transient", False))


class GateFailed(TerminalError):
    """A preflight gate is closed: nothing was touched."""


R = TypeVar("R", bound=Receipt)


def _nothing() -> None:
    return None


def _dry_run(plan: PhasePlan, receipt: R, phases: int, close: Callable[[], None]) -> R:
    """The plan in ``extra["plan"]``; the first ``phases`` phases run (read-only ones: a dry
    run touches nothing, so a failure there is ``stopped``), the rest skipped."""
    receipt.extra["plan"] = plan.describe()
    receipt.outcome = "dry-run"
    if phases:
        try:
            PhasePlan(plan.operation, plan.phases[:phases]).run(receipt.phases, None)
        except PhaseFailed as failed:
            receipt.outcome = "stopped"
            receipt.failed_phase = failed.name
            receipt.reason, receipt.fix = failure_text(failed.cause)
        finally:
            close()
        for rec in receipt.phases[phases:]:
            rec.outcome = "skipped"
    receipt.finished_at = utcnow()
    return receipt


def run_plan(
    plan: PhasePlan,
    receipt: R,
    *,
    hooks: PhaseHooks | None = None,
    dry_run: bool = False,
    dry_phases: int = 0,
    done: str = "ok",
    gates: Collection[str] = (),
    undo: Callable[[], None] | None = None,
    committed: Callable[[], bool] | None = None,
    warn_after_commit: bool = False,
    close: Callable[[], None] = _nothing,
    error: type[ReleaseFailed] = ReleaseFailed,
    log: logging.Logger | None = None,
) -> R:
    """Run ``plan`` into ``receipt`` the way every release operation does; return the receipt.

    One place for the dry run, the failure receipt and the undo, so the operations agree on
    them. ``dry_run`` records the plan in ``extra["plan"]`` and runs only the first
    ``dry_phases`` phases (read-only ones; the rest are marked skipped when there are any).
    A real run ends with outcome ``done``. A failing phase is recorded (phase, reason, fix),
    ``undo`` runs, the outcome is ``stopped`` for a phase in ``gates`` (nothing was touched)
    and ``failed`` otherwise, and ``error`` is raised carrying the receipt. ``committed`` says
    traffic has moved: an interruption after it is not undone, and with ``warn_after_commit``
    a failing phase after it is a warning on a ``done`` receipt instead. ``close`` (the
    operation's sessions) runs however the run ends."""
    receipt.phases = plan.records()
    if dry_run:
        return _dry_run(plan, receipt, dry_phases, close)
    moved = committed or (lambda: False)
    try:
        plan.run(receipt.phases, hooks)
    except PhaseFailed as failed:
        receipt.failed_phase = failed.name
        receipt.reason, receipt.fix = failure_text(failed.cause)
        if warn_after_commit and moved():
            receipt.outcome = done
            receipt.warnings.append(
                f"phase {failed.name} failed after the switch: {receipt.reason}"
            )
            receipt.failed_phase = receipt.reason = receipt.fix = None
            receipt.finished_at = utcnow()
            return receipt
        if undo is not None:
            undo()
        receipt.outcome = "stopped" if failed.name in gates else "failed"
        receipt.finished_at = utcnow()
        if log is not None:
            log.warning(
                "%s %s %s in phase %s: %s",
                receipt.operation,
                receipt.id,
                receipt.outcome,
                failed.name,
                receipt.reason,
            )
        raise error(receipt, failed.cause) from failed.cause
    except BaseException:  # interrupted or cancelled: undo what is not yet committed
        if undo is not None and not moved():
            undo()
        raise
    finally:
        close()
    receipt.outcome = done
    receipt.finished_at = utcnow()
    return receipt
