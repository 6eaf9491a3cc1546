"""A schema change on green: announced (pause, diff, re-check) and unannounced (the guard in
every sync re-checks the mapping before anything is applied)."""

from __future__ import annotations

import pytest

from bluegreen.dialects import connect
from bluegreen.errors import SchemaError
from bluegreen.release import (
    SchemaGuard,
    check_schema_change,
    diff_schemas,
    pause_for_schema_change,
    prepare_green,
)
from bluegreen.release.schema_change import schema_doc, schema_from_doc
from bluegreen.sync.runner import Syncer
from bluegreen.sync.state import GreenState
from tests.conftest import EnginePair
from tests.release.conftest import release_pair, seed_shop, shop_ddl


def test_breaking_change_keeps_the_sync_paused_and_names_the_fix(pair: EnginePair) -> None:
    pair.ddl(*shop_ddl(pair), sides=("blue",))
    seed_shop(pair)
    rp = release_pair(pair)
    prepare_green(rp, method="copy", replace=True, enable_tracking=True)

    # the scheduled sync runs with the guard: its plan knows green's schema fingerprint
    blue, green = connect(rp.blue_url), connect(rp.green_url)
    guard = SchemaGuard()
    syncer = Syncer(blue, green, plan_builder=guard)
    try:
        syncer.until_caught_up()
        assert not guard.stale()

        paused = pause_for_schema_change(rp)
        assert paused.outcome == "paused" and paused.tables == 3
        pair.run("green", "ALTER TABLE customer RENAME COLUMN name TO full_name")
        report = check_schema_change(rp)
        assert not report.ok and report.outcome == "paused" and not report.accepted
        assert report.diff is not None
        lines = report.diff.lines()
        assert any(x.startswith("+ column") and "customer.full_name" in x for x in lines)
        assert any(x.startswith("- column") and "customer.name" in x for x in lines)
        (finding,) = report.findings
        assert "'name'" in finding.message and "customer" in finding.message
        assert finding.fix and "mapping workbook" in finding.fix
        assert "full_name" in report.markdown()

        # had nobody paused, the next window notices and stops before applying anything
        pair.run("blue", "UPDATE customer SET name = 'changed' WHERE id = 1")
        state = GreenState(green)
        before = state.read()[0]
        green.rollback()
        assert guard.stale()
        with pytest.raises(SchemaError, match=r"'name'"):
            syncer.once()
        assert state.read()[0] == before
        green.rollback()
        assert guard.changes
    finally:
        blue.close()
        green.close()

    # fixing green resumes: the re-check passes and records the schema
    pair.run("green", "ALTER TABLE customer RENAME COLUMN full_name TO name")
    fixed = check_schema_change(rp)
    assert fixed.ok and fixed.accepted and fixed.outcome == "resumed"
    assert fixed.diff is not None and fixed.diff.empty


def test_schema_documents_round_trip_and_diff() -> None:
    from bluegreen.schema import Column, ForeignKey, Schema, Table, TableName

    a = TableName("s", "a")
    b = TableName("s", "b")
    before = Schema(
        tables={
            a: Table(a, (Column("id", "int", False), Column("x", "text")), ("id",)),
            b: Table(
                b,
                (Column("id", "int", False), Column("a_id", "int")),
                ("id",),
                (ForeignKey("fk", ("a_id",), a, ("id",)),),
            ),
        },
        default_schema="s",
    )
    assert schema_from_doc(schema_doc(before)).fingerprint() == before.fingerprint()
    after = Schema(
        tables={
            a: Table(a, (Column("id", "bigint", False), Column("y", "text")), ("id",)),
            TableName("s", "c"): Table(TableName("s", "c"), (Column("id", "int", False),), ("id",)),
        },
        default_schema="s",
    )
    d = diff_schemas(before, after)
    assert d.added_tables == ["s.c"] and d.removed_tables == ["s.b"]
    assert d.added_columns == ["s.a.y text NULL"] and d.removed_columns == ["s.a.x text NULL"]
    assert d.changed_columns == ["s.a.id: int NOT NULL -> bigint NOT NULL"]
    assert diff_schemas(before, before).empty
