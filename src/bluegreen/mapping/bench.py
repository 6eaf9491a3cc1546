"""Set-up for the benchmark "mapped run": rename + cast + version column + lookup on one table.

    builder = setup_mapped_bench(blue, green, tmp / "bench.xlsx", rows=100_000)
    summary = Syncer(blue, green, plan_builder=builder).until_caught_up()
    write_bench_rows(blue, start=100_000, count=10_000)  # more changes for the next windows

Blue's ``bench_item`` holds ``title`` (renamed to ``name`` on green), ``qty`` as text (cast to
INTEGER), ``region`` as a name (replaced by the key of green's ``bench_region``); green's
``ct_version`` gets each change's version. The DDL uses types every engine accepts.
"""

from __future__ import annotations

from pathlib import Path

from bluegreen.dialects.base import Dialect
from bluegreen.mapping.builder import MappingPlanBuilder
from bluegreen.mapping.model import MappingRow
from bluegreen.mapping.workbook import write_mapping

BLUE_TABLE = "bench_item"
LOOKUP_TABLE = "bench_region"
REGIONS = 50

BLUE_DDL = (
    f"CREATE TABLE {BLUE_TABLE} (id INTEGER PRIMARY KEY, title VARCHAR(80), qty VARCHAR(12), "
    "region VARCHAR(40))",
)
GREEN_DDL = (
    f"CREATE TABLE {LOOKUP_TABLE} (region_id INTEGER PRIMARY KEY, name VARCHAR(40) NOT NULL)",
    f"CREATE TABLE {BLUE_TABLE} (id INTEGER PRIMARY KEY, name VARCHAR(80), qty INTEGER, "
    f"region_id INTEGER REFERENCES {LOOKUP_TABLE} (region_id), ct_version BIGINT)",
)


def bench_rows() -> list[MappingRow]:
    """The benchmark workbook: N, T, L (policy error: every region exists) and V."""
    t = BLUE_TABLE
    return [
        MappingRow(row=2, blue_table=t, blue_column="title", operation="N", green_column="name"),
        MappingRow(row=3, blue_table=t, blue_column="qty", operation="T", green_column="qty"),
        MappingRow(
            row=4,
            blue_table=t,
            blue_column="region",
            operation="L",
            green_column="region_id",
            lookup_table=LOOKUP_TABLE,
            lookup_key="region_id",
            lookup_value="name",
        ),
        MappingRow(row=5, blue_table=t, operation="V", green_column="ct_version"),
    ]


def _run(db: Dialect, statements: tuple[str, ...]) -> None:
    with db.transaction():
        for stmt in statements:
            db.execute(stmt, doing="create the benchmark tables")


def _insert_many(db: Dialect, sql: str, rows: list[tuple[object, ...]]) -> None:
    with db.transaction(), db.errors("insert benchmark rows"):
        cur = db.conn.cursor()
        try:
            cur.executemany(sql, rows)
        finally:
            cur.close()


def write_bench_rows(blue: Dialect, start: int, count: int, regions: int = REGIONS) -> None:
    """Insert ``count`` blue rows with keys from ``start`` (one transaction)."""
    cols = ", ".join(blue.quote(c) for c in ("id", "title", "qty", "region"))
    sql = f"INSERT INTO {blue.quote(BLUE_TABLE)} ({cols}) VALUES ({blue.placeholder(4)})"
    rows = [
        (i, f"item {i}", str(i % 1000), f"region {i % regions}")
        for i in range(start, start + count)
    ]
    _insert_many(blue, sql, rows)


def setup_mapped_bench(
    blue: Dialect, green: Dialect, workbook: str | Path, rows: int = 10_000, regions: int = REGIONS
) -> MappingPlanBuilder:
    """Create the tables on empty blue/green databases, fill blue and the lookup table, enable
    tracking, write the workbook; return the plan builder to hand to ``Syncer``."""
    _run(blue, BLUE_DDL)
    _run(green, GREEN_DDL)
    _insert_many(
        green,
        f"INSERT INTO {green.quote(LOOKUP_TABLE)} ({green.quote('region_id')}, "
        f"{green.quote('name')}) VALUES ({green.placeholder(2)})",
        [(i + 1, f"region {i}") for i in range(regions)],
    )
    blue.enable_tracking([blue.introspect().table(BLUE_TABLE)])
    if rows:
        write_bench_rows(blue, 0, rows, regions)
    write_mapping(bench_rows(), workbook, blue.introspect(), green.introspect())
    return MappingPlanBuilder(workbook)
