"""FK order and the apply plan, built as data with no database."""

from __future__ import annotations

import pytest

from bluegreen.errors import ConfigError, SchemaError
from bluegreen.graph import dependency_order
from bluegreen.schema import Column, ForeignKey, Schema, Table, TableName
from bluegreen.sync.plan import build_plan


def T(name: str, *fks: tuple[str, str], cols: tuple[str, ...] = ("id",)) -> Table:
    columns = [Column("id", "INTEGER", nullable=False)]
    columns += [Column(c, "INTEGER") for c in cols if c != "id"]
    columns += [Column(col, "INTEGER") for col, _ in fks if col not in cols]
    return Table(
        TableName(None, name),
        tuple(columns),
        ("id",),
        tuple(ForeignKey(f"fk_{name}_{c}", (c,), TableName(None, r), ("id",)) for c, r in fks),
    )


def schema(*tables: Table) -> Schema:
    return Schema({t.name: t for t in tables})


def names(xs: list[TableName]) -> list[str]:
    return [x.name for x in xs]


def test_parents_come_first_and_referenced_tables_are_dimensions() -> None:
    order = dependency_order(
        [
            T("sale", ("region_id", "region"), ("product_id", "product")),
            T("product"),
            T("region", ("country_id", "country")),
            T("country"),
        ]
    )
    first = names(order.parents_first)
    assert first.index("country") < first.index("region") < first.index("sale")
    assert first.index("product") < first.index("sale")
    assert {t.name for t in order.referenced} == {"country", "region", "product"}


def test_self_reference_and_cycle_become_groups() -> None:
    order = dependency_order(
        [
            T("emp", ("boss", "emp")),
            T("dept", ("manager_id", "person")),
            T("person", ("dept_id", "dept")),
            T("badge", ("person_id", "person")),
        ]
    )
    groups = {tuple(t.name for t in g.tables): g for g in order.groups}
    assert groups[("emp",)].cyclic and not groups[("emp",)].cycle_edges
    cycle = groups[("dept", "person")]
    assert cycle.cyclic and len(cycle.cycle_edges) == 2
    first = names(order.parents_first)
    assert first.index("person") < first.index("badge")


def test_deep_chain_does_not_recurse() -> None:
    chain = [T("t0")] + [T(f"t{i}", ("p", f"t{i - 1}")) for i in range(1, 3000)]
    order = dependency_order(chain)
    assert names(order.parents_first)[:3] == ["t0", "t1", "t2"]


def test_plan_steps_upsert_parents_then_facts_then_deferred_deletes() -> None:
    s = schema(T("region"), T("sale", ("region_id", "region")))
    plan = build_plan(s, s, list(s.tables))
    kinds = [(st.phase, st.action, st.table.name) for st in plan.steps]
    assert kinds == [
        ("dimensions", "update", "region"),
        ("dimensions", "insert", "region"),
        ("facts", "delete", "sale"),
        ("facts", "update", "sale"),
        ("facts", "insert", "sale"),
        ("deferred_deletes", "delete", "region"),
    ]


def test_plan_for_a_cycle_nulls_then_fills_then_unlinks() -> None:
    s = schema(T("dept", ("manager_id", "person")), T("person", ("dept_id", "dept")))
    plan = build_plan(s, s, list(s.tables))
    text = plan.describe()
    assert "second pass" in text
    inserts = [st for st in plan.steps if st.action == "insert"]
    assert all(st.nulled for st in inserts)
    assert [st.action for st in plan.steps if st.phase == "deferred_deletes"][:2] == [
        "unlink",
        "unlink",
    ]


def test_blue_column_green_lacks_is_named() -> None:
    blue = schema(T("item", cols=("id", "qty")))
    green = schema(T("item"))
    with pytest.raises(SchemaError, match="'qty' of blue table item") as err:
        build_plan(blue, green, list(blue.tables))
    assert "fix:" in str(err.value)


def test_unknown_or_untracked_table_is_named() -> None:
    s = schema(T("item"), T("other"))
    with pytest.raises(SchemaError, match="'itme' does not exist") as err:
        build_plan(s, s, [TableName(None, "item")], ["itme"])
    assert "did you mean 'item'" in str(err.value)
    with pytest.raises(ConfigError, match="not tracked"):
        build_plan(s, s, [TableName(None, "item")], ["other"])


def test_table_green_lacks_is_skipped_with_a_note() -> None:
    blue = schema(T("item"), T("extra"))
    green = schema(T("item"))
    plan = build_plan(blue, green, list(blue.tables))
    assert [t.green.name.name for t in plan.targets] == ["item"]
    assert any("extra" in s for s in plan.skipped)
