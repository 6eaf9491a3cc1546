"""Rollback after a switch: traffic back to blue, blue writable, and a warning that counts the
writes green took after the switch (which blue lacks)."""

from __future__ import annotations

from pathlib import Path

from bluegreen.dialects import connect
from bluegreen.release import FileSwitch, ReleaseStore, cutover, prepare_green, rollback
from tests.conftest import EnginePair
from tests.release.conftest import release_pair, seed_shop, shop_ddl


def test_rollback_points_back_unfreezes_and_counts_green_writes(
    pair: EnginePair, tmp_path: Path
) -> None:
    pair.ddl(*shop_ddl(pair), sides=("blue",))
    seed_shop(pair)
    rp = release_pair(pair)
    prepare_green(rp, method="copy", replace=True, enable_tracking=True)
    switch = FileSwitch(tmp_path / "switch.json")
    switch.point_to("blue")
    done = cutover(rp, switch)
    assert done.outcome == "switched" and switch.active() == "green"
    assert done.green_baseline is not None and done.green_tracking

    # the application writes on green after the switch (engine-made keys: sequences moved)
    pair.run(
        "green",
        "INSERT INTO event (customer_id, amount, tag) VALUES (1, 5, 'after1')",
        "INSERT INTO event (customer_id, amount, tag) VALUES (2, 6, 'after2')",
        "UPDATE customer SET name = 'renamed' WHERE id = 3",
    )
    back = rollback(rp, switch)  # the cutover's receipt is read from green
    assert back.outcome == "ok", back.markdown()
    assert back.cutover_id == done.id
    assert switch.active() == "blue" and back.routing_after == "blue"
    counts = {k.split(".")[-1]: v for k, v in back.writes_on_green.items()}
    assert counts == {"event": 2, "customer": 1}
    assert any("3 changed row(s)" in w and "NOT on blue" in w for w in back.warnings)

    for url, role in ((rp.blue_url, "production"), (rp.green_url, "standby")):
        db = connect(url)
        try:
            assert not db.is_frozen()
            assert ReleaseStore(db).role() == role
        finally:
            db.close()
    green = connect(rp.green_url)
    try:
        assert green.tracked_tables() == []
    finally:
        green.close()
    pair.run("blue", "INSERT INTO event (customer_id, amount, tag) VALUES (1, 7, 'blue-again')")
    assert any(r[3] == "blue-again" for r in pair.rows("blue", "event"))
