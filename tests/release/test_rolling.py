"""The rolling upgrade (no change tracking): freeze, copy to a stage, upgrade, verify, switch;
and a failed upgrade that unfreezes blue and drops the stage."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from bluegreen.dialects import connect, dialect_class
from bluegreen.release import FileSwitch, ReleaseFailed, rolling_upgrade
from tests.conftest import EnginePair
from tests.release.conftest import ExtraDatabases, seed_shop, shop_ddl


@pytest.fixture
def shop(pair: EnginePair, tmp_path: Path) -> tuple[EnginePair, FileSwitch]:
    pair.ddl(*shop_ddl(pair), sides=("blue",))
    seed_shop(pair)
    switch = FileSwitch(tmp_path / "switch.json")
    switch.point_to("blue")
    return pair, switch


def test_rolling_upgrade_switches_to_the_upgraded_copy(shop, extra: ExtraDatabases) -> None:
    pair, switch = shop
    stage = extra.url("stage")
    script = (
        "ALTER TABLE customer ADD COLUMN vip INTEGER;\n"
        "UPDATE customer SET vip = 1 WHERE id < 5;\n"
        "CREATE TABLE audit (id INTEGER PRIMARY KEY, note TEXT);\n"
    )
    receipt = rolling_upgrade(pair.blue_url, stage, switch, script)
    assert receipt.outcome == "switched", receipt.markdown()
    assert switch.active() == "stage"
    assert receipt.freeze_seconds is not None and receipt.freeze_seconds > 0
    assert [p.outcome for p in receipt.phases] == ["ok"] * 6
    assert {k.split(".")[-1]: v for k, v in receipt.counts.items()} == {
        "region": [3, 3],
        "customer": [20, 20],
        "event": [40, 40],
    }
    s = connect(SecretStr(stage))
    try:
        assert not s.is_frozen()
        assert s.query("SELECT count(*) FROM customer WHERE vip = 1")[0][0] == 4
        # the stage takes the application's inserts (its counters are past the copied keys)
        s.execute("INSERT INTO event (customer_id, amount, tag) VALUES (1, 1, 'on-stage')")
    finally:
        s.close()
    b = connect(pair.blue_url)
    try:
        assert b.is_frozen()  # the old production stays read-only
    finally:
        b.close()
    print(f"\n[{pair.engine}] rolling upgrade read-only window {receipt.freeze_seconds:.3f} s")


def test_failed_upgrade_unfreezes_blue_and_drops_the_stage(shop, extra: ExtraDatabases) -> None:
    pair, switch = shop
    stage = extra.url("stage")
    with pytest.raises(ReleaseFailed) as err:
        rolling_upgrade(pair.blue_url, stage, switch, "ALTER TABLE no_such_table ADD COLUMN x INT")
    receipt = err.value.receipt
    assert receipt.failed_phase == "upgrade"
    assert receipt.blue_unfrozen is True and receipt.stage_dropped is True
    assert switch.active() == "blue"
    assert not dialect_class(stage).database_exists(SecretStr(stage))
    pair.run("blue", "INSERT INTO event (customer_id, amount, tag) VALUES (1, 1, 'still-blue')")

    def differ(blue, stage_db) -> list[str]:
        return ["the check says no"]

    with pytest.raises(ReleaseFailed, match="the check says no") as err:
        rolling_upgrade(pair.blue_url, stage, switch, "SELECT 1", check=differ)
    assert err.value.receipt.failed_phase == "verify"
    assert switch.active() == "blue"
    assert not dialect_class(stage).database_exists(SecretStr(stage))
