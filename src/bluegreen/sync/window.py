"""One sync window, the heart of bluegreen.

1. Lock green's watermark row and read it (a second sync of the same pair waits here).
2. Open ONE snapshot transaction on blue: its current version is the window's upper bound, every
   table's change log must still cover the watermark, and every table's net changes are read
   joined to their current rows (one snapshot keeps foreign keys consistent across tables).
3. Shape each batch with polars and bulk-load it into green's temporary stages (memory stays
   bounded by the batch size however large the backlog).
4. Apply by state in the same green transaction: upsert parents first, delete facts, then the
   deferred deletes on referenced (dimension) tables, children first; move the watermark and
   write the history row; commit. Any failure rolls back: green stays at its last watermark,
   and re-running the window is harmless because applying by state is idempotent.

The phases are separate methods so the Prefect flow can show each as a task run; the green
transaction stays open across them and commits once.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from bluegreen.dialects.base import Dialect
from bluegreen.errors import ApplyError, BlueGreenError, ReseedRequired
from bluegreen.sync.diagnose import find_culprit
from bluegreen.sync.plan import PHASES, Phase, Step, SyncPlan
from bluegreen.sync.shape import IdentityShaper, Shaper, batch_frame
from bluegreen.sync.state import GreenState, TableStats, WindowRecord
from bluegreen.watermark import Watermark

log = logging.getLogger("bluegreen.sync")

StepHook = Callable[[Step], None]

# the savepoint each apply step runs after: a refused step is undone alone, so the stage can
# still be searched for the offending row before the whole window rolls back
STEP_SAVEPOINT = "bg_step"


@dataclass
class StageStats:
    """What the read and stage phases moved."""

    rows: int = 0
    batches: int = 0
    read_seconds: float = 0.0
    stage_seconds: float = 0.0


class Window:
    """One window from green's watermark to blue's current version, applied atomically."""

    def __init__(
        self,
        blue: Dialect,
        green: Dialect,
        plan: SyncPlan,
        state: GreenState,
        *,
        batch_size: int = 50_000,
        shaper: Shaper | None = None,
        on_step: StepHook | None = None,
    ) -> None:
        self.blue = blue
        self.green = green
        self.plan = plan
        self.state = state
        self.batch_size = batch_size
        self.shaper = shaper or IdentityShaper()
        self.on_step = on_step
        self.since: Watermark | None = None
        self.upto: Watermark | None = None
        self.stats: dict[str, TableStats] = {}
        self.staged = StageStats()
        self.apply_seconds = 0.0
        self._t0 = 0.0
        self._started_at = dt.datetime.now(dt.UTC)
        self._open = False

    # ---- phase 1: fetch (bounds and validity) -------------------------------------------------
    def open(self) -> bool:
        """Lock the watermark, open blue's snapshot; False when blue has nothing new."""
        self._t0 = time.perf_counter()
        self._started_at = dt.datetime.now(dt.UTC)
        log.debug("window phase: fetch")
        self.green.begin()
        self._open = True
        try:
            self.since, _, _ = self.state.read(lock=True)
            self._check_joined_tables()
            self.blue.begin_snapshot()
            self.upto = self.blue.current_watermark()
            if self.upto == self.since:
                self.abort()
                return False
            bad = [
                v
                for v in self.blue.check_valid([s.blue.name for s in self.plan.sources], self.since)
                if not v.valid
            ]
            if bad:
                first = bad[0]
                others = ", ".join(str(v.table) for v in bad[1:])
                detail = first.detail + (f" (also: {others})" if others else "")
                raise ReseedRequired(str(first.table), detail)
        except BaseException:
            self.abort()
            raise
        return True

    def _check_joined_tables(self) -> None:
        """A blue table new to the plan missed every change before the watermark: re-seed it."""
        assert self.since is not None
        if self.since.origin:
            return
        before = self.state.synced_tables()
        if before is None:
            return
        joined = sorted(
            str(s.blue.name) for s in self.plan.sources if str(s.blue.name) not in before
        )
        if joined:
            raise ReseedRequired(
                joined[0],
                f"it joined the sync after green's watermark {self.since} (also new: "
                f"{', '.join(joined[1:]) or 'none'}), so its earlier changes never reached green",
            )

    # ---- phase 2: read blue's changes into green's stages -------------------------------------
    def stage(self) -> StageStats:
        """Stream every table's net changes from the blue snapshot into green's stages."""
        assert self.since is not None and self.upto is not None
        log.debug("window phase: stage (%s -> %s)", self.since, self.upto)
        try:
            for target in self.plan.targets:
                self.green.drop_stage(target.index)
                self.green.create_stage(target.index, target.stage_columns)
            for source in self.plan.sources:
                t = time.perf_counter()
                for batch in self.blue.read_changes(
                    source.blue, self.since, self.upto, self.batch_size
                ):
                    t_loaded = time.perf_counter()
                    self.staged.read_seconds += t_loaded - t
                    frame = batch_frame(batch)
                    for target, shaped in self.shaper.shape(source, frame, self.upto):
                        self.green.load_stage(target.index, target.load_columns, shaped)
                    self.staged.rows += len(batch.rows)
                    self.staged.batches += 1
                    t = time.perf_counter()
                    self.staged.stage_seconds += t - t_loaded
                self.staged.read_seconds += time.perf_counter() - t
            # Blue's snapshot is no longer needed: release it before the (longer) apply.
            self.blue.rollback()
            for target in self.plan.targets:
                self.green.analyze_stage(target.index)
            # A mapping's set-based fixups on the loaded stages (lookups), before any apply.
            finish = getattr(self.shaper, "finish_stage", None)
            if finish is not None:
                t = time.perf_counter()
                finish(self.green, self.plan)
                self.staged.stage_seconds += time.perf_counter() - t
        except BaseException:
            self.abort()
            raise
        return self.staged

    # ---- phase 3: apply -----------------------------------------------------------------------
    def apply(self, phase: Phase) -> dict[str, TableStats]:
        """Run the plan's steps of ``phase`` against green (inside the window's transaction)."""
        done: dict[str, TableStats] = {}
        t0 = time.perf_counter()
        log.debug("window phase: apply %s", phase)
        try:
            for step in self.plan.steps:
                if step.phase != phase:
                    continue
                if self.on_step is not None:
                    self.on_step(step)
                stats = done.setdefault(str(step.table), TableStats())
                # kept until the commit (a release would cost a round trip per step); a
                # rollback to the name goes to the newest, the one of the failed step
                self.green.savepoint(STEP_SAVEPOINT)
                try:
                    self._run(step, stats, self.green.stage_name(step.target))
                except ApplyError as exc:
                    raise self._refused(step, exc) from exc
        except BaseException:
            self.abort()
            raise
        finally:
            self.apply_seconds += time.perf_counter() - t0
        for name, s in done.items():
            self.stats.setdefault(name, TableStats()).add(s)
        return done

    def _run(self, step: Step, stats: TableStats, stage: str) -> None:
        """Run ``step``'s statements against ``stage`` (the window's, or a narrowed one)."""
        target = self.plan.target(step.target)
        table = target.green
        green = self.green
        doing = f"{step.action} into green table {table.name} ({step.phase})"
        key = target.key
        if step.action == "insert":
            green.execute(green.mark_new_sql(table, stage, key), doing=doing)
            sql = green.insert_sql(table, stage, target.columns, step.nulled)
            stats.inserts += max(0, green.run_insert(table, sql, doing))
        elif step.action == "update":
            cols = [c for c in target.columns if c not in key]
            if cols:
                sql = green.update_sql(table, stage, cols, key, include_new=step.second_pass)
                n = max(0, green.execute(sql, doing=doing))
                # a cycle's second pass also rewrites the rows its first pass inserted
                stats.updates += n - stats.inserts if step.second_pass else n
        elif step.action == "delete":
            n = max(0, green.execute(green.delete_sql(table, stage, key), doing=doing))
            if step.phase == "deferred_deletes":
                stats.deferred_deletes += n
            else:
                stats.deletes += n
        elif step.action == "unlink":
            green.execute(green.unlink_sql(table, stage, step.nulled, key), doing=doing)

    def _refused(self, step: Step, exc: ApplyError) -> ApplyError:
        """The error for a step green refused, naming the table and the offending row's key.

        The step is undone alone (its savepoint), the stage searched for the row it refuses
        (see :mod:`bluegreen.sync.diagnose`); the caller then rolls the whole window back."""
        target = self.plan.target(step.target)
        stage = self.green.stage_name(step.target)
        culprit = None
        try:
            self.green.rollback_to_savepoint(STEP_SAVEPOINT)
        except BlueGreenError as err:  # an engine that dooms the transaction on any error
            log.debug("no offending-row search: %s", err)
        else:
            culprit = find_culprit(
                self.green,
                stage,
                target.key,
                step.action in ("delete", "unlink"),
                lambda: self._run(step, TableStats(), stage),
            )
        row = f"; {culprit.describe(target.key)}" if culprit is not None else ""
        return ApplyError(
            f"green refused the window's rows for table {target.green.name} during {step.action} "
            f"({step.phase}): {exc.message}{row}; the window was rolled back and green stays at "
            f"watermark {self.since}",
            fix=(
                "compare the row named above on blue and green: a green-only constraint "
                "(CHECK, UNIQUE, NOT NULL, FK) or a narrower type refuses it; relax it or map "
                "the column in the workbook, then run the sync again"
            ),
        )

    # ---- phase 4: commit ----------------------------------------------------------------------
    def commit(self) -> WindowRecord:
        """Move the watermark, record history (if rows moved) and commit green's transaction."""
        assert self.since is not None and self.upto is not None
        log.debug("window phase: commit")
        try:
            finished = dt.datetime.now(dt.UTC)
            history = self.staged.rows > 0
            record = WindowRecord(
                window_id=self.state.next_window_id(),
                from_mark=self._chain_start() if history else self.since,
                to_mark=self.upto,
                started_at=self._started_at,
                finished_at=finished,
                read_seconds=self.staged.read_seconds,
                apply_seconds=self.apply_seconds + self.staged.stage_seconds,
                total_seconds=time.perf_counter() - self._t0,
                tables=dict(self.stats),
                mapping_fingerprint=self.plan.mapping_fingerprint,
                changes=self.staged.rows,
            )
            self.state.write(
                record,
                self.plan.green_fingerprint,
                history=history,
                tables=[str(s.blue.name) for s in self.plan.sources],
            )
            for target in self.plan.targets:
                self.green.drop_stage(target.index)
            self.green.commit()
            self._open = False
        except BaseException:
            self.abort()
            raise
        if self.staged.rows:
            log.info(record.summary())
        else:
            log.debug("window %s -> %s: no changes", self.since, self.upto)
        return record

    def _chain_start(self) -> Watermark:
        """Where this window's history row starts: where the last recorded window ended.

        A window that finds no changed row moves the watermark without writing history (on
        PostgreSQL the snapshot moves with every transaction of the cluster, so most idle
        windows do). Its range held no change, so the next recorded window takes it over:
        recorded windows then chain (each starts where the previous one ended) and the history
        shows every range of blue's change stream exactly once. A watermark set back behind the
        last recorded window (by hand) keeps its own start, so the overlap shows."""
        assert self.since is not None
        last = self.state.last_recorded()
        if last is None or self.since < last:
            return self.since
        return last

    def abort(self) -> None:
        """Roll back both sides; green keeps its previous watermark."""
        if self._open:
            self.green.rollback()
            self.blue.rollback()
            self._open = False

    def run(self) -> WindowRecord | None:
        """All phases in order; None when blue had nothing new."""
        if not self.open():
            return None
        self.stage()
        for phase in PHASES:
            self.apply(phase)
        return self.commit()


def run_window(
    blue: Dialect,
    green: Dialect,
    plan: SyncPlan,
    state: GreenState,
    *,
    batch_size: int = 50_000,
    shaper: Shaper | None = None,
    on_step: StepHook | None = None,
) -> WindowRecord | None:
    """Run one complete window; see :class:`Window`."""
    try:
        return Window(
            blue, green, plan, state, batch_size=batch_size, shaper=shaper, on_step=on_step
        ).run()
    except BlueGreenError:
        raise
