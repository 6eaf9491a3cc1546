"""Driver rows that polars cannot type still become a frame (an Object column), never a panic."""

from __future__ import annotations

import decimal

import polars as pl

from bluegreen.sync.shape import to_frame


def test_decimal_nan_and_huge_decimals_fall_back_to_object() -> None:
    rows = [(1, decimal.Decimal("NaN")), (2, decimal.Decimal("1" * 45))]
    frame = to_frame(("id", "v"), rows)
    assert frame["id"].to_list() == [1, 2]
    assert frame.schema["v"] == pl.Object
    assert frame.rows() == rows
