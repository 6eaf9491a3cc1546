"""The type-compatibility table and the checked casts (no database needed)."""

from __future__ import annotations

import decimal

import polars as pl
import pytest

from bluegreen.mapping.shape import cast_series
from bluegreen.mapping.types import comparable, compare, parse_type


@pytest.mark.parametrize(
    ("text", "family", "detail"),
    [
        ("INTEGER", "int", 32),
        ("bigint", "int", 64),
        ("tinyint", "int", 8),
        ("int unsigned", "int", 32),
        ("character varying(40)", "text", 40),
        ("NVARCHAR(MAX)", "text", None),
        ("char", "text", 1),
        ("TEXT", "text", None),
        ("numeric(10,2)", "decimal", (10, 2)),
        ("decimal(10, 2)", "decimal", (10, 2)),
        ("money", "decimal", (19, 4)),
        ("double precision", "float", 64),
        ("float(10)", "float", 32),
        ("timestamp(3) with time zone", "datetimetz", None),
        ("timestamp without time zone", "datetime", None),
        ("datetime2(7)", "datetime", None),
        ("bit", "bool", None),
        ("bit(8)", "binary", 8),
        ("bytea", "binary", None),
        ("uniqueidentifier", "uuid", None),
        ("", "unknown", None),
        ("geometry", "unknown", None),
    ],
)
def test_parse(text: str, family: str, detail: object) -> None:
    t = parse_type(text)
    assert t.family == family
    if family in ("int", "float"):
        assert t.bits == detail
    elif family in ("text", "binary"):
        assert t.length == detail
    elif family == "decimal":
        assert (t.precision, t.scale) == detail


def test_engine_meanings_reread_a_name() -> None:
    """SQLite's INTEGER is 64 bits wide: a dialect says so through type_meanings."""
    assert parse_type("INTEGER").bits == 32
    assert parse_type("INTEGER", {"integer": "bigint"}).bits == 64
    assert parse_type("timestamp", {"timestamp": "rowversion"}).family == "binary"


@pytest.mark.parametrize(
    ("src", "dst", "verdict"),
    [
        ("integer", "integer", "same"),
        ("INT", "integer", "same"),
        ("varchar(40)", "character varying(40)", "same"),
        ("integer", "bigint", "widens"),
        ("bigint", "integer", "narrows"),
        ("smallint", "tinyint", "narrows"),
        ("tinyint", "smallint", "widens"),
        ("varchar(10)", "varchar(20)", "widens"),
        ("varchar(20)", "varchar(10)", "narrows"),
        ("text", "varchar(10)", "narrows"),
        ("varchar(10)", "text", "widens"),
        ("numeric(10,2)", "numeric(12,2)", "widens"),
        ("numeric(10,2)", "numeric(8,2)", "narrows"),
        ("numeric(10,2)", "numeric(10,1)", "narrows"),
        ("numeric(10,2)", "numeric(11,3)", "widens"),
        ("integer", "numeric(10,0)", "widens"),
        ("integer", "numeric(10,2)", "narrows"),
        ("integer", "double precision", "widens"),
        ("bigint", "double precision", "narrows"),
        ("integer", "varchar(11)", "widens"),
        ("integer", "varchar(5)", "narrows"),
        ("real", "double precision", "widens"),
        ("double precision", "integer", "narrows"),
        ("double precision", "numeric(10,2)", "narrows"),
        ("text", "integer", "converts"),
        ("varchar(20)", "numeric(12,2)", "converts"),
        ("text", "date", "converts"),
        ("date", "timestamp", "widens"),
        ("timestamp", "date", "narrows"),
        ("date", "integer", "impossible"),
        ("bytea", "integer", "impossible"),
        ("boolean", "integer", "widens"),
        ("date", "varchar(10)", "widens"),
        ("date", "varchar(8)", "narrows"),
        ("geometry", "integer", "unchecked"),
    ],
)
def test_compare(src: str, dst: str, verdict: str) -> None:
    assert compare(parse_type(src), parse_type(dst)).verdict == verdict


def test_lookup_match_needs_comparable_not_fitting_types() -> None:
    assert comparable(parse_type("text"), parse_type("varchar(3)"))
    assert comparable(parse_type("integer"), parse_type("numeric(5,0)"))
    assert not comparable(parse_type("text"), parse_type("integer"))


def _bad(values: list[object], target: str) -> list[bool]:
    return cast_series(pl.Series("v", values), parse_type(target))[1].to_list()


def test_cast_text_to_int_flags_exactly_the_values_that_do_not_parse() -> None:
    out, bad = cast_series(pl.Series("v", ["12", " 7", "abc", None, "3.5"]), parse_type("integer"))
    assert out.to_list()[:2] == [12, 7]
    assert bad.to_list() == [False, False, True, False, True]


def test_cast_range_length_and_scale() -> None:
    assert _bad([1, 2**40], "integer") == [False, True]
    assert _bad(["abc", "abcdef"], "varchar(3)") == [False, True]
    assert _bad([12345, 1], "varchar(3)") == [True, False]
    # a decimal that would lose digits to the scale is a failed cast, not a silent rounding
    assert _bad(["1.25", "1.239", "x"], "numeric(10,2)") == [False, True, True]
    assert _bad(["99999999.99", "999999999.99"], "numeric(10,2)") == [False, True]


def test_cast_text_to_dates_and_booleans() -> None:
    assert _bad(["2024-01-02", "2024-13-40"], "date") == [False, True]
    assert _bad(["true", "0", "maybe"], "boolean") == [False, False, True]


def test_cast_decimal_output_is_exact_text_for_every_driver() -> None:
    from bluegreen.mapping.shape import _loadable

    out, _ = cast_series(pl.Series("v", ["1.5", "2"]), parse_type("numeric(12,2)"))
    assert _loadable(out).to_list() == ["1.50", "2.00"]
    assert decimal.Decimal(_loadable(out)[0]) == decimal.Decimal("1.5")
