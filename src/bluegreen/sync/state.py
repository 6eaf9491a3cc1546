"""Green's state: the watermark row and the window history, written with the window's rows.

The DML is the same on every engine up to quoting, placeholders and the row-lock clause, so it
is built here once from the dialect; the DDL (types differ) lives in sql/<dialect>/green_state.sql.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from bluegreen.dialects.base import Dialect
from bluegreen.watermark import Watermark


@dataclass
class TableStats:
    """What one window did to one green table."""

    inserts: int = 0
    updates: int = 0
    deletes: int = 0
    deferred_deletes: int = 0

    @property
    def total(self) -> int:
        return self.inserts + self.updates + self.deletes + self.deferred_deletes

    def add(self, other: TableStats) -> None:
        self.inserts += other.inserts
        self.updates += other.updates
        self.deletes += other.deletes
        self.deferred_deletes += other.deferred_deletes


@dataclass
class WindowRecord:
    """One applied window as green's history keeps it."""

    window_id: int
    from_mark: Watermark
    to_mark: Watermark
    started_at: dt.datetime
    finished_at: dt.datetime
    read_seconds: float
    apply_seconds: float
    total_seconds: float
    tables: dict[str, TableStats] = field(default_factory=dict)
    mapping_fingerprint: str | None = None
    changes: int = 0  # changed keys read from blue (rows staged)

    @property
    def totals(self) -> TableStats:
        out = TableStats()
        for s in self.tables.values():
            out.add(s)
        return out

    def summary(self) -> str:
        """The console line of the original tool: inserts, updates, deletes (deferred)."""
        t = self.totals
        deletes = t.deletes + t.deferred_deletes
        return (
            f"window {self.from_mark} -> {self.to_mark}: {t.inserts} inserts, {t.updates} updates, "
            f"{deletes} ({t.deferred_deletes}) deletes in {self.total_seconds:.2f} s"
        )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class GreenState:
    """Reads and writes green's state tables through a dialect."""

    def __init__(self, green: Dialect, stream: str = "default") -> None:
        self.db = green
        self.stream = stream
        self.t_watermark = green.own("watermark")
        self.t_history = green.own("history")
        self.t_tables = green.own("history_tables")

    def install(self) -> None:
        """Create the state tables and this stream's watermark row (at origin) if missing."""
        db = self.db
        with db.transaction():
            db.install_state()
            rows = db.query(
                f"SELECT 1 FROM {self.t_watermark} WHERE stream = {db.placeholder()}",
                [self.stream],
            )
            if not rows:
                start = Watermark.start()
                db.execute(
                    f"INSERT INTO {self.t_watermark} (stream, version, position, updated_at) "
                    f"VALUES ({db.placeholder(4)})",
                    [self.stream, start.version, start.dumps(), _now().isoformat()],
                    doing="create the watermark row",
                )

    def installed(self) -> bool:
        try:
            self.db.query(f"SELECT 1 FROM {self.t_watermark} WHERE 1 = 0")
        except Exception:
            self.db.rollback()
            return False
        return True

    def read(self, lock: bool = False) -> tuple[Watermark, str | None, str | None]:
        """(watermark, mapping fingerprint, schema fingerprint); ``lock`` holds the row."""
        db = self.db
        sql = (
            db.lock_row_sql(
                ["position", "mapping_fingerprint", "schema_fingerprint"],
                self.t_watermark,
                f"stream = {db.placeholder()}",
            )
            if lock
            else (
                f"SELECT position, mapping_fingerprint, schema_fingerprint FROM {self.t_watermark} "
                f"WHERE stream = {db.placeholder()}"
            )
        )
        rows = db.query(sql, [self.stream], doing="read green's watermark")
        if not rows:
            return Watermark.start(), None, None
        position, mapping_fp, schema_fp = rows[0]
        return Watermark.loads(position), mapping_fp, schema_fp

    def synced_tables(self) -> set[str] | None:
        """The blue tables the watermark covers (None before the first window recorded them).

        A table that joins the sync later missed every change before the watermark; the window
        compares this set with its plan and asks for a re-seed instead of leaving a silent gap.
        """
        db = self.db
        rows = db.query(
            f"SELECT synced_tables FROM {self.t_watermark} WHERE stream = {db.placeholder()}",
            [self.stream],
        )
        if not rows or rows[0][0] is None:
            return None
        return set(json.loads(rows[0][0]))

    def write(
        self,
        record: WindowRecord,
        schema_fingerprint: str | None,
        history: bool = True,
        tables: list[str] | None = None,
    ) -> None:
        """Move the watermark and (for a window that changed something) add its history."""
        db = self.db
        ph = db.placeholder()
        db.execute(
            f"UPDATE {self.t_watermark} SET version = {ph}, position = {ph}, "
            f"mapping_fingerprint = {ph}, schema_fingerprint = {ph}, updated_at = {ph}, "
            f"synced_tables = COALESCE({ph}, synced_tables) WHERE stream = {ph}",
            [
                record.to_mark.version,
                record.to_mark.dumps(),
                record.mapping_fingerprint,
                schema_fingerprint,
                record.finished_at.isoformat(),
                json.dumps(sorted(tables)) if tables is not None else None,
                self.stream,
            ],
            doing="move the watermark",
        )
        if not history:
            return
        t = record.totals
        db.execute(
            f"INSERT INTO {self.t_history} (window_id, stream, from_version, to_version, "
            "from_position, to_position, started_at, finished_at, read_seconds, apply_seconds, "
            "total_seconds, inserts, updates, deletes, deferred_deletes, mapping_fingerprint) "
            f"VALUES ({db.placeholder(16)})",
            [
                record.window_id,
                self.stream,
                record.from_mark.version,
                record.to_mark.version,
                record.from_mark.dumps(),
                record.to_mark.dumps(),
                record.started_at.isoformat(),
                record.finished_at.isoformat(),
                record.read_seconds,
                record.apply_seconds,
                record.total_seconds,
                t.inserts,
                t.updates,
                t.deletes,
                t.deferred_deletes,
                record.mapping_fingerprint,
            ],
            doing="record the window in history",
        )
        for name, s in sorted(record.tables.items()):
            db.execute(
                f"INSERT INTO {self.t_tables} (window_id, table_name, inserts, updates, deletes, "
                f"deferred_deletes) VALUES ({db.placeholder(6)})",
                [record.window_id, name, s.inserts, s.updates, s.deletes, s.deferred_deletes],
                doing="record per-table history",
            )

    def last_recorded(self) -> Watermark | None:
        """Where this stream's last recorded window ended (None: no window recorded yet)."""
        db = self.db
        ph = db.placeholder()
        rows = db.query(
            f"SELECT to_position FROM {self.t_history} WHERE stream = {ph} AND window_id = "
            f"(SELECT MAX(window_id) FROM {self.t_history} WHERE stream = {ph})",
            [self.stream, self.stream],
            doing="read the end of green's last recorded window",
        )
        return Watermark.loads(rows[0][0]) if rows else None

    def next_window_id(self) -> int:
        rows = self.db.query(f"SELECT COALESCE(MAX(window_id), 0) + 1 FROM {self.t_history}")
        return int(rows[0][0])

    # ---- reading history (status, stats) ------------------------------------------------------
    def last_window(self) -> dict | None:
        db = self.db
        rows = db.query(
            f"SELECT window_id, from_version, to_version, finished_at, inserts, updates, deletes, "
            f"deferred_deletes, total_seconds FROM {self.t_history} WHERE stream = "
            f"{db.placeholder()} ORDER BY window_id DESC",
            [self.stream],
        )
        if not rows:
            return None
        keys = (
            "window_id",
            "from_version",
            "to_version",
            "finished_at",
            "inserts",
            "updates",
            "deletes",
            "deferred_deletes",
            "total_seconds",
        )
        return dict(zip(keys, rows[0], strict=True))

    def totals(self) -> dict:
        db = self.db
        rows = db.query(
            f"SELECT COUNT(*), COALESCE(SUM(inserts), 0), COALESCE(SUM(updates), 0), "
            f"COALESCE(SUM(deletes), 0), COALESCE(SUM(deferred_deletes), 0), "
            f"COALESCE(SUM(total_seconds), 0), MIN(started_at), MAX(finished_at) "
            f"FROM {self.t_history} WHERE stream = {db.placeholder()}",
            [self.stream],
        )
        keys = (
            "windows",
            "inserts",
            "updates",
            "deletes",
            "deferred_deletes",
            "seconds",
            "first_started_at",
            "last_finished_at",
        )
        return dict(zip(keys, rows[0], strict=True))

    def table_totals(self) -> list[dict]:
        db = self.db
        rows = db.query(
            f"SELECT t.table_name, COUNT(*), SUM(t.inserts), SUM(t.updates), SUM(t.deletes), "
            f"SUM(t.deferred_deletes) FROM {self.t_tables} AS t JOIN {self.t_history} AS h "
            f"ON h.window_id = t.window_id WHERE h.stream = {db.placeholder()} "
            f"GROUP BY t.table_name ORDER BY t.table_name",
            [self.stream],
        )
        keys = ("table", "windows", "inserts", "updates", "deletes", "deferred_deletes")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def history(self, limit: int = 100) -> list[dict]:
        db = self.db
        rows = db.query(
            f"SELECT window_id, from_version, to_version, inserts, updates, deletes, "
            f"deferred_deletes, total_seconds, mapping_fingerprint FROM {self.t_history} "
            f"WHERE stream = {db.placeholder()} ORDER BY window_id DESC",
            [self.stream],
        )[:limit]
        keys = (
            "window_id",
            "from_version",
            "to_version",
            "inserts",
            "updates",
            "deletes",
            "deferred_deletes",
            "total_seconds",
            "mapping_fingerprint",
        )
        return [dict(zip(keys, r, strict=True)) for r in rows]
