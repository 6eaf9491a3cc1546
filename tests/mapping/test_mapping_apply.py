"""Each operation alone and all together, across inserts, updates, deletes and key changes, on
real blue/green pairs (SQLite files and the local PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bluegreen.mapping import CastError, LookupFailed, MappingError, load_mapping
from tests.conftest import EnginePair
from tests.mapping.helpers import (
    MappedSync,
    enable,
    green_watermark,
    num,
    row,
    serial_pk,
    workbook,
)

BLUE_ITEM = "CREATE TABLE item (id INTEGER PRIMARY KEY, name VARCHAR(40), qty VARCHAR(12))"

# (what, statements on blue, ids the statements change)
STEPS: list[tuple[str, list[str], set[int]]] = [
    (
        "insert",
        [
            "INSERT INTO item VALUES (1, 'a', '1')",
            "INSERT INTO item VALUES (2, 'b', '2')",
            "INSERT INTO item VALUES (3, 'c', '3')",
        ],
        {1, 2, 3},
    ),
    ("update", ["UPDATE item SET name = 'bb', qty = '22' WHERE id = 2"], {2}),
    ("delete", ["DELETE FROM item WHERE id = 3"], set()),
    ("key change", ["UPDATE item SET id = 10 WHERE id = 1"], {10}),
]


def _run_steps(
    pair: EnginePair,
    path: Path,
    check: Callable[[list[tuple[Any, ...]], MappedSync, int, set[int]], None],
    **kwargs: Any,
) -> MappedSync:
    enable(pair)
    s = MappedSync(pair, path, **kwargs)
    for what, statements, changed in STEPS:
        pair.run("blue", *statements)
        summary = s.run()
        assert summary.caught_up, what
        version = summary.windows[-1].to_mark.version
        check(pair.rows("blue", "item"), s, version, changed)
    return s


def test_rename_alone(pair: EnginePair, tmp_path: Path) -> None:
    pair.ddl(BLUE_ITEM, sides=["blue"])
    pair.ddl(
        "CREATE TABLE item (id INTEGER PRIMARY KEY, title VARCHAR(40), qty VARCHAR(12))",
        sides=["green"],
    )
    path = workbook(tmp_path / "m.xlsx", [row("item", "name", "N", "title")])

    def check(blue: list[tuple], s: MappedSync, version: int, changed: set[int]) -> None:
        assert pair.rows("green", "item") == blue

    s = _run_steps(pair, path, check)
    # the mapping's fingerprint is recorded with every window in green's history
    fp = load_mapping(path).fingerprint
    assert {h["mapping_fingerprint"] for h in s.history()} == {fp}


def test_type_change_alone(pair: EnginePair, tmp_path: Path) -> None:
    pair.ddl(BLUE_ITEM, sides=["blue"])
    pair.ddl(
        "CREATE TABLE item (id INTEGER PRIMARY KEY, name VARCHAR(40), qty INTEGER)",
        sides=["green"],
    )
    path = workbook(tmp_path / "m.xlsx", [row("item", "qty", "T", "qty", green_type="INTEGER")])

    def check(blue: list[tuple], s: MappedSync, version: int, changed: set[int]) -> None:
        want = [(i, n, int(q)) for i, n, q in blue]
        assert pair.rows("green", "item") == want

    _run_steps(pair, path, check)


def test_version_column_alone(pair: EnginePair, tmp_path: Path) -> None:
    pair.ddl(BLUE_ITEM, sides=["blue"])
    pair.ddl(
        "CREATE TABLE item (id INTEGER PRIMARY KEY, name VARCHAR(40), qty VARCHAR(12), "
        "ct_version BIGINT)",
        sides=["green"],
    )
    path = workbook(tmp_path / "m.xlsx", [row("item", None, "V", "ct_version")])
    versions: dict[int, int] = {}

    def check(blue: list[tuple], s: MappedSync, version: int, changed: set[int]) -> None:
        for i in changed:
            versions[i] = version
        want = [(i, n, q, versions[i]) for i, n, q in blue]
        assert pair.rows("green", "item") == want

    _run_steps(pair, path, check)
    assert len(set(versions.values())) > 1  # rows of later windows carry later versions


def test_split_alone(pair: EnginePair, tmp_path: Path) -> None:
    pair.ddl(BLUE_ITEM, sides=["blue"])
    pair.ddl(
        "CREATE TABLE item (id INTEGER PRIMARY KEY, name VARCHAR(40))",
        "CREATE TABLE item_qty (id INTEGER PRIMARY KEY REFERENCES item (id), qty VARCHAR(12))",
        sides=["green"],
    )
    path = workbook(tmp_path / "m.xlsx", [row("item", "qty", "S", "qty", "item_qty")])

    def check(blue: list[tuple], s: MappedSync, version: int, changed: set[int]) -> None:
        assert pair.rows("green", "item") == [(i, n) for i, n, _ in blue]
        assert pair.rows("green", "item_qty") == [(i, q) for i, _, q in blue]

    _run_steps(pair, path, check)


def test_split_table_without_foreign_key(pair: EnginePair, tmp_path: Path) -> None:
    """A split table keyed by the renamed key column, with no FK to the main table."""
    pair.ddl(BLUE_ITEM, sides=["blue"])
    pair.ddl(
        "CREATE TABLE item (item_id INTEGER PRIMARY KEY, name VARCHAR(40))",
        "CREATE TABLE item_qty (item_id INTEGER PRIMARY KEY, quantity VARCHAR(12))",
        sides=["green"],
    )
    path = workbook(
        tmp_path / "m.xlsx",
        [row("item", "id", "N", "item_id"), row("item", "qty", "S", "quantity", "item_qty")],
    )

    def check(blue: list[tuple], s: MappedSync, version: int, changed: set[int]) -> None:
        assert pair.rows("green", "item") == [(i, n) for i, n, _ in blue]
        assert pair.rows("green", "item_qty") == [(i, q) for i, _, q in blue]

    _run_steps(pair, path, check)


def _label_schema(pair: EnginePair, nullable: bool = True, unique: bool = False) -> None:
    """Green's ``label`` lookup; ``unique``: its value column is UNIQUE (the plain-join path,
    no ambiguity query), otherwise values may repeat (the grouped join and its checks)."""
    pair.ddl(BLUE_ITEM, sides=["blue"])
    pair.ddl(
        f"CREATE TABLE label (label_id {serial_pk(pair)}, text VARCHAR(40) NOT NULL"
        f"{' UNIQUE' if unique else ''})",
        "CREATE TABLE item (id INTEGER PRIMARY KEY, "
        f"label_id INTEGER {'' if nullable else 'NOT NULL '}REFERENCES label (label_id), "
        "qty VARCHAR(12))",
        sides=["green"],
    )


def _lookup_row(policy: str | None) -> dict[str, Any]:
    return row(
        "item",
        "name",
        "L",
        "label_id",
        lookup_table="label",
        lookup_key="label_id",
        lookup_value="text",
        on_missing=policy,
    )


def _labelled(pair: EnginePair) -> list[tuple]:
    """Green's items with the label text their key points to."""
    labels = dict(pair.rows("green", "label"))
    return [
        (i, labels.get(k) if k is not None else None, q) for i, k, q in pair.rows("green", "item")
    ]


@pytest.mark.parametrize("unique", [False, True], ids=["values-may-repeat", "unique-values"])
def test_lookup_alone_with_insert(pair: EnginePair, tmp_path: Path, unique: bool) -> None:
    _label_schema(pair, unique=unique)
    pair.run("green", "INSERT INTO label (label_id, text) VALUES (100, 'b')")
    path = workbook(tmp_path / "m.xlsx", [_lookup_row("insert")])

    def check(blue: list[tuple], s: MappedSync, version: int, changed: set[int]) -> None:
        assert _labelled(pair) == blue

    _run_steps(pair, path, check)
    texts = sorted(t for _, t in pair.rows("green", "label"))
    assert texts == ["a", "b", "bb", "c"]  # each value inserted once; 'b' was there already
    assert (100, "b") in pair.rows("green", "label")


@pytest.mark.parametrize("unique", [False, True], ids=["values-may-repeat", "unique-values"])
def test_lookup_insert_adds_each_new_value_once_and_keys_every_row(
    pair: EnginePair, tmp_path: Path, unique: bool
) -> None:
    # one window: known and new values, a new value on several rows, NULLs, a new value whose
    # row is gone again (staged as a delete: never added); then a window of known values only
    _label_schema(pair, unique=unique)
    pair.run("green", "INSERT INTO label (label_id, text) VALUES (100, 'known')")
    enable(pair)
    pair.run(
        "blue",
        "INSERT INTO item VALUES (1, 'known', '1')",
        "INSERT INTO item VALUES (2, 'new', '2')",
        "INSERT INTO item VALUES (3, 'new', '3')",
        "INSERT INTO item VALUES (4, NULL, '4')",
        "INSERT INTO item VALUES (5, 'other', '5')",
        "INSERT INTO item VALUES (6, 'gone', '6')",
        "DELETE FROM item WHERE id = 6",
    )
    s = MappedSync(pair, workbook(tmp_path / "m.xlsx", [_lookup_row("insert")]))
    assert s.run().caught_up
    assert sorted(t for _, t in pair.rows("green", "label")) == ["known", "new", "other"]
    assert _labelled(pair) == pair.rows("blue", "item")
    pair.run("blue", "UPDATE item SET name = 'new' WHERE id IN (1, 4)")
    assert s.run().caught_up
    assert len(pair.rows("green", "label")) == 3  # nothing added: every value was known
    assert _labelled(pair) == pair.rows("blue", "item")


@pytest.mark.parametrize("unique", [False, True], ids=["values-may-repeat", "unique-values"])
def test_lookup_null_policy(pair: EnginePair, tmp_path: Path, unique: bool) -> None:
    _label_schema(pair, unique=unique)
    pair.run("green", "INSERT INTO label (label_id, text) VALUES (7, 'a')")
    enable(pair)
    pair.run(
        "blue",
        "INSERT INTO item VALUES (1, 'a', '1')",
        "INSERT INTO item VALUES (2, 'zz', '2')",
        "INSERT INTO item VALUES (3, NULL, '3')",
    )
    MappedSync(pair, workbook(tmp_path / "m.xlsx", [_lookup_row("null")])).run()
    assert pair.rows("green", "item") == [(1, 7, "1"), (2, None, "2"), (3, None, "3")]
    assert pair.rows("green", "label") == [(7, "a")]  # nothing inserted


@pytest.mark.parametrize("unique", [False, True], ids=["values-may-repeat", "unique-values"])
def test_lookup_error_policy_names_table_column_value_and_key(
    pair: EnginePair, tmp_path: Path, unique: bool
) -> None:
    _label_schema(pair, unique=unique)
    pair.run("green", "INSERT INTO label (label_id, text) VALUES (7, 'a')")
    enable(pair)
    pair.run(
        "blue", "INSERT INTO item VALUES (1, 'a', '1')", "INSERT INTO item VALUES (2, 'zz', '2')"
    )
    s = MappedSync(pair, workbook(tmp_path / "m.xlsx", [_lookup_row(None)]))
    with pytest.raises(LookupFailed) as info:
        s.run()
    text = str(info.value)
    assert "label" in text and "column text" in text and "'zz'" in text and "id=2" in text
    assert "row 2" in text  # the workbook row
    assert pair.rows("green", "item") == []  # nothing of the window was applied
    assert green_watermark(pair).origin
    # once green knows the value, the same window applies
    pair.run("green", "INSERT INTO label (label_id, text) VALUES (8, 'zz')")
    assert s.run().caught_up
    assert pair.rows("green", "item") == [(1, 7, "1"), (2, 8, "2")]


@pytest.mark.parametrize("policy", ["error", "insert", "null"])
def test_lookup_value_matching_several_rows_stops_the_window(
    pair: EnginePair, tmp_path: Path, policy: str
) -> None:
    # whatever the policy for missing values: 'a' has two rows, 'b' one, 'zz' none
    _label_schema(pair)
    pair.run(
        "green",
        "INSERT INTO label (label_id, text) VALUES (7, 'a')",
        "INSERT INTO label (label_id, text) VALUES (8, 'a')",
        "INSERT INTO label (label_id, text) VALUES (9, 'b')",
    )
    enable(pair)
    pair.run(
        "blue",
        "INSERT INTO item VALUES (1, 'b', '1')",
        "INSERT INTO item VALUES (2, 'a', '2')",
        "INSERT INTO item VALUES (3, 'zz', '3')",
    )
    with pytest.raises(LookupFailed, match=r"several rows .*'a' \(2 rows\)") as info:
        MappedSync(pair, workbook(tmp_path / "m.xlsx", [_lookup_row(policy)])).run()
    assert "'b'" not in str(info.value) and "'zz'" not in str(info.value)
    assert pair.rows("green", "item") == []
    assert len(pair.rows("green", "label")) == 3  # an inserted 'zz' was rolled back too


def test_duplicates_the_window_does_not_use_do_not_stop_it(
    pair: EnginePair, tmp_path: Path
) -> None:
    _label_schema(pair)
    pair.run(
        "green",
        "INSERT INTO label (label_id, text) VALUES (7, 'a')",
        "INSERT INTO label (label_id, text) VALUES (8, 'a')",
        "INSERT INTO label (label_id, text) VALUES (9, 'b')",
    )
    enable(pair)
    pair.run(
        "blue", "INSERT INTO item VALUES (1, 'b', '1')", "INSERT INTO item VALUES (2, NULL, '2')"
    )
    assert MappedSync(pair, workbook(tmp_path / "m.xlsx", [_lookup_row("error")])).run().caught_up
    assert pair.rows("green", "item") == [(1, 9, "1"), (2, None, "2")]


@pytest.mark.parametrize("ambiguous", [False, True])
def test_lookup_key_type_without_min_resolves_and_checks(
    pair: EnginePair, tmp_path: Path, ambiguous: bool
) -> None:
    # a boolean key has no MIN: the lookup takes the ambiguity join first, then resolves
    b = pair.t("bool")
    pair.ddl(BLUE_ITEM, sides=["blue"])
    pair.ddl(
        f"CREATE TABLE answer (flag {b} PRIMARY KEY, text VARCHAR(40) NOT NULL)",
        f"CREATE TABLE item (id INTEGER PRIMARY KEY, flag {b}, qty VARCHAR(12))",
        sides=["green"],
    )
    no = "yes" if ambiguous else "no"
    pair.run("green", f"INSERT INTO answer VALUES (TRUE, 'yes'), (FALSE, '{no}')")
    enable(pair)
    pair.run(
        "blue",
        "INSERT INTO item VALUES (1, 'yes', '1')",
        "INSERT INTO item VALUES (2, 'no', '2')",
        "INSERT INTO item VALUES (3, NULL, '3')",
    )
    lookup = row(
        "item",
        "name",
        "L",
        "flag",
        lookup_table="answer",
        lookup_key="flag",
        lookup_value="text",
        on_missing="null",
    )
    s = MappedSync(pair, workbook(tmp_path / "m.xlsx", [lookup]))
    if ambiguous:
        with pytest.raises(LookupFailed, match=r"several rows .*'yes' \(2 rows\)"):
            s.run()
        assert pair.rows("green", "item") == []
    else:
        assert s.run().caught_up
        got = [(i, None if f is None else bool(f)) for i, f, _ in pair.rows("green", "item")]
        assert got == [(1, True), (2, False), (3, None)]


def test_failed_cast_names_key_column_and_value_and_applies_nothing(
    pair: EnginePair, tmp_path: Path
) -> None:
    pair.ddl(BLUE_ITEM, sides=["blue"])
    pair.ddl(
        "CREATE TABLE item (id INTEGER PRIMARY KEY, name VARCHAR(40), qty INTEGER)",
        sides=["green"],
    )
    enable(pair)
    path = workbook(tmp_path / "m.xlsx", [row("item", "qty", "T", "qty")])
    s = MappedSync(pair, path)
    pair.run(
        "blue", "INSERT INTO item VALUES (1, 'a', '1')", "INSERT INTO item VALUES (2, 'b', '2')"
    )
    s.run()
    before, mark = pair.rows("green", "item"), green_watermark(pair)
    pair.run(
        "blue",
        "UPDATE item SET qty = 'x1' WHERE id = 2",
        "INSERT INTO item VALUES (3, 'c', '3')",
        "DELETE FROM item WHERE id = 1",
    )
    with pytest.raises(CastError) as info:
        s.run()
    text = str(info.value)
    assert "item.qty" in text and "'x1'" in text and "id=2" in text and "integer" in text.lower()
    assert pair.rows("green", "item") == before  # not the insert, not the delete either
    assert green_watermark(pair) == mark
    pair.run("blue", "UPDATE item SET qty = '5' WHERE id = 2")
    assert s.run().caught_up
    assert pair.rows("green", "item") == [(2, "b", 5), (3, "c", 3)]


EXAMPLE_GREEN = (
    "CREATE TABLE country (country_id {pk}, name VARCHAR(40) NOT NULL)",
    "CREATE TABLE customer (id INTEGER PRIMARY KEY, full_name VARCHAR(80) NOT NULL, "
    "country_id INTEGER REFERENCES country (country_id), credit NUMERIC(12,2), "
    "ct_version BIGINT)",
    "CREATE TABLE customer_bio (id INTEGER PRIMARY KEY REFERENCES customer (id), bio TEXT)",
)


def test_all_operations_together(pair: EnginePair, tmp_path: Path) -> None:
    from bluegreen.mapping.example import BLUE_DDL, example_rows
    from bluegreen.mapping.workbook import write_mapping

    pair.ddl(*BLUE_DDL, sides=["blue"])
    pair.ddl(*(s.format(pk=serial_pk(pair)) for s in EXAMPLE_GREEN), sides=["green"])
    pair.run("green", "INSERT INTO country (country_id, name) VALUES (50, 'FR')")
    enable(pair)
    path = write_mapping(example_rows(), tmp_path / "example.xlsx")
    s = MappedSync(pair, path, batch_size=2)  # several batches per window
    versions: dict[int, int] = {}
    steps: list[tuple[list[str], set[int]]] = [
        (
            [
                "INSERT INTO customer VALUES (1, 'Ann', 'FR', '12.5', 'bio 1')",
                "INSERT INTO customer VALUES (2, 'Bob', 'DE', '7.25', NULL)",
                "INSERT INTO customer VALUES (3, 'Cy', 'DE', NULL, 'bio 3')",
                "INSERT INTO customer VALUES (4, 'Di', NULL, '1', 'bio 4')",
            ],
            {1, 2, 3, 4},
        ),
        (["UPDATE customer SET country = 'IT', credit = '99.75', bio = 'b2' WHERE id = 2"], {2}),
        (["DELETE FROM customer WHERE id = 3"], set()),
        (["UPDATE customer SET id = 10 WHERE id = 1"], {10}),
    ]
    for statements, changed in steps:
        pair.run("blue", *statements)
        summary = s.run()
        version = summary.windows[-1].to_mark.version
        for i in changed:
            versions[i] = version
        blue = pair.rows("blue", "customer")
        countries = {cid: name for cid, name in pair.rows("green", "country")}
        got = [
            (i, n, countries.get(c), num(cr), v)
            for i, n, c, cr, v in pair.rows("green", "customer")
        ]
        want = [
            (i, n, c, None if cr is None else float(cr), versions[i]) for i, n, c, cr, _ in blue
        ]
        assert got == want
        assert pair.rows("green", "customer_bio") == [(i, b) for i, *_, b in blue]
    names = sorted(n for _, n in pair.rows("green", "country"))
    assert names == ["DE", "FR", "IT"]


def test_workbook_changed_between_windows(pair: EnginePair, tmp_path: Path) -> None:
    pair.ddl(BLUE_ITEM, sides=["blue"])
    pair.ddl(
        "CREATE TABLE item (id INTEGER PRIMARY KEY, title VARCHAR(40), qty VARCHAR(12), "
        "ct_version BIGINT)",
        sides=["green"],
    )
    enable(pair)
    path = workbook(tmp_path / "m.xlsx", [row("item", "name", "N", "title")])
    first = load_mapping(path).fingerprint
    s = MappedSync(pair, path)
    pair.run("blue", "INSERT INTO item VALUES (1, 'a', '1')")
    s.run()
    assert pair.rows("green", "item") == [(1, "a", "1", None)]

    # the workbook gains a version column: the next window uses it without a restart
    workbook(
        tmp_path / "m.xlsx",
        [row("item", "name", "N", "title"), row("item", None, "V", "ct_version")],
    )
    second = load_mapping(path).fingerprint
    assert second != first
    pair.run("blue", "INSERT INTO item VALUES (2, 'b', '2')")
    version = s.run().windows[-1].to_mark.version
    assert pair.rows("green", "item") == [(1, "a", "1", None), (2, "b", "2", version)]
    assert [h["mapping_fingerprint"] for h in s.history()] == [second, first]

    # an invalid edit stops the next window before anything is applied ...
    workbook(tmp_path / "m.xlsx", [row("item", "name", "N", "no_such_column")])
    pair.run("blue", "INSERT INTO item VALUES (3, 'c', '3')")
    mark = green_watermark(pair)
    for _ in range(2):  # ... and keeps stopping it: the old plan is not silently reused
        with pytest.raises(MappingError, match="E2"):
            s.run()
    assert green_watermark(pair) == mark
    assert len(pair.rows("green", "item")) == 2

    # ... until it is corrected
    workbook(tmp_path / "m.xlsx", [row("item", "name", "N", "title")])
    assert s.run().caught_up
    assert [r[0] for r in pair.rows("green", "item")] == [1, 2, 3]


def test_key_cast_reaches_the_split_table(pair: EnginePair, tmp_path: Path) -> None:
    """A text key cast to an integer (T) keys the split table the same way, deletes included."""
    pair.ddl(
        "CREATE TABLE tag (code VARCHAR(10) PRIMARY KEY, label VARCHAR(20), note VARCHAR(20))",
        sides=["blue"],
    )
    pair.ddl(
        "CREATE TABLE tag (code INTEGER PRIMARY KEY, label VARCHAR(20))",
        "CREATE TABLE tag_note (code INTEGER PRIMARY KEY REFERENCES tag (code), note VARCHAR(20))",
        sides=["green"],
    )
    enable(pair)
    path = workbook(
        tmp_path / "m.xlsx",
        [row("tag", "code", "T", "code"), row("tag", "note", "S", "note", "tag_note")],
    )
    s = MappedSync(pair, path)
    pair.run(
        "blue", "INSERT INTO tag VALUES ('1', 'a', 'n1')", "INSERT INTO tag VALUES ('2', 'b', 'n2')"
    )
    s.run()
    assert pair.rows("green", "tag") == [(1, "a"), (2, "b")]
    assert pair.rows("green", "tag_note") == [(1, "n1"), (2, "n2")]
    pair.run(
        "blue", "DELETE FROM tag WHERE code = '1'", "UPDATE tag SET code = '7' WHERE code = '2'"
    )
    s.run()
    assert pair.rows("green", "tag") == [(7, "b")]
    assert pair.rows("green", "tag_note") == [(7, "n2")]
