"""Prepare green by an initial load into an existing green (FK cycle, self-reference, identity),
in bounded batches with progress, and the checks on blue."""

from __future__ import annotations

import pytest

from bluegreen.dialects import connect
from bluegreen.release import (
    LoadProgress,
    ReleaseFailed,
    check_blue,
    plan_prepare,
    prepare_green,
    verify_pair,
)
from tests.conftest import EnginePair
from tests.release.conftest import release_pair, seed_shop, shop_ddl


def _cycle_ddl(pair: EnginePair) -> list[str]:
    # dept.head -> person, person.dept -> dept: a two-table cycle through nullable columns
    return [
        "CREATE TABLE dept (id INTEGER PRIMARY KEY, head INTEGER)",
        "CREATE TABLE person (id INTEGER PRIMARY KEY, dept INTEGER REFERENCES dept (id), "
        f"name {pair.t('text')})",
    ] + (
        ["ALTER TABLE dept ADD FOREIGN KEY (head) REFERENCES person (id)"]
        if pair.engine == "postgresql"
        else []
    )


def _cycle_rows(pair: EnginePair) -> list[str]:
    out = [f"INSERT INTO dept VALUES ({d}, NULL)" for d in range(1, 6)]
    out += [f"INSERT INTO person VALUES ({p}, {p % 5 + 1}, 'p{p}')" for p in range(1, 31)]
    out += [f"UPDATE dept SET head = {d * 5} WHERE id = {d}" for d in range(1, 6)]
    return out


def test_initial_load_in_batches_then_the_overlap_replays(pair: EnginePair) -> None:
    ddl = shop_ddl(pair)
    if pair.engine == "sqlite":  # SQLite cannot add a foreign key later: declare it inline
        ddl += [
            "CREATE TABLE person (id INTEGER PRIMARY KEY, dept INTEGER REFERENCES dept (id), "
            "name TEXT)",
            "CREATE TABLE dept (id INTEGER PRIMARY KEY, head INTEGER REFERENCES person (id))",
        ]
    else:
        ddl += _cycle_ddl(pair)
    pair.ddl(*ddl)
    seed_shop(pair, customers=40, events=120)
    pair.run("blue", *_cycle_rows(pair))
    rp = release_pair(pair, batch_size=16)
    progress: list[LoadProgress] = []

    receipt = prepare_green(rp, method="load", enable_tracking=True, on_progress=progress.append)
    assert receipt.outcome == "ok", receipt.markdown()
    assert receipt.load is not None and receipt.baseline == receipt.load.baseline
    assert receipt.load.rows == {
        "event": 120,
        "customer": 40,
        "region": 3,
        "dept": 5,
        "person": 30,
    } or {k.split(".")[-1]: v for k, v in receipt.load.rows.items()} == {
        "event": 120,
        "customer": 40,
        "region": 3,
        "dept": 5,
        "person": 30,
    }
    assert receipt.load.batches > 10  # bounded batches of 16 rows
    done = [p for p in progress if p.done and not p.second_pass]
    assert {p.table.split(".")[-1] for p in done} == {
        "event",
        "customer",
        "region",
        "dept",
        "person",
    }
    assert all(p.fraction == 1.0 for p in done)
    assert any(p.second_pass for p in progress)  # the cycle's columns were filled afterwards
    assert pair.rows("green", "dept") == pair.rows("blue", "dept")

    # writes after the baseline reach green through the normal sync (the replay)
    pair.run(
        "blue",
        "INSERT INTO person VALUES (31, 1, 'late')",
        "UPDATE dept SET head = 31 WHERE id = 1",
        "DELETE FROM event WHERE amount = 10",
    )
    blue, green = connect(rp.blue_url), connect(rp.green_url)
    try:
        from bluegreen.sync.runner import Syncer

        Syncer(blue, green).until_caught_up()
        plan, shaper = rp.plan(blue, green)
        report = verify_pair(blue, green, plan, shaper)
        assert report.ok, report.summary()
    finally:
        blue.close()
        green.close()

    # a second load refuses a green that holds rows
    with pytest.raises(ReleaseFailed, match="already holds rows") as err:
        prepare_green(rp, method="load")
    assert err.value.receipt.failed_phase == "create"


def test_check_blue_names_tables_without_a_key_or_tracking(pair: EnginePair) -> None:
    pair.ddl(
        "CREATE TABLE keyed (id INTEGER PRIMARY KEY, v INTEGER)",
        "CREATE TABLE loose (v INTEGER)",
        sides=("blue",),
    )
    blue = connect(pair.blue_url)
    try:
        check = check_blue(blue)
        assert not check.ok
        problems = {f.subject.removeprefix("table ").split(".")[-1]: f for f in check.errors}
        assert "no primary key" in problems["loose"].message
        assert "not enabled" in problems["keyed"].message and problems["keyed"].fix
        fixed = check_blue(blue, ["keyed"], enable=True)
        assert fixed.ok and [n.split(".")[-1] for n in fixed.enabled] == ["keyed"]
    finally:
        blue.close()
    rp = release_pair(pair)
    with pytest.raises(ReleaseFailed, match="primary key") as err:
        prepare_green(rp, method="copy", replace=True)
    assert err.value.receipt.failed_phase == "check"
    assert "check" in plan_prepare(rp).describe()


def test_reseed_in_place_is_the_remedy_for_a_too_old_watermark(pair: EnginePair, switch) -> None:
    from bluegreen.errors import ReseedRequired
    from bluegreen.release import reseed_green
    from bluegreen.sync.runner import Syncer

    pair.ddl(*shop_ddl(pair), sides=("blue",))
    seed_shop(pair)
    rp = release_pair(pair)
    prepare_green(rp, method="copy", replace=True, enable_tracking=True)
    pair.run("blue", "INSERT INTO event (customer_id, amount, tag) VALUES (1, 1, 'missed')")
    blue = connect(rp.blue_url)
    event = blue.introspect().table("event")
    blue.disable_tracking([event.name])  # tracking restarted: the log no longer covers green
    blue.enable_tracking([event])
    blue.close()

    def sync() -> None:
        b, g = connect(rp.blue_url), connect(rp.green_url)
        try:
            Syncer(b, g).until_caught_up()
        finally:
            b.close()
            g.close()

    with pytest.raises(ReseedRequired):
        sync()
    # never over the side that takes the traffic
    switch.point_to("green")
    with pytest.raises(ReleaseFailed, match="overwrite") as err:
        reseed_green(rp, switch=switch)
    assert err.value.receipt.failed_phase == "guard"
    switch.point_to("blue")
    receipt = reseed_green(rp, switch=switch)
    assert receipt.outcome == "ok" and not receipt.swapped and receipt.new_pair == rp
    assert [p.name for p in receipt.phases] == ["guard", "check", "create", "baseline", "replay"]
    sync()
    assert any(r[3] == "missed" for r in pair.rows("green", "event"))
