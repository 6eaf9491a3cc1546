"""Introspected unique keys: what lets a lookup trust one row per value (a plain join, no
ambiguity query). Only constraints and indexes that hold for every row count."""

from __future__ import annotations

from tests.conftest import EnginePair


def test_unique_constraints_and_indexes_are_read_partial_and_expression_ones_are_not(
    pair: EnginePair,
) -> None:
    text = pair.t("text")
    pair.ddl(
        f"CREATE TABLE label (id INTEGER PRIMARY KEY, code VARCHAR(20) UNIQUE, a {text}, "
        f"b {text}, c {text}, d {text}, CONSTRAINT label_ab UNIQUE (a, b))",
        "CREATE UNIQUE INDEX label_c_partial ON label (c) WHERE c IS NOT NULL",
        "CREATE UNIQUE INDEX label_d_expr ON label (lower(d))",
        "CREATE INDEX label_d_plain ON label (d)",
        'CREATE TABLE "odd%name" (id INTEGER PRIMARY KEY, v INTEGER)',
        'CREATE UNIQUE INDEX "odd%v" ON "odd%name" (v)',
        sides=("green",),
    )
    green = pair.green()
    try:
        schema = green.introspect()
    finally:
        green.close()
    label = schema.table("label")
    assert sorted(label.unique_keys) == [("a", "b"), ("code",)]
    assert label.is_unique(("code",)) and label.is_unique(("id",))
    assert not label.is_unique(("a",))  # only with b
    assert label.is_unique(("b", "a", "c"))
    assert not label.is_unique(("c",)) and not label.is_unique(("d",))
    assert schema.table("odd%name").unique_keys == (("v",),)
