"""A fault in each cutover phase: blue ends writable, routing unchanged, nothing lost.

One prepared pair per engine serves the whole module: every test must leave it exactly as it
found it (blue production and writable, switch on blue, green synced), which is itself what a
failed cutover promises.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bluegreen.dialects import connect
from bluegreen.release import (
    CutoverFailed,
    FileSwitch,
    PhaseHooks,
    ReleasePair,
    cutover,
    plan_cutover,
    prepare_green,
    verify_pair,
)
from bluegreen.sync.runner import Syncer
from tests.conftest import EnginePair
from tests.release.conftest import release_pair, seed_shop, shop_ddl


@pytest.fixture(scope="module")
def ready(
    module_pair: EnginePair, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[EnginePair, ReleasePair, FileSwitch]]:
    pair = module_pair
    pair.ddl(*shop_ddl(pair), sides=("blue",))
    seed_shop(pair)
    rp = release_pair(pair)
    prepare_green(rp, method="copy", replace=True, enable_tracking=True)
    switch = FileSwitch(tmp_path_factory.mktemp("switch") / "switch.json")
    switch.point_to("blue")
    yield pair, rp, switch


class Injected(RuntimeError):
    pass


def _fail(phase: str, when: str) -> PhaseHooks:
    def hook(name: str) -> None:
        if name == phase:
            raise Injected(f"injected fault {when} phase {name}")

    return PhaseHooks(**{when: hook})


def _sync_and_verify(rp: ReleasePair) -> None:
    blue, green = connect(rp.blue_url), connect(rp.green_url)
    try:
        Syncer(blue, green).until_caught_up()
        plan, shaper = rp.plan(blue, green)
        report = verify_pair(blue, green, plan, shaper)
        assert report.ok, report.summary()
    finally:
        blue.close()
        green.close()


def _assert_untouched(pair: EnginePair, rp: ReleasePair, switch: FileSwitch, tag: str) -> None:
    assert switch.active() == "blue"
    for url in (rp.blue_url, rp.green_url):
        db = connect(url)
        try:
            assert not db.is_frozen()
        finally:
            db.close()
    green = connect(rp.green_url)
    try:
        assert green.tracked_tables() == []  # reverse tracking was removed again
    finally:
        green.close()
    # blue takes writes again, and they reach green: nothing was lost
    pair.run("blue", f"INSERT INTO event (customer_id, amount, tag) VALUES (1, 1, '{tag}')")
    _sync_and_verify(rp)
    assert any(r[3] == tag for r in pair.rows("green", "event"))


PHASES = [
    ("preflight", "after"),
    ("pre-verify", "after"),
    ("freeze", "after"),
    ("drain", "after"),
    ("verify", "after"),
    ("switch", "before"),
]


@pytest.mark.parametrize(("phase", "when"), PHASES, ids=[p for p, _ in PHASES])
def test_fault_in_a_phase_unfreezes_blue_and_keeps_routing(ready, phase: str, when: str) -> None:
    pair, rp, switch = ready
    pair.run("blue", "UPDATE customer SET name = 'moved' WHERE id = 2")  # something to drain
    with pytest.raises(CutoverFailed) as err:
        cutover(rp, switch, hooks=_fail(phase, when))
    receipt = err.value.receipt
    assert receipt.failed_phase == phase
    assert "injected fault" in (receipt.reason or "")
    before_freeze = phase in ("preflight", "pre-verify")
    assert receipt.outcome == ("stopped" if before_freeze else "failed")
    assert receipt.phase(phase).outcome == "failed"
    later = [p.outcome for p in receipt.phases[[p.name for p in receipt.phases].index(phase) + 1 :]]
    assert set(later) <= {"pending"}
    if before_freeze:
        assert receipt.blue_unfrozen is None and receipt.freeze_started_at is None
    else:
        assert receipt.blue_unfrozen is True
        assert receipt.freeze_seconds is not None
    assert "injected fault" in receipt.markdown()
    _assert_untouched(pair, rp, switch, f"after-{phase}")


class HalfSwitch(FileSwitch):
    """Moves traffic, then reports an error (a traffic manager that times out after acting)."""

    def point_to(self, side: str) -> None:
        super().point_to(side)
        if side == "green":
            raise Injected("the traffic manager timed out")


def test_a_switch_that_fails_half_way_is_pointed_back(ready, tmp_path: Path) -> None:
    pair, rp, _ = ready
    switch = HalfSwitch(tmp_path / "half.json")
    switch.point_to("blue")
    with pytest.raises(CutoverFailed) as err:
        cutover(rp, switch)
    receipt = err.value.receipt
    assert receipt.failed_phase == "switch" and receipt.routing_after == "blue"
    assert receipt.blue_unfrozen is True
    _assert_untouched(pair, rp, switch, "half-switch")


class StuckSwitch(FileSwitch):
    """Cannot be moved back: traffic may be on green, so blue must stay frozen."""

    def point_to(self, side: str) -> None:
        super().point_to("green")
        raise Injected(f"cannot point at {side}")


def test_routing_that_cannot_be_restored_leaves_blue_frozen(ready, tmp_path: Path) -> None:
    pair, rp, switch = ready
    stuck = StuckSwitch(tmp_path / "stuck.json", initial="blue")
    with pytest.raises(CutoverFailed) as err:
        cutover(rp, stuck)
    receipt = err.value.receipt
    assert receipt.blue_unfrozen is False
    assert any("FROZEN" in w for w in receipt.warnings)
    blue = connect(rp.blue_url)
    try:
        assert blue.is_frozen()  # never both sides writable through the switch
        blue.unfreeze()  # the operator's fix, then the pair is as before
        green = connect(rp.green_url)
        green.drop_tracking()
        green.close()
    finally:
        blue.close()
    _assert_untouched(pair, rp, switch, "stuck-switch")


def test_a_closed_gate_stops_before_anything_is_touched(ready) -> None:
    pair, rp, switch = ready
    pair.run("blue", *[f"UPDATE customer SET name = 'g{i}' WHERE id = {i}" for i in range(1, 11)])
    # 10 pending changes: over the lag limit, and any predicted drain exceeds a zero budget
    with pytest.raises(CutoverFailed) as err:
        cutover(rp, switch, freeze_budget=0.0, max_pending=5)
    receipt = err.value.receipt
    assert receipt.outcome == "stopped" and receipt.failed_phase == "preflight"
    assert receipt.preflight is not None
    closed = {g.name for g in receipt.preflight.failures}
    assert {"lag", "freeze"} <= closed
    assert receipt.preflight.pending_total >= 10
    assert "let the sync catch up" in (receipt.fix or "")
    _assert_untouched(pair, rp, switch, "gate")


def test_dry_run_runs_only_the_preflight(ready) -> None:
    pair, rp, switch = ready
    receipt = cutover(rp, switch, dry_run=True)
    assert receipt.outcome == "dry-run"
    assert [p.outcome for p in receipt.phases] == ["ok"] + ["skipped"] * 6
    assert "freeze" in receipt.extra["plan"] and "verify" in receipt.extra["plan"]
    assert plan_cutover(rp, switch).describe() == receipt.extra["plan"]
    _assert_untouched(pair, rp, switch, "dry-run")


def test_a_mismatch_on_an_unchanged_key_stops_before_the_freeze(ready) -> None:
    pair, rp, switch = ready
    # green drifts behind the sync's back on a key blue never changes: the pre-verify (every
    # row but the changed keys, blue live) must refuse before anything is frozen
    pair.run("green", "UPDATE region SET name = 'drift' WHERE id = 1")
    try:
        with pytest.raises(CutoverFailed) as err:
            cutover(rp, switch)
        receipt = err.value.receipt
        assert receipt.failed_phase == "pre-verify" and receipt.outcome == "stopped"
        assert receipt.freeze_started_at is None and receipt.blue_unfrozen is None
        assert receipt.verification is None  # the in-freeze verify never ran
        (report,) = receipt.pre_verification
        assert report.mode == "unchanged" and not report.ok
        assert [t.green_table.split(".")[-1] for t in report.mismatches] == ["region"]
        assert "green differs from blue" in (receipt.reason or "")
        assert "region" in (receipt.reason or "") and "never frozen" in (receipt.fix or "")
    finally:
        pair.run("green", "UPDATE region SET name = 'r1' WHERE id = 1")
    _assert_untouched(pair, rp, switch, "mismatch")


def test_a_mismatch_on_a_changed_key_is_caught_inside_the_freeze(ready) -> None:
    pair, rp, switch = ready

    def before(phase: str) -> None:
        if phase == "freeze":  # after the pre-verify: a key changed after its watermark
            pair.run("blue", "UPDATE customer SET name = 'late' WHERE id = 5")
        if phase == "verify":  # after the drain brought it over: green's row goes wrong
            pair.run("green", "UPDATE customer SET name = 'corrupt' WHERE id = 5")

    try:
        with pytest.raises(CutoverFailed) as err:
            cutover(rp, switch, hooks=PhaseHooks(before=before))
        receipt = err.value.receipt
        assert receipt.failed_phase == "verify" and receipt.outcome == "failed"
        assert receipt.blue_unfrozen is True and receipt.freeze_seconds is not None
        assert receipt.pre_verification and receipt.pre_verification[-1].ok
        report = receipt.verification
        assert report is not None and report.mode == "keyed" and not report.ok
        assert report.since == receipt.verified_through
        assert report.keys_checked is not None and report.keys_checked >= 1
        assert [t.green_table.split(".")[-1] for t in report.mismatches] == ["customer"]
        assert "green differs from blue" in (receipt.reason or "")
    finally:
        pair.run("green", "UPDATE customer SET name = 'late' WHERE id = 5")
    _assert_untouched(pair, rp, switch, "keyed-mismatch")


def test_keyed_pre_verify_passes_and_a_clean_keyed_verify(ready) -> None:
    pair, rp, switch = ready
    # changes the sync has not applied yet: the pre-verify leaves them out, then (with no key
    # allowed for the freeze) runs keyed passes until its pass limit
    pair.run(
        "blue",
        "UPDATE customer SET name = 'pending' WHERE id = 7",
        "DELETE FROM event WHERE id = (SELECT MAX(id) FROM event)",
    )
    with pytest.raises(CutoverFailed) as err:  # stop after the verify: the pair stays as is
        cutover(rp, switch, hooks=_fail("verify", "after"), pre_verify_keys=0, pre_verify_passes=3)
    receipt = err.value.receipt
    modes = [r.mode for r in receipt.pre_verification]
    assert modes == ["unchanged", "keyed", "keyed"]
    assert all(r.ok for r in receipt.pre_verification)
    assert receipt.pre_verification[0].keys_deferred == 2
    assert receipt.pre_verification[1].keys_checked == 0  # the sync did not move: all deferred
    report = receipt.verification
    assert report is not None and report.ok and report.keys_checked == 2
    assert report.keys_deferred == 0
    assert "changed key(s) left for the freeze" in receipt.markdown()
    _assert_untouched(pair, rp, switch, "keyed-ok")


def test_receipt_as_json_holds_no_secret(ready) -> None:
    _, rp, switch = ready
    receipt = cutover(rp, switch, dry_run=True)
    text = receipt.to_json()
    assert "preflight" in text and "gates" in text
    secret = ReleasePair.of("postgresql://app:s3cr3t@db/x", "sqlite:///g.db").as_dict()
    assert "s3cr3t" not in str(secret)
