"""The cutover: named, timed phases, each recorded, and a rollback.

1. ``preflight``: every gate (:mod:`bluegreen.release.preflight`); a closed gate stops here
   with the reasons, and nothing was touched.
2. ``pre-verify`` (blue live, the sync running): every row of blue through the mapping against
   green at its watermark W, leaving out the keys blue changed after W (their rows are moving);
   then keyed passes over just those keys move W forward until few are left. Green changes only
   through the sync, which applies exactly the keys blue's change log names, so this proves
   green equals blue on every key not changed after W. A mismatch stops here (a gate): nothing
   was touched. W is recorded (``verified_through``).
3. ``freeze``: blue's writes are refused (``Dialect.freeze``) and the freeze is confirmed (a
   freeze that cannot be confirmed is a failure); blue's version at the freeze is recorded. The
   flow pauses the sync schedule from the ``after`` hook of this phase.
4. ``drain``: a final sync to blue's current (frozen) version.
5. ``verify``: only the keys blue changed after W: blue's (frozen) rows of those keys through
   the mapping against green's rows of the same keys, read by key (counts and content hashes
   per green table, :func:`bluegreen.release.verify.verify_changed`); with the pre-verify this
   proves green equals blue everywhere, in time that grows with the writes since W, not with
   the database. A mismatch aborts.
6. ``switch``: green's identity counters move past its largest keys; change tracking is
   enabled on green and its position recorded (a rollback counts the writes green takes after
   this point); then the traffic switch points at green, and green is marked production.
7. ``receipt``: the receipt is stored on green (a rollback in another process reads it).

A failure in any phase before the switch points at green unfreezes blue and leaves routing
unchanged (if the switch itself failed half-way, it is pointed back at blue first; when that
cannot be confirmed, blue stays frozen and the receipt says so: never both sides writable).
The freeze duration runs from the freeze call to the switch (or to the unfreeze).

A rollback after a switch freezes green, points traffic back at blue, unfreezes blue, and
warns, with the count per table, about writes green took after the switch that blue lacks.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from bluegreen.dialects import connect
from bluegreen.dialects.base import Dialect
from bluegreen.errors import BlueGreenError, ConfigError, TerminalError, TransientError
from bluegreen.release.pair import ReleasePair, Sessions, secret
from bluegreen.release.preflight import DEFAULT_APPLY_RATE, Preflight, run_preflight
from bluegreen.release.records import (
    GateFailed,
    Phase,
    PhaseHooks,
    PhasePlan,
    Receipt,
    ReleaseFailed,
    failure_text,
    run_plan,
    utcnow,
)
from bluegreen.release.store import LAST_CUTOVER, ReleaseStore
from bluegreen.release.switch import TrafficSwitch
from bluegreen.release.traffic import FreezeAndSwitch, freeze_confirmed, point_confirmed
from bluegreen.release.verify import VerifyReport, verify_changed, verify_unchanged
from bluegreen.sync.runner import RunSummary
from bluegreen.watermark import Watermark

log = logging.getLogger("bluegreen.release")

CutoverPlan = PhasePlan

PRE_VERIFY_KEYS = 1_000
"""The pre-verify ends after a keyed pass that met at most this many changed keys (the full
pass is always followed by one: blue keeps moving while it reads every row)."""
PRE_VERIFY_PASSES = 6
"""Pre-verify passes at most (the full pass, then keyed ones) under a write load that keeps
the sync behind; the freeze then checks what is left."""


class CutoverFailed(ReleaseFailed):
    """The cutover stopped; its receipt says where and confirms blue was unfrozen."""


class VerificationFailed(TerminalError):
    """Green does not hold what blue holds (through the mapping)."""


@dataclass
class CutoverReceipt(Receipt):
    """What the cutover did: versions, the freeze, per-phase durations, verification."""

    pair: dict[str, Any] = field(default_factory=dict)
    switch: str = ""
    preflight: Preflight | None = None
    version_at_freeze: Watermark | None = None
    version_after_drain: Watermark | None = None
    freeze_started_at: str | None = None
    freeze_confirmed_at: str | None = None
    freeze_ended_at: str | None = None
    freeze_seconds: float | None = None
    drain: RunSummary | None = None
    pre_verification: list[VerifyReport] = field(default_factory=list)
    verified_through: Watermark | None = None
    pre_verify_seconds: float | None = None
    verification: VerifyReport | None = None
    identities: list[str] = field(default_factory=list)
    green_tracking: list[str] = field(default_factory=list)
    green_baseline: Watermark | None = None
    routed_from: str = ""
    routed_to: str = ""
    routing_after: str | None = None
    blue_unfrozen: bool | None = None

    def facts(self) -> list[tuple[str, str]]:
        out = [("pair", f"{self.routed_from} -> {self.routed_to}"), ("switch", self.switch)]
        if self.preflight is not None and self.preflight.predicted_freeze is not None:
            out.append(
                (
                    "predicted drain",
                    f"{self.preflight.predicted_freeze:.2f} s for "
                    f"{self.preflight.pending_total} change(s)",
                )
            )
        if self.version_at_freeze is not None:
            out.append(("blue version at freeze", str(self.version_at_freeze)))
        if self.version_after_drain is not None:
            out.append(("green watermark after drain", str(self.version_after_drain)))
        if self.freeze_seconds is not None:
            out.append(("write freeze", f"{self.freeze_seconds:.3f} s"))
        if self.pre_verification:
            last = self.pre_verification[-1]
            out.append(
                (
                    "pre-verify (before the freeze)",
                    f"{len(self.pre_verification)} pass(es) in {self.pre_verify_seconds or 0:.2f} s"
                    f"; green proven equal through {self.verified_through}; "
                    f"{last.keys_deferred} changed key(s) left for the freeze",
                )
            )
        if self.verification is not None:
            out.append(("verification", self.verification.summary()))
        if self.routing_after is not None:
            out.append(("traffic now on", self.routing_after))
        if self.blue_unfrozen is not None:
            out.append(("blue unfrozen after the failure", "yes" if self.blue_unfrozen else "NO"))
        return out


class _Cutover(FreezeAndSwitch[CutoverReceipt]):
    """One cutover's state; its methods are the phases."""

    def __init__(
        self,
        pair: ReleasePair,
        switch: TrafficSwitch,
        receipt: CutoverReceipt,
        *,
        max_pending: int,
        freeze_budget: float,
        default_apply_rate: float,
        drain_budget: float | None,
        verify_keys: int = PRE_VERIFY_KEYS,
        verify_passes: int = PRE_VERIFY_PASSES,
    ) -> None:
        super().__init__(pair, switch, receipt)
        self.verify_keys = verify_keys
        self.verify_passes = verify_passes
        self.max_pending = max_pending
        self.freeze_budget = freeze_budget
        self.default_apply_rate = default_apply_rate
        self.drain_budget = drain_budget
        self.enabled_on_green: list[Any] = []

    def phases(self) -> list[Phase]:
        p, g, b = self.pair, self.pair.green_label, self.pair.blue_label
        return [
            Phase(
                "preflight",
                "gates: mapping, schema, lag, predicted freeze, routing",
                self.preflight,
            ),
            Phase(
                "pre-verify",
                f"before the freeze: every row but those changed since {g}'s watermark W, "
                "then keyed passes moving W forward (counts and hashes through the mapping)",
                self.pre_verify,
            ),
            Phase(
                "freeze", f"refuse writes on {b} and confirm it; record its version", self.freeze
            ),
            Phase("drain", f"final sync to {b}'s frozen version", self.drain),
            Phase(
                "verify",
                "the keys changed since W: counts and content hashes through the mapping",
                self.verify,
            ),
            Phase("switch", f"move {g}'s identities; track {g}; point traffic at {g}", self.point),
            Phase("receipt", f"store this receipt on {g} ({p.stream})", self.store),
        ]

    # ---- phases -------------------------------------------------------------------------------
    def preflight(self) -> str:
        blue = self.sessions.open(self.pair.blue_url)
        green = self.sessions.open(self.pair.green_url)
        pf, _ = run_preflight(
            self.pair,
            blue,
            green,
            self.switch,
            max_pending=self.max_pending,
            freeze_budget=self.freeze_budget,
            default_apply_rate=self.default_apply_rate,
        )
        self.receipt.preflight = pf
        # the freeze ends other sessions (PostgreSQL): close ours first
        self.sessions.close_all()
        if not pf.ok:
            raise GateFailed(f"preflight gate(s) closed: {pf.reason()}", fix=pf.fix())
        return f"{pf.pending_total} pending; predicted drain {pf.predicted_freeze or 0:.2f} s"

    def pre_verify(self) -> str:
        r = self.receipt
        t0 = time.perf_counter()
        try:
            blue = self.sessions.open(self.pair.blue_url)
            green = self.sessions.open(self.pair.green_url)
            plan, shaper = self.pair.plan(blue, green)
            stream, batch = self.pair.stream, self.pair.batch_size
            report = verify_unchanged(blue, green, plan, shaper, stream=stream, batch_size=batch)
            while True:
                r.pre_verification.append(report)
                if not report.ok:
                    raise GateFailed(
                        f"green differs from blue (through the mapping) before the freeze: "
                        f"{report.summary()}",
                        fix="blue keeps production and was never frozen; compare the tables "
                        "named (bluegreen verify), fix green or the mapping (or re-seed green), "
                        "let the sync catch up, then cut over again",
                    )
                r.verified_through = report.green_watermark
                # a pass's own keys measure how far blue moves while one runs: once a keyed
                # pass had few, the keys left for the freeze are fewer still
                moved = (report.keys_checked or 0) + (report.keys_deferred or 0)
                if report.mode == "keyed" and moved <= self.verify_keys:
                    break
                if len(r.pre_verification) >= self.verify_passes:
                    break
                assert report.green_watermark is not None
                since = report.green_watermark
                report = verify_changed(
                    blue, green, plan, since, shaper, stream=stream, batch_size=batch
                )
        finally:
            r.pre_verify_seconds = time.perf_counter() - t0
            # the freeze ends other sessions (PostgreSQL): close ours first
            self.sessions.close_all()
        last = r.pre_verification[-1]
        return (
            f"{len(r.pre_verification)} pass(es): green = blue through {r.verified_through}; "
            f"{last.keys_deferred} changed key(s) left for the freeze"
        )

    def freeze(self) -> str:
        ctl = self.sessions.open(self.pair.blue_url)
        self.freeze_blue(
            ctl,
            "check the database user's rights (ALTER DATABASE, pg_terminate_backend) and what "
            "else writes to blue",
            why=": a write from a new session was not refused",
        )
        self.receipt.freeze_confirmed_at = utcnow()
        self.sessions.close(ctl)
        reader = self.sessions.open(self.pair.blue_url)
        self.receipt.version_at_freeze = reader.current_watermark()
        self.sessions.close(reader)
        return f"{self.pair.blue_label} frozen at version {self.receipt.version_at_freeze}"

    def drain(self) -> str:
        blue = self.sessions.open(self.pair.blue_url)
        green = self.sessions.open(self.pair.green_url)
        syncer = self.pair.syncer(blue, green)
        summary = syncer.until_caught_up(time_budget=self.drain_budget)
        mark = syncer.state.read()[0]
        green.rollback()
        self.receipt.drain = summary
        self.receipt.version_after_drain = mark
        at_freeze = self.receipt.version_at_freeze
        if not summary.caught_up or at_freeze is None or mark.origin or mark < at_freeze:
            raise TransientError(
                f"the final drain stopped at {mark}, short of blue's version at the freeze "
                f"({at_freeze})",
                fix="blue was unfrozen; let the sync catch up (or raise drain_budget) and retry",
            )
        self.sessions.close(blue)
        self.sessions.close(green)
        return summary.summary()

    def verify(self) -> str:
        blue = self.sessions.open(self.pair.blue_url)
        green = self.sessions.open(self.pair.green_url)
        plan, shaper = self.pair.plan(blue, green)
        since = self.receipt.verified_through
        if since is None:
            raise TerminalError(
                "no pre-verified watermark: the keyed verify has nothing to start from",
                fix="run the cutover whole (the pre-verify phase records it)",
            )
        report = verify_changed(
            blue,
            green,
            plan,
            since,
            shaper,
            stream=self.pair.stream,
            batch_size=self.pair.batch_size,
        )
        self.receipt.verification = report
        self.sessions.close(blue)
        self.sessions.close(green)
        if report.keys_deferred:
            raise VerificationFailed(
                f"green's watermark {report.green_watermark} is short of blue's frozen version "
                f"{report.blue_version}: {report.keys_deferred} changed key(s) were not checked",
                fix="blue keeps production; let the sync catch up, then cut over again",
            )
        if not report.ok:
            raise VerificationFailed(
                f"green differs from blue (through the mapping): {report.summary()}",
                fix="blue keeps production; compare the tables named (bluegreen verify), fix "
                "green or the mapping, let the sync catch up, then cut over again",
            )
        return report.summary()

    def point(self) -> str:
        green = self.sessions.open(self.pair.green_url)
        self.receipt.identities = green.advance_identities()
        tables = list(green.introspect().tables.values())
        keyed = [t for t in tables if t.primary_key]
        keyless = [str(t.name) for t in tables if not t.primary_key]
        if keyless:
            self.receipt.warnings.append(
                f"a rollback cannot count writes to {', '.join(keyless)} (no primary key)"
            )
        self.enabled_on_green = green.enable_tracking(keyed)
        self.receipt.green_tracking = [str(n) for n in green.tracked_tables()]
        self.receipt.green_baseline = green.current_watermark()
        green.rollback()
        # the one moment traffic moves: blue is frozen and green holds everything blue has
        self.point_at_green("check the switch; blue was unfrozen only if routing is back on blue")
        try:
            ReleaseStore(green).set_role("production")
        except BlueGreenError as exc:
            self.receipt.warnings.append(f"green could not be marked production: {exc.message}")
        self.sessions.close(green)
        moved = (
            f"; sequences moved: {len(self.receipt.identities)}" if self.receipt.identities else ""
        )
        secs = self.receipt.freeze_seconds
        return f"traffic on {self.pair.green_label} after a {secs:.3f} s freeze{moved}"

    def store(self) -> str:
        green = self.sessions.open(self.pair.green_url)
        ReleaseStore(green).put_json(LAST_CUTOVER, self.receipt.as_dict())
        self.sessions.close(green)
        return f"stored on {self.pair.green_label}"

    # ---- undo before the switch ---------------------------------------------------------------
    def abort(self) -> None:
        """Leave things as they were: routing on blue, blue writable, green untracked."""
        r = self.receipt
        self.sessions.close_all()
        routing_ok = self.route_back()
        if self.enabled_on_green:
            try:
                with self.sessions.scope():
                    self.sessions.open(self.pair.green_url).disable_tracking(self.enabled_on_green)
            except Exception as exc:
                r.warnings.append(f"change tracking enabled on green stays: {failure_text(exc)[0]}")
        self.release_blue(
            routing_ok,
            f"routing could not be confirmed back on {self.pair.blue_label}: blue was left "
            "FROZEN so both sides never take writes; fix the switch, then unfreeze blue "
            "(bluegreen.release.unfreeze) or run the cutover again",
            hint="; unfreeze it by hand",
        )


def plan_cutover(pair: ReleasePair, switch: TrafficSwitch) -> CutoverPlan:
    """The cutover's phases, as data (a dry run prints ``describe()``)."""
    runner = _Cutover(
        pair,
        switch,
        CutoverReceipt(),
        max_pending=0,
        freeze_budget=0.0,
        default_apply_rate=DEFAULT_APPLY_RATE,
        drain_budget=None,
    )
    return PhasePlan("cutover", runner.phases())


def cutover(
    pair: ReleasePair,
    switch: TrafficSwitch,
    *,
    max_pending: int = 10_000,
    freeze_budget: float = 5.0,
    default_apply_rate: float = DEFAULT_APPLY_RATE,
    drain_budget: float | None = 120.0,
    pre_verify_keys: int = PRE_VERIFY_KEYS,
    pre_verify_passes: int = PRE_VERIFY_PASSES,
    hooks: PhaseHooks | None = None,
    dry_run: bool = False,
) -> CutoverReceipt:
    """Cut traffic over from blue to green (see the module docstring).

    ``pre_verify_keys``: the pre-verify stops after a keyed pass that met at most this many
    changed keys (else it runs another, up to ``pre_verify_passes`` passes in all).
    ``dry_run`` runs only the preflight (read-only) and returns the receipt with the plan in
    ``extra["plan"]``. Otherwise returns the receipt of a cutover that switched, or raises
    :class:`CutoverFailed` whose ``receipt`` names the phase, the reason and the fix, and
    records that blue was unfrozen and routing left unchanged."""
    receipt = CutoverReceipt(
        operation="cutover",
        pair=pair.as_dict(),
        switch=switch.describe(),
        routed_from=pair.blue_label,
        routed_to=pair.green_label,
    )
    runner = _Cutover(
        pair,
        switch,
        receipt,
        max_pending=max_pending,
        freeze_budget=freeze_budget,
        default_apply_rate=default_apply_rate,
        drain_budget=drain_budget,
        verify_keys=pre_verify_keys,
        verify_passes=pre_verify_passes,
    )
    run_plan(
        PhasePlan("cutover", runner.phases()),
        receipt,
        hooks=hooks,
        dry_run=dry_run,
        dry_phases=1,
        done="switched",
        gates=("preflight", "pre-verify"),
        undo=runner.abort,
        committed=lambda: runner.switched,
        # only the receipt phase follows the switch: traffic is on green, blue stays frozen
        warn_after_commit=True,
        close=runner.sessions.close_all,
        error=CutoverFailed,
        log=log,
    )
    if receipt.phases[-1].outcome != "ok":  # a dry run, or the receipt not stored
        return receipt
    log.info(
        "cutover %s: traffic on %s after a %.3f s write freeze",
        receipt.id,
        pair.green_label,
        receipt.freeze_seconds or 0.0,
    )
    return receipt


# ---- rollback ---------------------------------------------------------------------------------
@dataclass
class RollbackReceipt(Receipt):
    """What the rollback did, and the writes green took after the switch that blue lacks."""

    pair: dict[str, Any] = field(default_factory=dict)
    switch: str = ""
    cutover_id: str | None = None
    green_baseline: Watermark | None = None
    writes_on_green: dict[str, int] = field(default_factory=dict)
    routing_after: str | None = None

    @property
    def writes_on_green_total(self) -> int:
        return sum(self.writes_on_green.values())

    def facts(self) -> list[tuple[str, str]]:
        return [
            ("cutover rolled back", str(self.cutover_id)),
            ("writes on green since the switch", str(self.writes_on_green_total)),
            ("traffic now on", str(self.routing_after)),
        ]


class _Rollback:
    def __init__(
        self,
        pair: ReleasePair,
        switch: TrafficSwitch,
        receipt: RollbackReceipt,
        cutover_receipt: CutoverReceipt | dict[str, Any] | None,
    ) -> None:
        self.pair = pair
        self.switch = switch
        self.receipt = receipt
        self.given = cutover_receipt
        self.sessions = Sessions()
        self.green_frozen = False
        self.switched = False

    def phases(self) -> list[Phase]:
        b, g = self.pair.blue_label, self.pair.green_label
        return [
            Phase("check", f"find the cutover on {g}; traffic must be on {g}", self.check),
            Phase("freeze", f"refuse writes on {g} (so both never take writes)", self.freeze),
            Phase("count", f"count writes {g} took after the switch", self.count),
            Phase("switch", f"point traffic back at {b}", self.point),
            Phase("unfreeze", f"unfreeze {b}; mark it production", self.unfreeze_blue),
            Phase("release", f"untrack and unfreeze {g}; mark it standby", self.release_green),
        ]

    def check(self) -> str:
        r = self.receipt
        data: dict[str, Any] | None
        if isinstance(self.given, CutoverReceipt):
            data = self.given.as_dict()
        elif isinstance(self.given, dict):
            data = self.given
        else:
            with self.sessions.scope():
                data = ReleaseStore(self.sessions.open(self.pair.green_url)).get_json(LAST_CUTOVER)
        if data is not None:
            r.cutover_id = data.get("id")
            base = data.get("green_baseline")
            if base is not None:
                r.green_baseline = Watermark.loads(json.dumps(base))
        else:
            r.warnings.append("no cutover receipt found on green: writes on green are not counted")
        active = self.switch.active()
        if active is not None and active != self.pair.green_label:
            raise ConfigError(
                f"{self.switch.describe()} sends traffic to {active}, not to "
                f"{self.pair.green_label}: there is no switch to roll back",
                fix="give rollback the pair of the cutover (blue = the old production)",
            )
        return f"cutover {r.cutover_id}; traffic on {active or 'unknown'}"

    def freeze(self) -> str:
        with self.sessions.scope():
            green = self.sessions.open(self.pair.green_url)
            self.green_frozen = True
            freeze_confirmed(
                green,
                self.pair.green_label,
                "check the database user's rights; traffic is still on green",
            )
        return f"{self.pair.green_label} frozen"

    def count(self) -> str:
        r = self.receipt
        if r.green_baseline is None:
            return "not counted (no baseline)"
        with self.sessions.scope():
            green = self.sessions.open(self.pair.green_url)
            schema = green.introspect()
            for name in green.tracked_tables():
                table = schema.find(name)
                if table is not None:
                    n = green.count_changes(table, r.green_baseline)
                    if n:
                        r.writes_on_green[str(name)] = n
        total = r.writes_on_green_total
        if total:
            per = ", ".join(f"{k}: {v}" for k, v in sorted(r.writes_on_green.items()))
            r.warnings.append(
                f"{total} changed row(s) were written on {self.pair.green_label} after the switch "
                f"and are NOT on {self.pair.blue_label} ({per}); re-seed "
                f"{self.pair.green_label} from {self.pair.blue_label} before the next cutover"
            )
        return f"{total} changed row(s) on {self.pair.green_label} since the switch"

    def point(self) -> str:
        self.switched = True
        point_confirmed(self.switch, self.pair.blue_label, "check the switch")
        self.receipt.routing_after = self.pair.blue_label
        return f"traffic on {self.pair.blue_label}"

    def unfreeze_blue(self) -> str:
        with self.sessions.scope():
            blue = self.sessions.open(self.pair.blue_url)
            blue.unfreeze()
            if blue.is_frozen():
                raise TerminalError(
                    f"{self.pair.blue_label} is still frozen after unfreezing",
                    fix="unfreeze it by hand",
                )
            ReleaseStore(blue).set_role("production")
        return f"{self.pair.blue_label} writable"

    def release_green(self) -> str:
        with self.sessions.scope():
            green = self.sessions.open(self.pair.green_url)
            green.unfreeze()
            self.green_frozen = False
            dropped = green.drop_tracking()
            store = ReleaseStore(green)
            store.set_role("standby")
        return f"{self.pair.green_label} standby; tracking dropped on {len(dropped)} table(s)"

    def abort(self) -> None:
        r = self.receipt
        if not self.switched:
            if self.green_frozen:  # traffic is still on green: it must take writes again
                try:
                    with self.sessions.scope():
                        self.sessions.open(self.pair.green_url).unfreeze()
                except Exception as exc:
                    r.warnings.append(f"green could not be unfrozen: {failure_text(exc)[0]}")
            return
        # traffic may be on blue now: blue must take writes
        try:
            with self.sessions.scope():
                self.sessions.open(self.pair.blue_url).unfreeze()
        except Exception as exc:
            r.warnings.append(f"blue could not be unfrozen: {failure_text(exc)[0]}")


def rollback(
    pair: ReleasePair,
    switch: TrafficSwitch,
    *,
    cutover_receipt: CutoverReceipt | dict[str, Any] | None = None,
    hooks: PhaseHooks | None = None,
    dry_run: bool = False,
) -> RollbackReceipt:
    """Undo a cutover of ``pair`` (blue = the old production, green = the side now taking
    traffic): see the module docstring. The cutover's receipt is read from green unless given.
    Raises :class:`ReleaseFailed` on failure (traffic stays on a writable side)."""
    receipt = RollbackReceipt(operation="rollback", pair=pair.as_dict(), switch=switch.describe())
    runner = _Rollback(pair, switch, receipt, cutover_receipt)
    # an interruption is undone too: a writable side must be left taking traffic
    return run_plan(
        PhasePlan("rollback", runner.phases()),
        receipt,
        hooks=hooks,
        dry_run=dry_run,
        undo=runner.abort,
        close=runner.sessions.close_all,
    )


# ---- by hand ----------------------------------------------------------------------------------
def freeze(url: str | SecretStr) -> bool:
    """Freeze the database at ``url`` and return whether the freeze is confirmed."""
    db: Dialect = connect(secret(url))
    try:
        db.freeze()
        return db.is_frozen()
    finally:
        db.close()


def unfreeze(url: str | SecretStr) -> bool:
    """Unfreeze the database at ``url`` (recovery after a crash); True when writable again."""
    db: Dialect = connect(secret(url))
    try:
        db.unfreeze()
        return not db.is_frozen()
    finally:
        db.close()
