"""The mapping's shaper: polars renames, checked casts, the version column and split frames; then
lookups resolved set-based on green once the stages are loaded.

Casts are strict in effect: each value is cast leniently, and any value that was not NULL but
came out NULL (or too long for a varchar, or rounded by a decimal's scale) stops the window with
an error that names the row's primary key, the column and the value. Shaping runs before the
apply, so nothing of that window reaches green.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from bluegreen.dialects.base import PRESENT, Dialect
from bluegreen.errors import TerminalError
from bluegreen.mapping.types import SqlType, parse_type, polars_dtype
from bluegreen.sync.plan import ColumnSource, Source, SyncPlan, Target
from bluegreen.watermark import Watermark

log = logging.getLogger("bluegreen.mapping")

_TRUE = {"1", "true", "t", "yes", "y", "on"}
_FALSE = {"0", "false", "f", "no", "n", "off"}
SHOWN = 5  # bad values an error message lists


class CastError(TerminalError):
    """A blue value that does not convert to its green column's type; the window stopped."""


class LookupFailed(TerminalError):
    """A lookup value without a row (policy ``error``), or one that matches several rows."""


def cast_series(values: pl.Series, target: SqlType) -> tuple[pl.Series, pl.Series]:
    """(values cast to ``target``'s polars dtype, mask of values that did not convert)."""
    src = values
    if src.dtype == pl.Object:
        src = pl.Series(src.name, [None if v is None else str(v) for v in src], dtype=pl.String)
    dtype = polars_dtype(target)
    if dtype is None:
        return src, pl.Series(src.name, [False] * len(src), dtype=pl.Boolean)
    if src.dtype == pl.String and dtype != pl.String():
        text = src.str.strip_chars()
        if dtype == pl.Date():
            out = text.str.to_date(strict=False)
        elif dtype == pl.Datetime("us"):
            out = text.str.to_datetime(time_unit="us", strict=False)
        elif dtype == pl.Time():
            out = text.str.to_time(strict=False)
        elif dtype == pl.Boolean():
            mapping = {**dict.fromkeys(_TRUE, True), **dict.fromkeys(_FALSE, False)}
            out = text.str.to_lowercase().replace_strict(
                mapping, default=None, return_dtype=pl.Boolean
            )
        else:
            out = text.cast(dtype, strict=False)
    elif src.dtype == pl.Null:
        out = src.cast(dtype)
    else:
        try:
            out = src.cast(dtype, strict=False)
        except pl.exceptions.PolarsError:
            out = pl.Series(src.name, [None] * len(src), dtype=dtype)
    bad = src.is_not_null() & out.is_null()
    if target.family == "text" and target.length is not None:
        bad = bad | (out.str.len_chars() > target.length).fill_null(False)
    if target.family == "decimal" and src.dtype == pl.String:
        # polars rounds to the scale; a value that loses digits is a failed cast, not a rounding
        scale = 12
        wide = src.str.strip_chars().cast(pl.Decimal(38, scale), strict=False)
        bad = bad | (out.cast(pl.Decimal(38, scale), strict=False) != wide).fill_null(False)
    return out.alias(values.name), bad


def _loadable(series: pl.Series) -> pl.Series:
    """Values every driver binds: decimals and times travel as their exact text."""
    if isinstance(series.dtype, pl.Decimal) or series.dtype == pl.Time():
        return series.cast(pl.String)
    return series


def _key_text(frame: pl.DataFrame, key: Sequence[str], i: int) -> str:
    return ", ".join(f"{k}={frame[k][i]!r}" for k in key if k in frame.columns)


class MappingShaper:
    """Shapes blue batches through a compiled mapping (see the module docstring)."""

    def __init__(self, green_meanings: Mapping[str, str] | None = None) -> None:
        self.meanings = dict(green_meanings or {})
        self._types: dict[str, SqlType] = {}

    def _type(self, text: str) -> SqlType:
        if text not in self._types:
            self._types[text] = parse_type(text, self.meanings)
        return self._types[text]

    def shape(
        self, source: Source, frame: pl.DataFrame, upto: Watermark
    ) -> list[tuple[Target, pl.DataFrame]]:
        casts: dict[tuple[str, str], pl.Series] = {}
        out = []
        for target in source.targets:
            columns: list[pl.Series | pl.Expr] = []
            for s in target.sources:
                if s.version:
                    columns.append(pl.lit(upto.version, dtype=pl.Int64).alias(s.green))
                elif s.lookup is not None:
                    columns.append(pl.lit(None).alias(s.green))
                    columns.append(pl.col(s.blue).alias(s.lookup.stage_column))
                elif s.cast is not None:
                    key = (s.blue or "", s.cast)
                    if key not in casts:
                        casts[key] = self._checked_cast(source, target, s, frame)
                    columns.append(pl.lit(casts[key]).alias(s.green))
                else:
                    columns.append(pl.col(s.blue).alias(s.green))
            out.append((target, frame.select([*columns, pl.col(PRESENT)])))
        return out

    def _checked_cast(
        self, source: Source, target: Target, s: ColumnSource, frame: pl.DataFrame
    ) -> pl.Series:
        assert s.blue is not None and s.cast is not None
        values = frame[s.blue]
        cast, bad = cast_series(values, self._type(s.cast))
        if bad.any():
            idx = [i for i, b in enumerate(bad.to_list()) if b]
            shown = "; ".join(
                f"{values[i]!r} (blue row {_key_text(frame, source.blue.primary_key, i)})"
                for i in idx[:SHOWN]
            )
            more = f" and {len(idx) - SHOWN} more" if len(idx) > SHOWN else ""
            where = f" [workbook {s.origin}]" if s.origin else ""
            raise CastError(
                f"cannot cast blue {source.blue.name}.{s.blue} to green {target.green.name}."
                f"{s.green} ({s.cast}){where}: {shown}{more}; nothing of this window was applied",
                fix=(
                    "correct the value(s) on blue, or change the mapping (a wider or text green "
                    "type), then run the sync again"
                ),
            )
        return _loadable(cast)

    # ---- lookups: set-based SQL on green, after the stages are loaded -----------------------
    def finish_stage(self, green: Dialect, plan: SyncPlan) -> None:
        for source in plan.sources:
            for target in source.targets:
                for s in target.lookups:
                    resolve_lookup(green, source, target, s)


# key types whose MIN every engine computes: the one-join resolution needs it
_MIN_FAMILIES = frozenset({"int", "decimal", "float", "text", "date", "time", "datetime"})


def resolve_lookup(green: Dialect, source: Source, target: Target, s: ColumnSource) -> None:
    """Replace the staged values of L column ``s`` by their lookup keys, set-based on green.

    One join writes the key of every value that has exactly one lookup row, and a scan of the
    stage looks for rows left without a key; a batch whose values all resolve costs just that.
    Only when rows are left does a second query tell a value with several lookup rows (always
    an error) from a missing one: policy ``insert`` then adds the missing values and gives
    their rows the new keys, ``error`` stops the window, ``null`` leaves the key NULL.

    A lookup whose value column is unique on green (a UNIQUE constraint or index) cannot be
    ambiguous: its join is a plain one and the ambiguity query never runs. Otherwise the join
    keeps only values with one row (``MIN`` of the key over a ``COUNT(*) = 1`` group); a key
    type without ``MIN`` (uuid, boolean, binary) takes the ambiguity query first and then a
    plain join."""
    lk = s.lookup
    assert lk is not None
    stage = green.stage_name(target.index)
    name = f"{lk.table.name}.{lk.value}"
    doing = f"look up {name} for green {target.green.name}.{s.green}"
    unique = lk.table.is_unique((lk.value,))
    key_type = parse_type(lk.table.column(lk.key).type, type(green).type_meanings)
    grouped = not unique and key_type.family in _MIN_FAMILIES
    if not unique and not grouped:
        _check_ambiguous(green, target, s, None, doing)
    green.execute(
        green.lookup_resolve_sql(
            lk.table, lk.key, lk.value, stage, lk.stage_column, s.green, unique_only=grouped
        ),
        doing=doing,
    )
    missing_sql = green.lookup_missing_sql(stage, lk.stage_column, s.green, target.key)
    if not _first_rows(green, missing_sql, doing, limit=1):
        return
    if grouped:
        _check_ambiguous(green, target, s, s.green, doing)
    if lk.on_missing == "insert":
        for sql in green.lookup_add_sql(
            lk.table, lk.key, lk.value, stage, lk.stage_column, s.green
        ):
            green.execute(sql, doing=f"insert missing values into {name}")
        log.info("added the staged values lookup table %s lacked", lk.table.name)
        return
    if lk.on_missing != "error":
        return  # null: the key stays NULL
    missing = _first_rows(green, missing_sql, doing)
    blue_of = {c.green: c.blue for c in target.sources if c.blue}
    key_names = [blue_of.get(k, k) for k in target.key]
    shown = "; ".join(
        f"{r[0]!r} (blue row "
        + ", ".join(f"{k}={v!r}" for k, v in zip(key_names, r[1:], strict=True))
        + ")"
        for r in missing[:SHOWN]
    )
    more = " and more" if len(missing) > SHOWN else ""
    raise LookupFailed(
        f"lookup failed{_where(s)}: value(s) of blue column {source.blue.name}.{s.blue} have no "
        f"row in green lookup table {lk.table.name} (column {lk.value}): {shown}{more}; nothing "
        "of this window was applied",
        fix=(
            f"add the value(s) to green's {lk.table.name}, or set on missing to 'insert' or "
            "'null' on the workbook row"
        ),
    )


def _where(s: ColumnSource) -> str:
    return f" [workbook {s.origin}]" if s.origin else ""


def _check_ambiguous(
    green: Dialect, target: Target, s: ColumnSource, unresolved: str | None, doing: str
) -> None:
    """Stop the window when a staged value (``unresolved``: one left without a key in that
    stage column) matches several lookup rows."""
    lk = s.lookup
    assert lk is not None
    stage = green.stage_name(target.index)
    ambiguous = green.query(
        green.lookup_ambiguous_sql(lk.table, lk.value, stage, lk.stage_column, unresolved),
        doing=doing,
    )
    if not ambiguous:
        return
    name = f"{lk.table.name}.{lk.value}"
    shown = ", ".join(f"{v!r} ({n} rows)" for v, n in ambiguous[:SHOWN])
    raise LookupFailed(
        f"lookup table {lk.table.name} has several rows for value(s) of column {lk.value}"
        f"{_where(s)}: {shown}; green {target.green.name}.{s.green} cannot pick one, and nothing "
        "of this window was applied",
        fix=f"make {name} unique on green (delete the duplicates), then run the sync again",
    )


def _first_rows(green: Dialect, sql: str, doing: str, limit: int = 100) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    stream = green.stream(sql, (), limit, doing)
    try:
        for _, chunk in stream:
            rows.extend(chunk)
            break
    finally:
        stream.close()
    return rows[:limit]
