"""The mapping plan builder: workbook + both live schemas -> (SyncPlan, MappingShaper).

Give it to the runner (``Syncer(blue, green, plan_builder=MappingPlanBuilder(path))``). It loads
and lints the workbook against the two introspected schemas each time it builds; an invalid
workbook raises :class:`MappingError` listing every finding, before any window opens. Its
``stale()`` compares the file's content hash with the one it built from, so the runner rebuilds
(and re-checks) the plan when someone edits the workbook between windows.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping as MappingType
from collections.abc import Sequence
from pathlib import Path

from bluegreen.dialects.base import Dialect
from bluegreen.errors import ConfigError
from bluegreen.mapping.compile import Compiled, compile_mapping
from bluegreen.mapping.model import Mapping, MappingError
from bluegreen.mapping.shape import MappingShaper
from bluegreen.mapping.workbook import file_hash, load_mapping
from bluegreen.schema import Schema, TableName
from bluegreen.sync.plan import SyncPlan, assemble

log = logging.getLogger("bluegreen.mapping")


def check_mapping(
    mapping: Mapping,
    blue: Schema,
    green: Schema,
    *,
    tracked: Sequence[TableName] | None = None,
    tables: Sequence[str] | None = None,
    blue_meanings: MappingType[str, str] | None = None,
    green_meanings: MappingType[str, str] | None = None,
) -> Compiled:
    """Every finding of ``mapping`` against the two schemas (and the sources, when valid)."""
    return compile_mapping(
        mapping,
        blue,
        green,
        tracked=tracked,
        tables=tables,
        blue_meanings=blue_meanings,
        green_meanings=green_meanings,
    )


def build_mapped_plan(
    mapping: Mapping,
    blue: Schema,
    green: Schema,
    tracked: Sequence[TableName] | None,
    *,
    tables: Sequence[str] | None = None,
    blue_meanings: MappingType[str, str] | None = None,
    green_meanings: MappingType[str, str] | None = None,
) -> tuple[SyncPlan, MappingShaper]:
    """The plan and shaper for ``mapping``; MappingError (every finding) when it is invalid."""
    compiled = check_mapping(
        mapping,
        blue,
        green,
        tracked=tracked,
        tables=tables,
        blue_meanings=blue_meanings,
        green_meanings=green_meanings,
    )
    if compiled.errors:
        raise MappingError(mapping.source, compiled.findings)
    for w in compiled.warnings:
        log.warning("mapping %s", w.line())
    plan = assemble(compiled.sources, green, compiled.skipped, mapping.fingerprint)
    return plan, MappingShaper(green_meanings)


class MappingPlanBuilder:
    """A ``PlanBuilder`` for :class:`~bluegreen.sync.runner.Syncer` driven by a workbook."""

    def __init__(self, workbook: str | Path, *, tables: Sequence[str] | None = None) -> None:
        self.path = Path(workbook)
        self.tables = list(tables) if tables else None
        self.mapping: Mapping | None = None
        self.built_hash: str | None = None

    def __call__(self, blue: Dialect, green: Dialect) -> tuple[SyncPlan, MappingShaper]:
        mapping = load_mapping(self.path)
        blue_schema = blue.introspect()
        green_schema = green.introspect()
        tracked = blue.tracked_tables()
        if self.tables:
            tracked_set = set(tracked)
            for text in self.tables:
                t = blue_schema.table(text)
                if t.name not in tracked_set:
                    raise ConfigError(
                        f"table {t.name} is not tracked on blue",
                        fix=f"run `bluegreen tracking enable --db <blue url> --table {t.name}`",
                    )
        plan, shaper = build_mapped_plan(
            mapping,
            blue_schema,
            green_schema,
            tracked,
            tables=self.tables,
            blue_meanings=type(blue).type_meanings,
            green_meanings=type(green).type_meanings,
        )
        # Only a plan that was built counts: after an invalid edit every window re-checks.
        self.mapping = mapping
        self.built_hash = mapping.content_hash
        log.info(
            "mapping %s loaded: %d row(s), fingerprint %s",
            self.path,
            len(mapping.mapped),
            mapping.fingerprint,
        )
        return plan, shaper

    def stale(self) -> bool:
        """True when the workbook's bytes differ from the ones the current plan was built from."""
        try:
            data = self.path.read_bytes()
        except OSError:
            return True
        return file_hash(data) != self.built_hash
