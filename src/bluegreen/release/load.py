"""The initial load: fill an existing, empty green from blue through the sync plan.

The alternative to a copy when green already exists with its own schema (a mapping workbook
between the two) or when a copy would black out blue (PostgreSQL's TEMPLATE copy). Rows go
through the same column sources and shaper as the sync (renames, casts, lookups, splits), in
bounded batches, each batch its own green transaction, so memory stays flat and a progress
callback can report per table.

Consistency: every blue table is read inside ONE snapshot transaction, and the baseline
watermark is read first inside that same snapshot. So the loaded rows are exactly blue as of
the baseline (foreign keys consistent across tables), and the first sync after the load
replays from the baseline: the overlap with anything committed meanwhile is applied by state,
which is idempotent.

Order: targets are loaded parents first (green's foreign keys). Tables in a foreign-key cycle
(or referencing themselves) are loaded with their nullable cycle columns NULL, and a second
pass over the same snapshot fills those columns once every row exists. A cycle through NOT NULL
columns can only load if each batch happens to hold parents before children; it is reported as
an ApplyError naming the table otherwise.

Loading is idempotent too (insert the keys green lacks, update the others), so an interrupted
load can simply run again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bluegreen.dialects.base import PRESENT, Dialect
from bluegreen.errors import ConfigError
from bluegreen.sync.plan import Source, SyncPlan, Target
from bluegreen.sync.shape import IdentityShaper, Shaper, to_frame
from bluegreen.watermark import Watermark

log = logging.getLogger("bluegreen.release")


@dataclass
class LoadProgress:
    """One step of the load, for a progress artifact: a table's rows so far of its total."""

    table: str
    green_tables: tuple[str, ...]
    rows: int
    total: int
    batches: int
    seconds: float
    done: bool = False
    second_pass: bool = False

    @property
    def fraction(self) -> float:
        return 1.0 if self.total == 0 else min(1.0, self.rows / self.total)


ProgressFn = Callable[[LoadProgress], None]


@dataclass
class LoadReport:
    """What the load did: the baseline it is consistent with and the rows per blue table."""

    baseline: Watermark
    rows: dict[str, int] = field(default_factory=dict)
    batches: int = 0
    seconds: float = 0.0
    cleared: list[str] = field(default_factory=list)


def cycle_columns(plan: SyncPlan, target: Target) -> tuple[str, ...]:
    """Nullable columns of ``target`` that point inside its own FK cycle (first pass: NULL)."""
    group = plan.order.group_of(target.green.name)
    if not group.cyclic:
        return ()
    members = set(group.tables)
    cols = {
        c
        for fk in target.green.foreign_keys
        if fk.ref_table in members
        for c in fk.columns
        if c in target.columns and target.green.column(c).nullable
    }
    return tuple(sorted(cols))


def _source_order(plan: SyncPlan) -> list[Source]:
    rank = {name: i for i, name in enumerate(plan.order.parents_first)}
    return sorted(
        plan.sources, key=lambda s: min((rank.get(t.green.name, 0) for t in s.targets), default=0)
    )


class InitialLoad:
    """Loads green from blue through ``plan``; see the module docstring."""

    def __init__(
        self,
        blue: Dialect,
        green: Dialect,
        plan: SyncPlan,
        shaper: Shaper | None = None,
        *,
        batch_size: int = 50_000,
        on_progress: ProgressFn | None = None,
    ) -> None:
        self.blue = blue
        self.green = green
        self.plan = plan
        self.shaper = shaper or IdentityShaper()
        self.batch_size = batch_size
        self.on_progress = on_progress

    def check_empty(self, clear: bool) -> list[str]:
        """Refuse a green whose target tables hold rows, unless ``clear`` (then empty them,
        children first). Returns the tables that were cleared."""
        g = self.green
        counts = {
            t.green.name: int(g.query(f"SELECT count(*) FROM {g.qualify(t.green.name)}")[0][0])
            for t in self.plan.targets
        }
        full = [n for n, c in counts.items() if c]
        if not full:
            return []
        if not clear:
            names = ", ".join(str(n) for n in full)
            raise ConfigError(
                f"green already holds rows in {names}: an initial load expects empty tables",
                fix="empty them (or pass clear=True to have the load do it), or copy blue instead",
            )
        cleared = []
        with g.transaction():
            for name in self.plan.order.children_first:
                if name in full:
                    g.execute(f"DELETE FROM {g.qualify(name)}", doing=f"clear green table {name}")
                    cleared.append(str(name))
        return cleared

    def run(self, clear: bool = False) -> LoadReport:
        t0 = time.perf_counter()
        cleared = self.check_empty(clear)
        for target in self.plan.targets:
            self.green.drop_stage(target.index)
            self.green.create_stage(target.index, target.stage_columns)
        blue = self.blue
        try:
            blue.begin_snapshot()
            baseline = blue.current_watermark()
            report = LoadReport(baseline=baseline, cleared=cleared)
            cyclic: list[Source] = []
            for source in _source_order(self.plan):
                if any(cycle_columns(self.plan, t) for t in source.targets):
                    cyclic.append(source)
                self._load(source, baseline, report, second_pass=False)
            for source in cyclic:
                self._load(source, baseline, report, second_pass=True)
        finally:
            blue.rollback()
            self.green.rollback()
            for target in self.plan.targets:
                self.green.drop_stage(target.index)
        report.seconds = time.perf_counter() - t0
        return report

    def _select(self, source: Source) -> str:
        b = self.blue
        cols = [b.quote(c.name) for c in source.blue.writable_columns]
        return (
            f"SELECT {', '.join(cols)}, 1 AS {b.quote(PRESENT)} FROM {b.qualify(source.blue.name)}"
        )

    def _load(
        self, source: Source, baseline: Watermark, report: LoadReport, second_pass: bool
    ) -> None:
        b, g = self.blue, self.green
        name = str(source.blue.name)
        total = int(b.query(f"SELECT count(*) FROM {b.qualify(source.blue.name)}")[0][0])
        rows = batches = 0
        t0 = time.perf_counter()
        finish = getattr(self.shaper, "finish_stage", None)
        greens = tuple(str(t.green.name) for t in source.targets)

        def progress(done: bool) -> None:
            if self.on_progress is not None:
                seconds = time.perf_counter() - t0
                self.on_progress(
                    LoadProgress(
                        name, greens, rows, total, batches, seconds, done, second_pass=second_pass
                    )
                )

        for names, chunk in b.stream(
            self._select(source), (), self.batch_size, doing=f"read blue table {name} for the load"
        ):
            frame = to_frame(names, chunk)
            g.begin()
            try:
                # every stage starts empty: the shaper's lookup pass reads them all
                for target in self.plan.targets:
                    g.execute(
                        f"DELETE FROM {g.stage_name(target.index)}", doing="empty the load stage"
                    )
                for target, shaped in self.shaper.shape(source, frame, baseline):
                    g.load_stage(target.index, target.load_columns, shaped)
                if finish is not None:
                    finish(g, self.plan)
                for target in self._parents_first(source):
                    self._apply(target, second_pass)
                g.commit()
            except BaseException:
                g.rollback()
                raise
            rows += len(chunk)
            batches += 1
            progress(False)
        if not second_pass:
            report.rows[name] = rows
        report.batches += batches
        progress(True)
        log.info(
            "loaded %s: %d row(s) in %d batch(es)%s",
            name,
            rows,
            batches,
            " (second pass: cycle columns)" if second_pass else "",
        )

    def _parents_first(self, source: Source) -> list[Target]:
        rank = {n: i for i, n in enumerate(self.plan.order.parents_first)}
        return sorted(source.targets, key=lambda t: rank.get(t.green.name, 0))

    def _apply(self, target: Target, second_pass: bool) -> None:
        g = self.green
        table = target.green
        stage = g.stage_name(target.index)
        key = target.key
        cyc = cycle_columns(self.plan, target)
        doing = f"load green table {table.name}"
        if second_pass:
            if cyc:
                g.execute(g.update_sql(table, stage, list(cyc), key), doing=doing)
            return
        # update first: it touches only rows green has; the insert then adds the missing keys
        cols = [c for c in target.columns if c not in key and c not in cyc]
        if cols:
            g.execute(g.update_sql(table, stage, cols, key), doing=doing)
        g.run_insert(table, g.insert_sql(table, stage, target.columns, key, cyc), doing)


def initial_load(
    blue: Dialect,
    green: Dialect,
    plan: SyncPlan,
    shaper: Shaper | None = None,
    *,
    batch_size: int = 50_000,
    clear: bool = False,
    on_progress: ProgressFn | None = None,
) -> LoadReport:
    """Load an empty green from blue through ``plan`` (see the module docstring)."""
    return InitialLoad(
        blue, green, plan, shaper, batch_size=batch_size, on_progress=on_progress
    ).run(clear=clear)
