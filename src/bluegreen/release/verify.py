"""Verify green against blue *through the mapping*: per green table, row count and content hash.

What is compared, per green target of the sync plan:

- a column copied as is (same name or renamed): blue's value against green's, each in its
  canonical text (:func:`bluegreen.verify.canonical`);
- a cast column (T): blue's value cast by the sync's own shaper against green's value, both
  first normalized by the green column's type family (a decimal's text and the driver's
  Decimal, SQLite's date text and a datetime, 1 and True compare equal);
- a lookup column (L): blue's value against the value green's lookup row holds for the key
  green stored (green's *resolved* value, read with a LEFT JOIN); a key without a lookup row,
  or a NULL left by the ``null`` policy for a value the lookup lacks, compares as NULL and so
  shows as a difference;
- a version column (V) is not compared (green writes the window's version, blue has no value).

A blue table whose targets are all plain copies is hashed with plain SELECTs on both sides; one
with casts or lookups is read once through the shaper. Blue is read in one snapshot and green
in another, so each side is consistent; during a cutover blue is frozen and green drained, so
the two snapshots describe the same moment. Digests are order-independent sums of row hashes.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bluegreen.dialects.base import PRESENT, Dialect
from bluegreen.mapping.types import parse_type
from bluegreen.sync.plan import ColumnSource, Source, SyncPlan, Target
from bluegreen.sync.shape import IdentityShaper, Shaper, to_frame
from bluegreen.sync.state import GreenState
from bluegreen.verify import canonical
from bluegreen.watermark import Watermark

_MOD = 1 << 256
_TRUE = {"1", "true", "t", "yes", "y", "on"}
_FALSE = {"0", "false", "f", "no", "n", "off"}


class Digest:
    """Order-independent running digest (the algorithm of :func:`bluegreen.verify.digest_rows`)."""

    def __init__(self) -> None:
        self.total = 0
        self.rows = 0

    def add(self, row: Iterable[Any]) -> None:
        h = hashlib.sha256("\x1f".join(canonical(v) for v in row).encode()).digest()
        self.total = (self.total + int.from_bytes(h, "big")) % _MOD
        self.rows += 1

    @property
    def hex(self) -> str:
        return f"{self.total:064x}"[:32]


@dataclass(frozen=True)
class TableCheck:
    """One green target against the blue table that feeds it."""

    blue_table: str
    green_table: str
    blue_rows: int
    green_rows: int
    blue_digest: str
    green_digest: str
    columns: tuple[str, ...]
    through_shaper: bool = False
    lookups: tuple[str, ...] = ()

    @property
    def matches(self) -> bool:
        return self.blue_rows == self.green_rows and self.blue_digest == self.green_digest

    def line(self) -> str:
        state = "ok" if self.matches else "MISMATCH"
        return (
            f"{self.blue_table} -> {self.green_table}: {state} "
            f"(rows {self.blue_rows} / {self.green_rows})"
        )


@dataclass
class VerifyReport:
    """Every target's check, and the positions both sides were read at."""

    tables: list[TableCheck] = field(default_factory=list)
    blue_version: Watermark | None = None
    green_watermark: Watermark | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(t.matches for t in self.tables)

    @property
    def mismatches(self) -> list[TableCheck]:
        return [t for t in self.tables if not t.matches]

    def summary(self) -> str:
        bad = self.mismatches
        if not bad:
            return f"{len(self.tables)} table(s) match (rows and content hash)"
        return f"{len(bad)} of {len(self.tables)} table(s) differ: " + "; ".join(
            t.line() for t in bad
        )


def _family(type_text: str, meanings: dict[str, str]) -> str:
    try:
        return parse_type(type_text, meanings).family
    except Exception:  # an unreadable type is compared as is
        return "unknown"


def normalize(value: Any, family: str) -> Any:
    """``value`` in the form its green type family compares in (see the module docstring)."""
    if value is None:
        return None
    try:
        if family == "int":
            if isinstance(value, bool):
                return int(value)
            if isinstance(value, (str, float, decimal.Decimal)):
                return int(decimal.Decimal(str(value).strip()))
        elif family in ("decimal", "float"):
            if isinstance(value, float):
                return decimal.Decimal(repr(value))
            if isinstance(value, (str, int)) and not isinstance(value, bool):
                return decimal.Decimal(str(value).strip())
        elif family == "bool":
            if isinstance(value, str):
                low = value.strip().lower()
                return True if low in _TRUE else False if low in _FALSE else value
            if isinstance(value, int):
                return bool(value)
        elif family == "date":
            if isinstance(value, dt.datetime):
                return value.date()
            if isinstance(value, str):
                return dt.date.fromisoformat(value.strip()[:10])
        elif family in ("datetime", "datetimetz"):
            if isinstance(value, str):
                return dt.datetime.fromisoformat(value.strip())
            if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
                return dt.datetime(value.year, value.month, value.day)
        elif family == "time" and isinstance(value, str):
            return dt.time.fromisoformat(value.strip())
    except (ValueError, ArithmeticError):
        return value
    return value


def _compared(target: Target) -> list[ColumnSource]:
    return [s for s in target.sources if not s.version and (s.blue is not None)]


def _plain(source: Source) -> bool:
    return all(s.cast is None and s.lookup is None for t in source.targets for s in t.sources)


def _green_select(green: Dialect, target: Target) -> str:
    """Green's compared columns, lookup columns replaced by the lookup row's value."""
    cols, joins = [], []
    for i, s in enumerate(_compared(target)):
        if s.lookup is not None:
            alias = f"bg_l{i}"
            cols.append(f"{alias}.{green.quote(s.lookup.value)}")
            joins.append(
                f"LEFT JOIN {green.qualify(s.lookup.table.name)} AS {alias} ON "
                f"{alias}.{green.quote(s.lookup.key)} = g.{green.quote(s.green)}"
            )
        else:
            cols.append(f"g.{green.quote(s.green)}")
    return (
        f"SELECT {', '.join(cols)} FROM {green.qualify(target.green.name)} AS g " + " ".join(joins)
    ).rstrip()


def _families(target: Target, meanings: dict[str, str]) -> list[str]:
    out = []
    for s in _compared(target):
        if s.lookup is not None:
            out.append(_family(s.lookup.table.column(s.lookup.value).type, meanings))
        else:
            out.append(_family(target.green.column(s.green).type, meanings))
    return out


def _digest(
    db: Dialect, sql: str, batch: int, doing: str, families: Sequence[str] | None
) -> Digest:
    d = Digest()
    for _, rows in db.stream(sql, (), batch, doing=doing):
        for row in rows:
            d.add(
                row
                if families is None
                else [normalize(v, f) for v, f in zip(row, families, strict=True)]
            )
    return d


def verify_pair(
    blue: Dialect,
    green: Dialect,
    plan: SyncPlan,
    shaper: Shaper | None = None,
    *,
    stream: str = "default",
    batch_size: int = 50_000,
) -> VerifyReport:
    """Compare every target of ``plan`` (see the module docstring); read-only on both sides."""
    t0 = time.perf_counter()
    shaper = shaper or IdentityShaper()
    meanings = dict(type(green).type_meanings)
    blue_digests: dict[int, tuple[str, Digest, bool]] = {}
    report = VerifyReport()
    try:
        blue.begin_snapshot()
        report.blue_version = _maybe_watermark(blue)
        for source in plan.sources:
            name = str(source.blue.name)
            if _plain(source):
                for target in source.targets:
                    cols = ", ".join(blue.quote(s.blue or "") for s in _compared(target))
                    sql = f"SELECT {cols} FROM {blue.qualify(source.blue.name)}"
                    d = _digest(blue, sql, batch_size, f"read blue {name} to verify", None)
                    blue_digests[target.index] = (name, d, False)
                continue
            acc = {t.index: Digest() for t in source.targets}
            fams = {t.index: _families(t, meanings) for t in source.targets}
            cols = [blue.quote(c.name) for c in source.blue.writable_columns]
            sql = (
                f"SELECT {', '.join(cols)}, 1 AS {blue.quote(PRESENT)} "
                f"FROM {blue.qualify(source.blue.name)}"
            )
            mark = report.blue_version or Watermark.start()
            for names, rows in blue.stream(sql, (), batch_size, doing=f"read blue {name}"):
                frame = to_frame(names, rows)
                for target, shaped in shaper.shape(source, frame, mark):
                    picked = [
                        s.lookup.stage_column if s.lookup is not None else s.green
                        for s in _compared(target)
                    ]
                    fam = fams[target.index]
                    for row in shaped.select(picked).iter_rows():
                        acc[target.index].add(
                            [normalize(v, f) for v, f in zip(row, fam, strict=True)]
                        )
            for target in source.targets:
                blue_digests[target.index] = (name, acc[target.index], True)
    finally:
        blue.rollback()
    try:
        green.begin_snapshot()
        state = GreenState(green, stream)
        if state.installed():
            report.green_watermark = state.read()[0]
        for target in plan.targets:
            blue_name, bd, shaped_path = blue_digests[target.index]
            fam = _families(target, meanings) if shaped_path else None
            gd = _digest(
                green,
                _green_select(green, target),
                batch_size,
                f"read green {target.green.name} to verify",
                fam,
            )
            report.tables.append(
                TableCheck(
                    blue_table=blue_name,
                    green_table=str(target.green.name),
                    blue_rows=bd.rows,
                    green_rows=gd.rows,
                    blue_digest=bd.hex,
                    green_digest=gd.hex,
                    columns=tuple(s.green for s in _compared(target)),
                    through_shaper=shaped_path,
                    lookups=tuple(s.green for s in _compared(target) if s.lookup is not None),
                )
            )
    finally:
        green.rollback()
    report.seconds = time.perf_counter() - t0
    return report


def _maybe_watermark(db: Dialect) -> Watermark | None:
    if not db.tracked_tables():
        return None
    return db.current_watermark()
