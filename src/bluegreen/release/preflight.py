"""The cutover's preflight: every gate checked, nothing touched.

Gates (all evaluated, so one run lists every reason to wait):

- ``mapping``: the sync plan builds from both live schemas (the workbook is valid);
- ``state``: green was prepared (it has a watermark);
- ``schema``: green's schema (and the mapping) are the ones the last sync window used: a change
  since then has not been re-checked by a sync yet;
- ``tracking``: blue's change log still covers green's watermark (no re-seed needed);
- ``lag``: pending changes (``Dialect.count_changes`` summed over the plan's tables) are at
  most ``max_pending``;
- ``freeze``: the predicted freeze, pending changes / measured apply rate, is within the budget.
  The rate is rows applied per second over green's recent windows (history); with no history
  it is ``DEFAULT_APPLY_RATE``, a deliberately low 500 rows/s (a small SQLite or PostgreSQL
  window applies thousands), so an unmeasured pair errs towards waiting;
- ``routing``: the switch sends traffic to blue (a switch that cannot tell passes, noted);
- ``writable``: neither side is frozen already (a crashed cutover must be rolled back first).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bluegreen.dialects.base import Dialect
from bluegreen.errors import BlueGreenError
from bluegreen.release.pair import ReleasePair
from bluegreen.release.switch import TrafficSwitch
from bluegreen.sync.plan import SyncPlan
from bluegreen.sync.state import GreenState
from bluegreen.watermark import Watermark

DEFAULT_APPLY_RATE = 500.0
"""Rows per second assumed when green has no sync history to measure (conservative)."""
HISTORY_WINDOWS = 20
"""How many recent windows (with changes) the apply rate is measured over."""


@dataclass(frozen=True)
class Gate:
    """One preflight check: passed or not, what was seen, and what to do when it failed."""

    name: str
    ok: bool
    detail: str
    fix: str | None = None


@dataclass
class Preflight:
    """Every gate, and the numbers behind them."""

    gates: list[Gate] = field(default_factory=list)
    pending: dict[str, int] = field(default_factory=dict)
    apply_rate: float = DEFAULT_APPLY_RATE
    apply_rate_source: str = "default"
    predicted_freeze: float | None = None
    freeze_budget: float = 5.0
    max_pending: int = 0
    green_watermark: Watermark | None = None
    blue_version: Watermark | None = None
    routing: str | None = None

    @property
    def ok(self) -> bool:
        return all(g.ok for g in self.gates)

    @property
    def failures(self) -> list[Gate]:
        return [g for g in self.gates if not g.ok]

    @property
    def pending_total(self) -> int:
        return sum(self.pending.values())

    def reason(self) -> str:
        return "; ".join(f"{g.name}: {g.detail}" for g in self.failures)

    def fix(self) -> str | None:
        fixes = [f"{g.name}: {g.fix}" for g in self.failures if g.fix]
        return "; ".join(fixes) or None


def measured_apply_rate(
    green: Dialect, stream: str, windows: int = HISTORY_WINDOWS
) -> tuple[float | None, int]:
    """(rows per second over the last ``windows`` windows that applied rows, windows used)."""
    state = GreenState(green, stream)
    if not state.installed():
        return None, 0
    sql = (
        f"SELECT inserts + updates + deletes + deferred_deletes, total_seconds "
        f"FROM {state.t_history} WHERE stream = {green.placeholder()} ORDER BY window_id DESC"
    )
    rows: list[tuple] = []
    for _, chunk in green.stream(sql, [stream], windows, doing="read green's sync history"):
        rows = chunk
        break
    green.rollback()
    applied = sum(int(r[0] or 0) for r in rows)
    seconds = sum(float(r[1] or 0.0) for r in rows)
    if applied <= 0 or seconds <= 0:
        return None, len(rows)
    return applied / seconds, len(rows)


def run_preflight(
    pair: ReleasePair,
    blue: Dialect,
    green: Dialect,
    switch: TrafficSwitch | None,
    *,
    max_pending: int = 10_000,
    freeze_budget: float = 5.0,
    default_apply_rate: float = DEFAULT_APPLY_RATE,
) -> tuple[Preflight, SyncPlan | None]:
    """Evaluate every gate (see the module docstring); read-only on both sides."""
    pf = Preflight(freeze_budget=freeze_budget, max_pending=max_pending)
    gates = pf.gates
    plan: SyncPlan | None = None
    try:
        plan, _ = pair.plan(blue, green)
        gates.append(Gate("mapping", True, f"{len(plan.targets)} green table(s) planned"))
    except BlueGreenError as exc:
        gates.append(Gate("mapping", False, exc.message, exc.fix))
    state = GreenState(green, pair.stream)
    installed = state.installed()
    stored_schema = stored_mapping = None
    if installed:
        pf.green_watermark, stored_mapping, stored_schema = state.read()
        green.rollback()
        gates.append(Gate("state", True, f"green's watermark is {pf.green_watermark}"))
    else:
        gates.append(
            Gate(
                "state",
                False,
                "green has no bluegreen state: it was never prepared",
                "run prepare-green first",
            )
        )
    if plan is not None and installed:
        changed = []
        if stored_schema != plan.green_fingerprint:
            changed.append(
                f"green's schema fingerprint is {plan.green_fingerprint}, the last window "
                f"synced with {stored_schema}"
            )
        if stored_mapping != plan.mapping_fingerprint:
            changed.append(
                f"the mapping fingerprint is {plan.mapping_fingerprint}, the last window "
                f"used {stored_mapping}"
            )
        gates.append(
            Gate(
                "schema",
                not changed,
                "; ".join(changed)
                or "green's schema and the mapping are unchanged since the last window",
                "run a sync (it re-checks the mapping against green's schema) or the "
                "pause-for-schema-change flow, then cut over"
                if changed
                else None,
            )
        )
    if plan is not None and pf.green_watermark is not None:
        mark = pf.green_watermark
        try:
            blue.begin_snapshot()
            pf.blue_version = blue.current_watermark()
            bad = [
                v
                for v in blue.check_valid([s.blue.name for s in plan.sources], mark)
                if not v.valid
            ]
            if bad:
                pf.pending = {}
            else:
                pf.pending = {
                    str(s.blue.name): blue.count_changes(s.blue, mark) for s in plan.sources
                }
        finally:
            blue.rollback()
        gates.append(
            Gate(
                "tracking",
                not bad,
                "; ".join(f"{v.table}: {v.detail}" for v in bad)
                or "blue's change log covers green's watermark",
                "re-seed green (deployment reseed-green), then cut over" if bad else None,
            )
        )
        total = pf.pending_total
        gates.append(
            Gate(
                "lag",
                total <= max_pending,
                f"{total} pending change(s) (at most {max_pending})",
                None if total <= max_pending else "let the sync catch up, then cut over",
            )
        )
        rate, used = measured_apply_rate(green, pair.stream)
        if rate is None:
            pf.apply_rate, pf.apply_rate_source = default_apply_rate, "default (no history)"
        else:
            pf.apply_rate, pf.apply_rate_source = rate, f"measured over {used} window(s)"
        pf.predicted_freeze = total / pf.apply_rate if pf.apply_rate > 0 else float("inf")
        within = pf.predicted_freeze <= freeze_budget
        gates.append(
            Gate(
                "freeze",
                within,
                f"predicted drain {pf.predicted_freeze:.2f} s at {pf.apply_rate:.0f} rows/s "
                f"({pf.apply_rate_source}); budget {freeze_budget:g} s",
                None if within else "let the sync catch up (or raise the budget), then cut over",
            )
        )
    if switch is not None:
        try:
            pf.routing = switch.active()
            if pf.routing is None:
                gates.append(
                    Gate(
                        "routing",
                        True,
                        f"{switch.describe()} cannot tell; assumed {pair.blue_label}",
                    )
                )
            else:
                ok = pf.routing == pair.blue_label
                gates.append(
                    Gate(
                        "routing",
                        ok,
                        f"{switch.describe()} sends traffic to {pf.routing}",
                        None
                        if ok
                        else f"point the switch at {pair.blue_label} (or give the pair "
                        "its current roles) before a cutover",
                    )
                )
        except BlueGreenError as exc:
            gates.append(Gate("routing", False, exc.message, exc.fix))
    frozen = [
        label for label, db in ((pair.blue_label, blue), (pair.green_label, green)) if _frozen(db)
    ]
    gates.append(
        Gate(
            "writable",
            not frozen,
            f"frozen already: {', '.join(frozen)}" if frozen else "neither side is frozen",
            "roll back (or unfreeze) the earlier cutover first" if frozen else None,
        )
    )
    return pf, plan


def _frozen(db: Dialect) -> bool:
    try:
        return db.is_frozen()
    finally:
        db.rollback()
