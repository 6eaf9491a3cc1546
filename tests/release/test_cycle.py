"""The whole release cycle at engine level, with the application writing all the way through:
prepare green, sync under a live writer, a schema change on green, cutover with the writer still
running (its writes fail fast during the freeze and go to green after the switch), verify,
re-seed the old blue from the new production, sync the other way."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from bluegreen.release import (
    FileSwitch,
    SchemaGuard,
    check_schema_change,
    cutover,
    pause_for_schema_change,
    prepare_green,
    reseed_green,
    verify_pair,
)
from bluegreen.release.pair import ReleasePair
from bluegreen.sync.runner import Syncer
from tests.conftest import EnginePair
from tests.release.conftest import Writer, release_pair, seed_shop, shop_ddl


def _epoch(iso: str | None) -> float:
    assert iso is not None
    return dt.datetime.fromisoformat(iso).timestamp()


def _sync(rp: ReleasePair, guard: SchemaGuard | None = None, rounds: int = 1) -> None:
    blue, green = rp.connect_blue(), rp.connect_green()
    try:
        syncer = Syncer(blue, green, stream=rp.stream, plan_builder=guard)
        for _ in range(rounds):
            syncer.until_caught_up(time_budget=20)
            time.sleep(0.05)
    finally:
        blue.close()
        green.close()


def _verify(rp: ReleasePair) -> None:
    blue, green = rp.connect_blue(), rp.connect_green()
    try:
        plan, shaper = rp.plan(blue, green)
        report = verify_pair(blue, green, plan, shaper, stream=rp.stream)
        assert report.ok, report.summary()
        assert {t.green_table.split(".")[-1] for t in report.tables} == {
            "region",
            "customer",
            "event",
        }
    finally:
        blue.close()
        green.close()


def test_release_cycle_under_a_live_writer(pair: EnginePair, tmp_path: Path) -> None:
    pair.ddl(*shop_ddl(pair), sides=("blue",))
    seed_shop(pair)
    switch = FileSwitch(tmp_path / "switch.json")
    switch.point_to("blue")
    rp = release_pair(pair)

    # ---- prepare: a copy of blue, tracking enabled, baseline recorded ------------------------
    prepared = prepare_green(rp, method="copy", replace=True, enable_tracking=True)
    assert prepared.outcome == "ok" and prepared.baseline is not None
    assert [p.outcome for p in prepared.phases] == ["ok"] * 4
    assert prepared.copy is not None and prepared.copy.dropped_tracking  # the copy was cleaned

    writer = Writer(pair.engine, {"blue": pair.blue_url, "green": pair.green_url}, switch)
    writer.start()
    try:
        # ---- sync under the live writer ------------------------------------------------------
        guard = SchemaGuard()
        writer.wait_for(lambda: len(writer.ok_on("blue")) >= 20)
        _sync(rp, guard, rounds=3)

        # ---- a schema change on green, announced: pause, change, check, resume --------------
        pause_for_schema_change(rp)
        pair.run("green", f"ALTER TABLE customer ADD COLUMN note {pair.t('text')}")
        report = check_schema_change(rp)
        assert report.ok and report.accepted, report.findings
        assert report.diff is not None and any("customer.note" in x for x in report.diff.lines())
        _sync(rp, guard, rounds=2)  # the guard notices the new fingerprint and re-plans
        assert guard.changes, "the sync did not notice green's schema change"

        # ---- cutover with the writer still running --------------------------------------------
        receipt = cutover(rp, switch, freeze_budget=5.0, max_pending=100_000)
        assert receipt.outcome == "switched", receipt.markdown()
        assert switch.active() == "green"
        assert [p.outcome for p in receipt.phases] == ["ok"] * 7
        assert receipt.version_at_freeze is not None and receipt.version_after_drain is not None
        assert receipt.verification is not None and receipt.verification.ok
        assert receipt.freeze_seconds is not None and receipt.freeze_seconds < 15
        assert set(receipt.phase_seconds()) == {
            "preflight",
            "pre-verify",
            "freeze",
            "drain",
            "verify",
            "switch",
            "receipt",
        }
        frozen_at = _epoch(receipt.freeze_confirmed_at)
        # the application kept writing: it reaches green after the switch
        writer.wait_for(lambda: len(writer.ok_on("green")) >= 10)

        # ---- no write succeeded on blue after the freeze began --------------------------------
        late = [a for a in writer.ok_on("blue") if a.start >= frozen_at]
        assert not late, f"{len(late)} write(s) were accepted by blue after its freeze"
        blue = rp.connect_blue()
        try:
            assert receipt.version_at_freeze is not None
            after_freeze = {
                str(n): blue.count_changes(t, receipt.version_at_freeze)
                for n, t in blue.introspect().tables.items()
            }
        finally:
            blue.close()
        assert not any(after_freeze.values()), after_freeze  # blue's change log agrees
        # refused writes failed fast, and the write outage is measured
        started = _epoch(receipt.freeze_started_at)
        refused = [a for a in writer.attempts if not a.ok and a.start >= started]
        assert refused, "no write was refused during the freeze"
        assert all(a.side == "blue" for a in refused if a.end <= frozen_at)
        assert max(a.end - a.start for a in refused) < 3.0
        first_refused = min(a.end for a in refused)
        first_green = min(a.end for a in writer.ok_on("green"))
        receipt.extra["writer_freeze_seconds"] = first_green - first_refused
        print(
            f"\n[{pair.engine}] write freeze {receipt.freeze_seconds:.3f} s (engine), "
            f"{receipt.extra['writer_freeze_seconds']:.3f} s seen by the writer (first refused "
            "write to first write accepted on green); phases "
            + ", ".join(f"{k} {v:.3f}" for k, v in receipt.phase_seconds().items() if v)
        )
        assert 0 < receipt.extra["writer_freeze_seconds"] < 15

        # ---- re-seed: the old blue becomes the standby copy of the new production -------------
        reseeded = reseed_green(rp, swap=True, switch=switch)
        assert reseeded.outcome == "ok", reseeded.markdown()
        new = reseeded.new_pair
        assert new is not None and new.blue_label == "green" and new.green_label == "blue"
        # ---- sync the other way while the application writes to the new production ----------
        seen = len(writer.ok_on("green"))
        writer.wait_for(lambda: len(writer.ok_on("green")) >= seen + 20)
        _sync(new, rounds=2)
    finally:
        writer.stop()
    _sync(new)
    _verify(new)

    # ---- nothing acknowledged was lost, nothing deleted came back -------------------------------
    alive = writer.alive
    for side in ("green", "blue"):
        tags = {r[3] for r in pair.rows(side, "event")}
        lost = [a for a in writer.attempts if a.tag in alive - tags]
        assert alive <= tags, f"{side} lacks acknowledged insert(s): {lost}"
        assert not (writer.deleted & tags), f"{side} still holds deleted rows"
    assert pair.rows("green", "event") == pair.rows("blue", "event")
