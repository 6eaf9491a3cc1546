"""One sync window, the heart of bluegreen.

1. Lock green's watermark row and read it (a second sync of the same pair waits here).
2. Open ONE snapshot transaction on blue: its current version is the window's upper bound, every
   table's change log must still cover the watermark, and every table's net changes are read
   joined to their current rows (one snapshot keeps foreign keys consistent across tables).
3. Shape each batch with polars and bulk-load it into green's temporary stages (memory stays
   bounded by the batch size however large the backlog). A stage is created only for a table
   that has changed rows, and only such tables get apply statements: an idle window runs none.
4. Apply by state in the same green transaction: upsert parents first, delete facts, then the
   deferred deletes on referenced (dimension) tables, children first; move the watermark and
   write the history row; commit. Any failure rolls back: green stays at its last watermark,
   and re-running the window is harmless because applying by state is idempotent.

Tables that nothing references (facts, usually the big ones) are not staged whole: during the
facts phase each batch is read, staged and applied in turn, in a stage the size of one batch,
so statements stay small however large the backlog. Where the dialects allow it a worker thread
reads blue's next batch while green applies the last (:mod:`bluegreen.sync.prefetch`).

The phases are separate methods so the Prefect flow can show each as a task run; the green
transaction stays open across them and commits once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import polars as pl

from bluegreen.dialects.base import Dialect
from bluegreen.errors import ApplyError, BlueGreenError, ReseedRequired
from bluegreen.sync.diagnose import find_culprit
from bluegreen.sync.plan import PHASES, Phase, Source, Step, SyncPlan
from bluegreen.sync.prefetch import Prefetch
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
        self._staged_targets: set[int] = set()  # stages created (and holding rows) this window
        # per streamed target: the range of the first key column its stage holds now (for
        # bounded applies; see Dialect.apply_key_range), None once a batch had no integer key
        self._bounds: dict[int, tuple[int, int] | None] = {}
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
        """Stream the net changes of every table that is staged whole into green's stages.

        Streamed tables (see :meth:`SyncPlan.streamed`) are read during the facts phase."""
        assert self.since is not None and self.upto is not None
        log.debug("window phase: stage (%s -> %s)", self.since, self.upto)
        try:
            whole = [s for s in self.plan.sources if not self.plan.streamed(s)]
            for source in whole:
                with self._reading(source) as frames:
                    for frame in frames:
                        self._load(source, frame)
            if len(whole) == len(self.plan.sources):
                # Blue's snapshot is no longer needed: release it before the (longer) apply.
                self.blue.rollback()
            for target in self.plan.targets:
                if target.index in self._staged_targets:
                    self.green.analyze_stage(target.index)
            self._finish_lookups(whole)
        except BaseException:
            self.abort()
            raise
        return self.staged

    @contextlib.contextmanager
    def _reading(self, source: Source) -> Iterator[Iterator[pl.DataFrame]]:
        """``source``'s batches as frames, read ahead by a worker where the dialect allows;
        the time spent waiting for them counts as read time."""

        def frames() -> Iterator[pl.DataFrame]:
            assert self.since is not None and self.upto is not None
            for batch in self.blue.read_changes(
                source.blue, self.since, self.upto, self.batch_size
            ):
                yield batch_frame(batch)

        if self.blue.threaded_reads:
            with Prefetch(frames, name=str(source.blue.name)) as ahead:
                yield self._timed(iter(ahead))
        else:
            yield self._timed(frames())

    def _timed(self, frames: Iterator[pl.DataFrame]) -> Iterator[pl.DataFrame]:
        while True:
            t = time.perf_counter()
            frame = next(frames, None)
            self.staged.read_seconds += time.perf_counter() - t
            if frame is None:
                return
            yield frame

    def _load(self, source: Source, frame: pl.DataFrame, streamed: bool = False) -> None:
        """Shape one batch and bulk-load it into its targets' stages (created on first use);
        a ``streamed`` source's stages also track the range of their keys (bounded applies)."""
        assert self.upto is not None
        t = time.perf_counter()
        for target, shaped in self.shaper.shape(source, frame, self.upto):
            if target.index not in self._staged_targets:
                self.green.drop_stage(target.index)
                self.green.create_stage(target.index, target.stage_columns)
                self._staged_targets.add(target.index)
            self.green.load_stage(target.index, target.load_columns, shaped)
            if streamed and self.green.apply_key_range:
                self._widen_bounds(target.index, shaped, target.key)
        self.staged.rows += frame.height
        self.staged.batches += 1
        self.staged.stage_seconds += time.perf_counter() - t

    def _widen_bounds(self, index: int, frame: pl.DataFrame, key: tuple[str, ...]) -> None:
        """Widen target ``index``'s staged key range by ``frame``'s keys."""
        got = _key_range(frame, key)
        if index in self._bounds:
            had = self._bounds[index]
            got = None if had is None or got is None else (min(had[0], got[0]), max(had[1], got[1]))
        self._bounds[index] = got

    def _finish_lookups(self, sources: list[Source]) -> None:
        """A mapping's set-based fixups (lookups) on the loaded stages of ``sources``."""
        finish = getattr(self.shaper, "finish_stage", None)
        staged = [
            replace(s, targets=tuple(t for t in s.targets if t.index in self._staged_targets))
            for s in sources
        ]
        staged = [s for s in staged if s.targets]
        if finish is None or not staged:
            return
        t = time.perf_counter()
        finish(self.green, replace(self.plan, sources=tuple(staged)))
        self.staged.stage_seconds += time.perf_counter() - t

    # ---- phase 3: apply -----------------------------------------------------------------------
    def apply(self, phase: Phase) -> dict[str, TableStats]:
        """Run the plan's steps of ``phase`` against green (inside the window's transaction);
        the facts phase also reads, stages and applies the streamed tables batch by batch."""
        done: dict[str, TableStats] = {}
        t0 = time.perf_counter()
        moved = self.staged.read_seconds + self.staged.stage_seconds
        log.debug("window phase: apply %s", phase)
        try:
            steps = [
                s
                for s in self.plan.steps
                if s.phase == phase and not self.plan.is_streamed(s.target)
            ]
            self._run_steps(steps, done)
            if phase == "facts":
                self._stream(done)
        except BaseException:
            self.abort()
            raise
        finally:
            moved = self.staged.read_seconds + self.staged.stage_seconds - moved
            self.apply_seconds += time.perf_counter() - t0 - moved
        for name, s in done.items():
            self.stats.setdefault(name, TableStats()).add(s)
        return done

    def _run_steps(self, steps: list[Step], done: dict[str, TableStats]) -> None:
        """Run ``steps`` in order, skipping tables with nothing staged this window."""
        for step in steps:
            if step.target not in self._staged_targets:
                continue
            if self.on_step is not None:
                self.on_step(step)
            stats = done.setdefault(str(step.table), TableStats())
            # kept until the commit (a release would cost a round trip per step); a
            # rollback to the name goes to the newest, the one of the failed step
            self.green.savepoint(STEP_SAVEPOINT)
            try:
                self._run(
                    step, stats, self.green.stage_name(step.target), self._bounds.get(step.target)
                )
            except ApplyError as exc:
                raise self._refused(step, exc) from exc

    def _stream(self, done: dict[str, TableStats]) -> None:
        """Read, stage and apply each streamed table in turn, then release blue's snapshot.

        The stage is applied (and emptied) whenever it holds the dialect's
        ``stream_apply_rows``, and once more at the end of the table."""
        streamed = [s for s in self.plan.sources if self.plan.streamed(s)]
        every = max(1, self.green.stream_apply_rows)
        for source in streamed:
            indexes = {t.index for t in source.targets}
            steps = [s for s in self.plan.steps if s.phase == "facts" and s.target in indexes]
            pending = 0
            with self._reading(source) as frames:
                for frame in frames:
                    if pending == 0:
                        for index in indexes & self._staged_targets:
                            self.green.truncate_stage(index)
                            self._bounds.pop(index, None)
                    self._load(source, frame, streamed=True)
                    pending += frame.height
                    if pending >= every:
                        self._apply_stage(source, steps, done)
                        pending = 0
            if pending:
                self._apply_stage(source, steps, done)
        if streamed:
            self.blue.rollback()  # the last read of the window is done

    def _apply_stage(self, source: Source, steps: list[Step], done: dict[str, TableStats]) -> None:
        """Apply what the streamed ``source`` has staged so far."""
        for target in source.targets:
            if target.index in self._staged_targets:
                self.green.analyze_stage(target.index)
        self._finish_lookups([source])
        self._run_steps(steps, done)

    def _run(
        self, step: Step, stats: TableStats, stage: str, bounds: tuple[int, int] | None = None
    ) -> None:
        """Run ``step``'s statements against ``stage`` (the window's, or a narrowed one);
        ``bounds``, the range of the stage's first key column, restricts the target to it."""
        target = self.plan.target(step.target)
        table = target.green
        green = self.green
        doing = f"{step.action} into green table {table.name} ({step.phase})"
        key = target.key
        bounded = bounds is not None
        params = bounds or ()
        if step.action == "insert":
            sql = green.insert_sql(table, stage, target.columns, key, step.nulled, bounded)
            stats.inserts += max(0, green.run_insert(table, sql, doing, params))
        elif step.action == "update":
            cols = [c for c in target.columns if c not in key]
            if cols:
                sql = green.update_sql(table, stage, cols, key, bounded)
                n = max(0, green.execute(sql, params, doing=doing))
                # a cycle's second pass also rewrites the rows its first pass inserted
                stats.updates += n - stats.inserts if step.second_pass else n
        elif step.action == "delete":
            sql = green.delete_sql(table, stage, key, bounded)
            n = max(0, green.execute(sql, params, doing=doing))
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
            for index in sorted(self._staged_targets):
                self.green.drop_stage(index)
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


def _key_range(frame: pl.DataFrame, key: tuple[str, ...]) -> tuple[int, int] | None:
    """The (lowest, highest) first key column of ``frame``, for a bounded apply; None when the
    key is not an integer (a text key's order is the column's collation, which a range
    computed here could contradict) or the frame has no row."""
    col = frame.get_column(key[0]) if key and key[0] in frame.columns else None
    if col is None or not col.dtype.is_integer() or col.len() == 0:
        return None
    lo, hi = col.min(), col.max()
    if lo is None or hi is None:
        return None
    return int(lo), int(hi)  # type: ignore[arg-type]


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
