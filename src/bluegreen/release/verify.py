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

The cutover verifies incrementally (:func:`verify_unchanged` before its freeze, blue live, then
:func:`verify_changed` on only the keys blue changed since): see the section at the end.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from bluegreen.dialects.base import PRESENT, Dialect
from bluegreen.errors import ConfigError, TransientError
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
    mode: str = "full"
    """``full`` (every row), ``unchanged`` (every row but the keys blue changed after green's
    watermark) or ``keyed`` (only the keys blue changed after ``since``)."""
    since: Watermark | None = None
    """``keyed``: the watermark up to which green was already proven equal to blue."""
    keys_checked: int | None = None
    """``keyed``: the changed keys compared (present on blue or not)."""
    keys_deferred: int | None = None
    """Keys blue changed after green's watermark, left for a later (keyed) check."""

    @property
    def ok(self) -> bool:
        return all(t.matches for t in self.tables)

    @property
    def mismatches(self) -> list[TableCheck]:
        return [t for t in self.tables if not t.matches]

    def summary(self) -> str:
        bad = self.mismatches
        scope = ""
        if self.mode == "keyed":
            scope = f" on the {self.keys_checked} key(s) blue changed after {self.since}"
        elif self.mode == "unchanged":
            scope = f" outside the {self.keys_deferred} key(s) changed after {self.green_watermark}"
        if not bad:
            return f"{len(self.tables)} table(s) match (rows and content hash){scope}"
        return f"{len(bad)} of {len(self.tables)} table(s) differ{scope}: " + "; ".join(
            f"{t.line()} digest {t.blue_digest} / {t.green_digest}" for t in bad
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


def _green_select(green: Dialect, target: Target, extra: Sequence[str] = ()) -> str:
    """Green's compared columns, lookup columns replaced by the lookup row's value, then the
    green columns ``extra`` as stored (the key, to tell which rows to leave out)."""
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
    cols += [f"g.{green.quote(c)}" for c in extra]
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


KeyTerms = tuple[str, ...]
"""A key as comparable text: each column's canonical text (normalized by its family on the
green side, as the blue driver returns it on the blue side)."""


def _digest(
    db: Dialect,
    sql: str,
    batch: int,
    doing: str,
    families: Sequence[str] | None,
    skip: Callable[[tuple], bool] | None = None,
    width: int | None = None,
) -> Digest:
    """Digest the rows of ``sql`` (their first ``width`` columns), leaving out the rows
    ``skip`` names (the extra columns after ``width`` carry the key it tests)."""
    d = Digest()
    for _, rows in db.stream(sql, (), batch, doing=doing):
        _digest_rows(d, rows, families, skip, width)
    return d


def _digest_rows(
    d: Digest,
    rows: Iterable[tuple],
    families: Sequence[str] | None,
    skip: Callable[[tuple], bool] | None = None,
    width: int | None = None,
) -> None:
    for row in rows:
        if skip is not None and skip(row):
            continue
        row = row[:width] if width is not None else row
        d.add(
            row
            if families is None
            else [normalize(v, f) for v, f in zip(row, families, strict=True)]
        )


def _blue_key(source: Source, columns: Sequence[str]) -> list[int]:
    """Positions of blue's primary key columns among ``columns``."""
    return [list(columns).index(k) for k in source.blue.primary_key]


def _green_key_families(target: Target, meanings: dict[str, str]) -> list[str]:
    return [_family(target.green.column(k).type, meanings) for k in target.key]


def _terms(values: Iterable[Any], families: Sequence[str] | None = None) -> KeyTerms:
    if families is None:
        return tuple(canonical(v) for v in values)
    return tuple(canonical(normalize(v, f)) for v, f in zip(values, families, strict=True))


def _picked(target: Target) -> list[str]:
    """The shaped frame's columns compared for ``target`` (a lookup's blue value for L)."""
    return [s.lookup.stage_column if s.lookup is not None else s.green for s in _compared(target)]


def _blue_digests(
    blue: Dialect,
    plan: SyncPlan,
    shaper: Shaper,
    meanings: dict[str, str],
    batch_size: int,
    mark: Watermark,
    skip: dict[str, set[KeyTerms]] | None = None,
) -> dict[int, tuple[str, Digest, bool]]:
    """Per target: (blue table, digest of blue through the mapping, read through the shaper),
    in the open snapshot; rows whose key is in ``skip[blue table]`` are left out."""
    out: dict[int, tuple[str, Digest, bool]] = {}
    for source in plan.sources:
        name = str(source.blue.name)
        keys = (skip or {}).get(name)
        if _plain(source):
            for target in source.targets:
                compared = [blue.quote(s.blue or "") for s in _compared(target)]
                extra = [blue.quote(k) for k in source.blue.primary_key] if keys else []
                sql = f"SELECT {', '.join(compared + extra)} FROM {blue.qualify(source.blue.name)}"
                width = len(compared)
                test = None
                if keys:
                    test = lambda row, w=width, k=keys: _terms(row[w:]) in k  # noqa: E731
                d = _digest(blue, sql, batch_size, f"read blue {name} to verify", None, test, width)
                out[target.index] = (name, d, False)
            continue
        acc = {t.index: Digest() for t in source.targets}
        fams = {t.index: _families(t, meanings) for t in source.targets}
        names = [c.name for c in source.blue.writable_columns]
        pos = _blue_key(source, names)
        sql = (
            f"SELECT {', '.join(blue.quote(c) for c in names)}, 1 AS {blue.quote(PRESENT)} "
            f"FROM {blue.qualify(source.blue.name)}"
        )
        for cols, rows in blue.stream(sql, (), batch_size, doing=f"read blue {name}"):
            if keys:
                rows = [r for r in rows if _terms(r[i] for i in pos) not in keys]
                if not rows:
                    continue
            _shape_into(acc, fams, shaper, source, to_frame(cols, rows), mark)
        for target in source.targets:
            out[target.index] = (name, acc[target.index], True)
    return out


def _shape_into(
    acc: dict[int, Digest],
    fams: dict[int, list[str]],
    shaper: Shaper,
    source: Source,
    frame: pl.DataFrame,
    mark: Watermark,
) -> None:
    """Shape blue rows and add the present ones to each target's digest."""
    for target, shaped in shaper.shape(source, frame, mark):
        if PRESENT in shaped.columns:
            shaped = shaped.filter(pl.col(PRESENT).cast(pl.Int64) == 1)
        _digest_rows(
            acc[target.index], shaped.select(_picked(target)).iter_rows(), fams[target.index]
        )


def _check(target: Target, blue_name: str, bd: Digest, gd: Digest, shaped_path: bool) -> TableCheck:
    return TableCheck(
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
    report = VerifyReport()
    try:
        blue.begin_snapshot()
        report.blue_version = _maybe_watermark(blue)
        mark = report.blue_version or Watermark.start()
        blue_digests = _blue_digests(blue, plan, shaper, meanings, batch_size, mark)
    finally:
        blue.rollback()
    try:
        green.begin_snapshot()
        state = GreenState(green, stream)
        if state.installed():
            report.green_watermark = state.read()[0]
        report.tables += _green_checks(green, plan, blue_digests, meanings, batch_size)
    finally:
        green.rollback()
    report.seconds = time.perf_counter() - t0
    return report


def _green_checks(
    green: Dialect,
    plan: SyncPlan,
    blue_digests: dict[int, tuple[str, Digest, bool]],
    meanings: dict[str, str],
    batch_size: int,
    skip: dict[int, set[KeyTerms]] | None = None,
) -> list[TableCheck]:
    """Digest every target on green (in its open snapshot), leaving out the keys ``skip``
    names per target, and pair each digest with blue's."""
    checks = []
    for target in plan.targets:
        blue_name, bd, shaped_path = blue_digests[target.index]
        fam = _families(target, meanings) if shaped_path else None
        keys = (skip or {}).get(target.index, set())
        kfam = _green_key_families(target, meanings)
        width = len(_compared(target))
        gd = _digest(
            green,
            _green_select(green, target, target.key if keys else ()),
            batch_size,
            f"read green {target.green.name} to verify",
            fam,
            (lambda row, w=width, k=keys, f=kfam: _terms(row[w:], f) in k) if keys else None,
            width if keys else None,
        )
        checks.append(_check(target, blue_name, bd, gd, shaped_path))
    return checks


def _maybe_watermark(db: Dialect) -> Watermark | None:
    if not db.tracked_tables():
        return None
    return db.current_watermark()


# ---- incremental verification (the cutover) ---------------------------------------------------
#
# Green changes only through the sync, and the sync applies exactly the keys blue's change log
# names. So once green at watermark W is proven equal to blue on every key blue did not change
# after W, green equals blue at a later blue version F as soon as the keys changed in (W, F]
# match: the rest cannot have moved on either side. The cutover proves the first part before
# the freeze (every row, blue live) and only the changed keys inside it.


@dataclass
class _Changed:
    """One blue table's keys changed in a range: blue's terms, and the shaped change rows."""

    keys: set[KeyTerms] = field(default_factory=set)
    frames: list[pl.DataFrame] = field(default_factory=list)


def _read_changed(
    blue: Dialect,
    source: Source,
    since: Watermark,
    upto: Watermark,
    batch_size: int,
    *,
    rows: bool,
    leave_out: set[KeyTerms] | None = None,
) -> _Changed:
    """Blue's keys of ``source`` changed in (since, upto] (in the open snapshot at ``upto``),
    with their current rows as frames when ``rows`` (keys in ``leave_out`` dropped)."""
    out = _Changed()
    if not since < upto:
        return out
    for batch in blue.read_changes(source.blue, since, upto, batch_size):
        pos = _blue_key(source, batch.columns)
        kept = []
        for row in batch.rows:
            key = _terms(row[i] for i in pos)
            if leave_out is not None and key in leave_out:
                continue
            out.keys.add(key)
            kept.append(row)
        if rows and kept:
            out.frames.append(to_frame(batch.columns, kept))
    return out


def _check_log(blue: Dialect, plan: SyncPlan, since: Watermark) -> None:
    bad = [v for v in blue.check_valid([s.blue.name for s in plan.sources], since) if not v.valid]
    if bad:
        raise TransientError(
            f"blue's change log of {bad[0].table} no longer covers {since}, the watermark green "
            f"was verified at ({bad[0].detail})",
            fix="run the cutover again (its pre-verify starts from green's current watermark), "
            "or keep the change log longer than a cutover takes",
        )


def _open_green(green: Dialect, stream: str) -> Watermark:
    """Open green's snapshot and read its watermark (green's side is fixed from here on)."""
    green.begin_snapshot()
    state = GreenState(green, stream)
    if not state.installed():
        raise ConfigError(
            f"green ({green.describe()}) has no sync state: nothing to verify incrementally",
            fix="prepare green (bluegreen prepare) and let the sync run first",
        )
    return state.read()[0]


def verify_unchanged(
    blue: Dialect,
    green: Dialect,
    plan: SyncPlan,
    shaper: Shaper | None = None,
    *,
    stream: str = "default",
    batch_size: int = 50_000,
) -> VerifyReport:
    """Every row of every target, blue live, except the keys blue changed after green's
    watermark W: green's snapshot is opened first (W), then blue's (S, later); the keys blue's
    change log shows in (W, S] are left out on both sides (``keys_deferred``). A match proves
    green at W equals blue on every other key; ``green_watermark`` is W."""
    t0 = time.perf_counter()
    shaper = shaper or IdentityShaper()
    meanings = dict(type(green).type_meanings)
    report = VerifyReport(mode="unchanged")
    try:
        report.green_watermark = mark = _open_green(green, stream)
        skip_green: dict[int, set[KeyTerms]] = {t.index: set() for t in plan.targets}
        skip_blue: dict[str, set[KeyTerms]] = {}
        try:
            blue.begin_snapshot()
            report.blue_version = upto = blue.current_watermark()
            _check_log(blue, plan, mark)
            for source in plan.sources:
                changed = _read_changed(blue, source, mark, upto, batch_size, rows=True)
                skip_blue[str(source.blue.name)] = changed.keys
                for frame in changed.frames:
                    for target, shaped in shaper.shape(source, frame, upto):
                        fam = _green_key_families(target, meanings)
                        skip_green[target.index].update(
                            _terms(k, fam) for k in shaped.select(list(target.key)).iter_rows()
                        )
            report.keys_deferred = sum(len(k) for k in skip_blue.values())
            blue_digests = _blue_digests(blue, plan, shaper, meanings, batch_size, upto, skip_blue)
        finally:
            blue.rollback()
        report.tables += _green_checks(green, plan, blue_digests, meanings, batch_size, skip_green)
    finally:
        green.rollback()
    report.seconds = time.perf_counter() - t0
    return report


def _key_where(green: Dialect, key: Sequence[str], n: int) -> str:
    """``n`` keys as a WHERE condition with bound values (IN for one column, OR of ANDs)."""
    cols = [f"g.{green.quote(k)}" for k in key]
    mark = green.placeholder()
    if len(cols) == 1:
        return f"{cols[0]} IN ({green.placeholder(n)})"
    one = "(" + " AND ".join(f"{c} = {mark}" for c in cols) + ")"
    return " OR ".join([one] * n)


KEYS_PER_QUERY = 500
"""Keys bound per green query of a keyed check (SQLite allows 999 parameters in old builds)."""


def verify_changed(
    blue: Dialect,
    green: Dialect,
    plan: SyncPlan,
    since: Watermark,
    shaper: Shaper | None = None,
    *,
    stream: str = "default",
    batch_size: int = 50_000,
) -> VerifyReport:
    """Given green proven equal to blue at ``since`` on every key not changed after it, compare
    the keys blue changed after ``since``: green's snapshot first (watermark W), then blue's
    (S); for each key changed in (since, S] but not in (W, S], blue's current row through the
    mapping against green's row of that key (absent on blue: absent on green). A match moves
    the proof to W, with the keys changed in (W, S] ``keys_deferred``; after a drain to a
    frozen blue W reaches S and nothing is deferred."""
    t0 = time.perf_counter()
    shaper = shaper or IdentityShaper()
    meanings = dict(type(green).type_meanings)
    report = VerifyReport(mode="keyed", since=since, keys_checked=0, keys_deferred=0)
    try:
        report.green_watermark = mark = _open_green(green, stream)
        wanted: dict[int, list[tuple]] = {t.index: [] for t in plan.targets}
        acc = {t.index: Digest() for t in plan.targets}
        fams = {t.index: _families(t, meanings) for t in plan.targets}
        try:
            blue.begin_snapshot()
            report.blue_version = upto = blue.current_watermark()
            _check_log(blue, plan, since)
            for source in plan.sources:
                later = _read_changed(blue, source, mark, upto, batch_size, rows=False)
                changed = _read_changed(
                    blue, source, since, upto, batch_size, rows=True, leave_out=later.keys
                )
                report.keys_deferred += len(later.keys)
                report.keys_checked += len(changed.keys)
                for frame in changed.frames:
                    for target, shaped in shaper.shape(source, frame, upto):
                        wanted[target.index] += list(shaped.select(list(target.key)).iter_rows())
                    _shape_into(
                        {t.index: acc[t.index] for t in source.targets},
                        fams,
                        shaper,
                        source,
                        frame,
                        upto,
                    )
        finally:
            blue.rollback()
        for source in plan.sources:
            for target in source.targets:
                gd = Digest()
                keys = wanted[target.index]
                step = max(1, KEYS_PER_QUERY // len(target.key))
                for i in range(0, len(keys), step):
                    chunk = keys[i : i + step]
                    sql = (
                        f"{_green_select(green, target)} WHERE "
                        f"{_key_where(green, target.key, len(chunk))}"
                    )
                    params = [v for k in chunk for v in k]
                    for _, rows in green.stream(
                        sql, params, batch_size, doing=f"read green {target.green.name} by key"
                    ):
                        _digest_rows(gd, rows, fams[target.index])
                report.tables.append(
                    _check(target, str(source.blue.name), acc[target.index], gd, True)
                )
    finally:
        green.rollback()
    report.seconds = time.perf_counter() - t0
    return report
