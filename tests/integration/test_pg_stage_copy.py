"""PostgreSQL stages batches through COPY ... (FORMAT csv) written by polars: exactly the values
the row-by-row COPY would have staged, NULL and '' kept apart, every text oddity intact."""

from __future__ import annotations

import datetime as dt
import decimal
import math
from typing import Any

import polars as pl
import pytest

import bluegreen.dialects.postgres as postgres
from bluegreen.schema import Column
from bluegreen.sync.shape import to_frame
from tests.conftest import EnginePair
from tests.integration.helpers import assert_same, enable, sync

TRICKY_TEXT = [
    "",
    " ",
    " padded ",
    "\\N",
    "\\.",
    "a\n\\.\nb",
    "line\nbreak",
    "cr\r\nlf",
    "tab\there",
    'quote " and ""',
    "comma, semicolon; -- dash",
    "back\\slash\\",
    "Grüße 東京 🚀",
    "NULL",
]

COLUMNS = [
    ("t", "text"),
    ("vc", "varchar(40)"),
    ("ch", "char(3)"),
    ("n", "numeric(18,6)"),
    ("f", "double precision"),
    ("r", "real"),
    ("big", "bigint"),
    ("small", "smallint"),
    ("flag", "boolean"),
    ("day", "date"),
    ("tm", "time"),
    ("at", "timestamp"),
    ("atz", "timestamptz"),
    ("b", "bytea"),
]


def _rows() -> list[tuple[Any, ...]]:
    utc = dt.UTC
    rows = []
    for i, text in enumerate(TRICKY_TEXT, start=1):
        rows.append(
            (
                i,
                text,
                text[:40],
                text[:3],
                decimal.Decimal(i).scaleb(-6) * (-1) ** i,
                [0.1 + 0.2, -0.0, 5e-324, 1.7976931348623157e308, math.inf, -math.inf][i % 6],
                [0.1, 3.4028234663852886e38, -1.5][i % 3],
                [2**63 - 1, -(2**63), 0][i % 3],
                [32767, -32768, 0][i % 3],
                i % 2 == 0,
                dt.date(1, 1, 1) + dt.timedelta(days=i * 100_000),
                dt.time(23, 59, 59, 999_999) if i % 2 else dt.time(0, 0, 0, i),
                dt.datetime(1970, 1, 1) + dt.timedelta(days=i * 1000, microseconds=i),
                dt.datetime(2024, 3, 31, 1, 30, i, tzinfo=utc),
                bytes(range(i * 7 % 256)) + b'\x00\\\n,"',
            )
        )
    rows.append((len(rows) + 1, *([None] * len(COLUMNS))))
    rows.append(
        (len(rows) + 1, "", "", "", None, None, None, None, None, None, None, None, None, None, b"")
    )
    return rows


def _table_ddl(name: str) -> str:
    cols = ", ".join(f"{c} {t}" for c, t in COLUMNS)
    return f"CREATE TABLE {name} (id integer PRIMARY KEY, {cols})"


def test_sync_keeps_every_value_exact(pg_pair: EnginePair) -> None:
    pg_pair.ddl(_table_ddl("odd"))
    enable(pg_pair)
    marks = ", ".join(["?"] * (len(COLUMNS) + 1))
    rows = _rows()
    for row in rows:
        pg_pair.run("blue", f"INSERT INTO odd VALUES ({marks})", params=row)
    sync(pg_pair, batch_size=5)
    assert pg_pair.rows("green", "odd") == pg_pair.rows("blue", "odd")
    assert_same(pg_pair)
    got = dict((r[0], r) for r in pg_pair.rows("green", "odd"))
    assert got[1][1] == "" and got[len(rows) - 1][1] is None  # '' and NULL stay apart
    assert got[len(rows)][14] == b""  # an empty bytea is not NULL either


@pytest.mark.parametrize(
    "cast",
    [
        pytest.param({}, id="as-read"),
        pytest.param(
            {"f": pl.Float32, "t": pl.Categorical, "at": pl.Datetime("ns"), "small": pl.Int16},
            id="mapped-dtypes",
        ),
    ],
)
def test_csv_staging_equals_row_by_row_staging(
    pg_pair: EnginePair, monkeypatch: pytest.MonkeyPatch, cast: dict[str, pl.DataType]
) -> None:
    green = pg_pair.green()
    names = ("id", *(c for c, _ in COLUMNS), "__bg_present")
    rows = [(*r, 1) for r in _rows()]
    frame = to_frame(names, rows)
    frame = frame.with_columns(*(pl.col(c).cast(t) for c, t in cast.items()))
    assert postgres._csv_exprs(frame, list(names)) is not None  # the fast path applies
    columns = [Column("id", "integer"), *(Column(c, t) for c, t in COLUMNS)]
    staged = []
    for index, use_csv in ((0, True), (1, False)):
        if not use_csv:
            monkeypatch.setattr(postgres, "_csv_exprs", lambda frame, names: None)
        green.begin()
        green.create_stage(index, columns)
        assert green.load_stage(index, names[:-1], frame) == len(rows)
        staged.append(green.query(f"SELECT * FROM {green.stage_name(index)} ORDER BY 1"))
        green.rollback()
    assert len(staged[0]) == len(rows)
    for csv_row, row_row in zip(*staged, strict=True):
        assert _same(csv_row, row_row)


def _same(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    return all(
        x == y
        or (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y))
        for x, y in zip(a, b, strict=True)
    )


def test_frames_csv_cannot_carry_go_row_by_row(pg_pair: EnginePair) -> None:
    """Intervals, arrays and UUIDs arrive as types polars' CSV writer refuses
    (duration, list, object)."""
    pg_pair.ddl(
        "CREATE TABLE rich (id integer PRIMARY KEY, span interval, tags integer[], ref uuid, "
        "n numeric)"
    )
    enable(pg_pair)
    pg_pair.run(
        "blue",
        "INSERT INTO rich VALUES (1, '1 day 02:03:04.5', '{1,2,NULL}', "
        "'9f0e4b1e-58f4-4f5e-9d1b-3f8b4f0f7c11', '-1.500')",
        "INSERT INTO rich VALUES (2, NULL, NULL, NULL, NULL)",
    )
    sync(pg_pair)
    assert pg_pair.rows("green", "rich") == pg_pair.rows("blue", "rich")
