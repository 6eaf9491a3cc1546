"""Batches as polars frames, shaped from blue's columns into each green target's columns.

The identity shape only selects and renames; the mapping workbook (N, V, T, S, L) plugs in
its own :class:`Shaper` with casts, version columns and split targets.
"""

from __future__ import annotations

from typing import Any, Protocol

import polars as pl

from bluegreen.dialects.base import PRESENT, ChangeBatch, Dialect
from bluegreen.sync.plan import Source, SyncPlan, Target
from bluegreen.watermark import Watermark


def to_frame(columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> pl.DataFrame:
    """Rows from a driver as a frame; a column polars cannot type (mixed values) stays Object."""
    try:
        return pl.DataFrame(rows, schema=list(columns), orient="row", infer_schema_length=None)
    except (TypeError, pl.exceptions.PolarsError, pl.exceptions.PanicException):
        data = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
        series = []
        for name, values in zip(columns, data, strict=True):
            try:
                series.append(pl.Series(name, list(values)))
            except (TypeError, pl.exceptions.PolarsError, pl.exceptions.PanicException):
                series.append(pl.Series(name, list(values), dtype=pl.Object))
        return pl.DataFrame(series)


class Shaper(Protocol):
    """Turns one blue batch into one frame per green target (target columns + __bg_present)."""

    def shape(
        self, source: Source, frame: pl.DataFrame, upto: Watermark
    ) -> list[tuple[Target, pl.DataFrame]]: ...


class StageFinisher(Protocol):
    """Optional second half of a shaper: set-based fixups on green's loaded stages.

    The window calls ``finish_stage`` once, after every batch is staged and before the apply,
    inside green's transaction (the mapping resolves L lookups here with joins on green). A
    shaper without the method is left alone."""

    def finish_stage(self, green: Dialect, plan: SyncPlan) -> None: ...


class IdentityShaper:
    """Select each target's columns from the blue frame; V columns get the window's version."""

    def shape(
        self, source: Source, frame: pl.DataFrame, upto: Watermark
    ) -> list[tuple[Target, pl.DataFrame]]:
        out = []
        for target in source.targets:
            exprs = [
                pl.lit(upto.version, dtype=pl.Int64).alias(s.green)
                if s.version
                else pl.col(s.blue).alias(s.green)
                for s in target.sources
            ]
            out.append((target, frame.select([*exprs, pl.col(PRESENT)])))
        return out


def batch_frame(batch: ChangeBatch) -> pl.DataFrame:
    return to_frame(batch.columns, batch.rows)
