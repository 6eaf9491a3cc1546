"""SQLite: the embedded default (demo, quick start, fast tests).

Change tracking is emulated: row triggers bump a one-row clock and append the changed key to a
per-table log. SQLite has one writer at a time, so clock order is commit order, and a window is
(last version, clock value read inside the sync's read transaction].
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import json
import os
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any, ClassVar

from pydantic import SecretStr

from bluegreen.dialects.base import PRESENT, ChangeBatch, Dialect, TableValidity
from bluegreen.errors import ApplyError, BlueGreenError, ConfigError, TerminalError, TransientError
from bluegreen.schema import Column, ForeignKey, Schema, Table, TableName
from bluegreen.watermark import Watermark

_TRANSIENT_MARKERS = ("database is locked", "database table is locked", "busy")


def _register_adapters() -> None:
    """Values sqlite3 cannot bind by itself, stored as the text SQLite's affinities expect.

    Decimals (a T cast to NUMERIC produces them) keep their exact digits as text; dates and
    times are ISO 8601 (Python 3.12 deprecates sqlite3's implicit datetime adapters).
    """
    sqlite3.register_adapter(decimal.Decimal, str)
    sqlite3.register_adapter(dt.date, lambda v: v.isoformat())
    sqlite3.register_adapter(dt.datetime, lambda v: v.isoformat(" "))
    sqlite3.register_adapter(dt.time, lambda v: v.isoformat())


_register_adapters()


def sqlite_path(url: str) -> str:
    """``sqlite:///relative.db`` -> ``relative.db``; ``sqlite:////abs.db`` -> ``/abs.db``."""
    if not url.startswith("sqlite://"):
        raise ConfigError(
            f"not a SQLite URL: {url.split(':', 1)[0]}://...",
            fix="write sqlite:///path/to/file.db (three slashes, four for an absolute path)",
        )
    path = url[len("sqlite://") :]
    if path.startswith("/"):
        path = path[1:]
    if not path:
        raise ConfigError("SQLite URL has no file path", fix="write sqlite:///path/to/file.db")
    return path.split("?", 1)[0]


class SQLiteDialect(Dialect):
    """SQLite through the standard library's sqlite3."""

    name: ClassVar[str] = "sqlite"
    supports_schemas: ClassVar[bool] = False
    default_schema: ClassVar[str | None] = None
    paramstyle: ClassVar[str] = "qmark"
    # SQLite stores every INTEGER as up to 64 bits, whatever width the declaration suggests.
    type_meanings: ClassVar[dict[str, str]] = {"integer": "bigint", "int": "bigint"}
    # SQLite joins by index lookups, so a stage the size of one batch costs no table scan
    stream_apply_rows: ClassVar[int] = 1
    # opened with check_same_thread=False, and sqlite3 releases the GIL inside each step
    threaded_reads: ClassVar[bool] = True
    # BEGIN IMMEDIATE already holds the database's write lock; SQLite has no row locks.
    row_lock_suffix: ClassVar[str] = ""

    @classmethod
    def connect(cls, url: SecretStr) -> SQLiteDialect:
        path = sqlite_path(url.get_secret_value())
        try:
            conn = sqlite3.connect(
                path, isolation_level=None, timeout=30.0, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise ConfigError(
                f"cannot open SQLite database {path}: {exc}",
                fix="check that the folder exists and is writable",
            ) from exc
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA foreign_keys = ON")
        # INSERT OR REPLACE must fire delete triggers, or the change log misses the row it removed.
        conn.execute("PRAGMA recursive_triggers = ON")
        conn.execute("PRAGMA synchronous = NORMAL")
        dialect = cls(conn, url)
        dialect.path = path
        return dialect

    def describe(self) -> str:
        return f"sqlite:{getattr(self, 'path', '?')}"

    # ---- errors -------------------------------------------------------------------------------
    def classify(self, exc: BaseException, doing: str) -> BlueGreenError:
        text = str(exc)
        if isinstance(exc, sqlite3.OperationalError) and any(
            m in text.lower() for m in _TRANSIENT_MARKERS
        ):
            return TransientError(
                f"sqlite: {doing}: {text}",
                fix="another process holds the database lock; the next attempt will wait again",
            )
        if isinstance(exc, sqlite3.IntegrityError):
            return ApplyError(f"sqlite: {doing}: {text}")
        return TerminalError(f"sqlite: {doing}: {text}")

    # ---- transactions -------------------------------------------------------------------------
    def begin(self) -> None:
        # IMMEDIATE takes the write lock now, so a window never fails half-way on SQLITE_BUSY.
        self.execute("BEGIN IMMEDIATE", doing="begin")
        self._in_tx = True

    def begin_snapshot(self) -> None:
        # A deferred transaction: its first read fixes a WAL snapshot for every later read.
        self.execute("BEGIN", doing="begin read")
        self._in_tx = True

    def commit(self) -> None:
        if self.conn.in_transaction:
            self.execute("COMMIT", doing="commit")
        self._in_tx = False

    def rollback(self) -> None:
        with contextlib.suppress(Exception):
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
        self._in_tx = False

    # ---- introspection ------------------------------------------------------------------------
    def server_version(self) -> str:
        return self.query(self.sql("introspect", "version"))[0][0]

    def introspect(self) -> Schema:
        schema = Schema(default_schema=None)
        for (tname,) in self.query(self.sql("introspect", "tables"), doing="list tables"):
            cols: list[Column] = []
            pk: list[tuple[int, str]] = []
            for name, typ, notnull, pkpos, hidden in self.query(
                self.sql("introspect", "columns"), [tname], doing=f"columns of {tname}"
            ):
                cols.append(
                    Column(
                        name=name,
                        type=typ or "",
                        nullable=not notnull and not pkpos,
                        generated=hidden in (2, 3),
                    )
                )
                if pkpos:
                    pk.append((pkpos, name))
            fks: dict[int, list[tuple[str, str, str | None]]] = {}
            for fid, _seq, ref, frm, to in self.query(
                self.sql("introspect", "foreign_keys"), [tname], doing=f"foreign keys of {tname}"
            ):
                fks.setdefault(fid, []).append((ref, frm, to))
            name = TableName(None, tname)
            schema.tables[name] = Table(
                name=name,
                columns=tuple(cols),
                primary_key=tuple(n for _, n in sorted(pk)),
                unique_keys=self._unique_keys(tname),
                foreign_keys=tuple(
                    ForeignKey(
                        name=f"fk_{tname}_{fid}",
                        columns=tuple(frm for _, frm, _ in parts),
                        ref_table=TableName(None, parts[0][0]),
                        ref_columns=tuple(to or "" for _, _, to in parts),
                    )
                    for fid, parts in sorted(fks.items())
                ),
            )
        # An FK that names no target columns means the referenced table's primary key.
        for name, table in list(schema.tables.items()):
            fixed = []
            for fk in table.foreign_keys:
                if any(not c for c in fk.ref_columns) and fk.ref_table in schema.tables:
                    fk = ForeignKey(
                        fk.name, fk.columns, fk.ref_table, schema.tables[fk.ref_table].primary_key
                    )
                fixed.append(fk)
            schema.tables[name] = replace(table, foreign_keys=tuple(fixed))
        return schema

    def _unique_keys(self, table: str) -> tuple[tuple[str, ...], ...]:
        """The column sets of ``table``'s unique indexes and UNIQUE constraints."""
        keys = []
        for (index,) in self.query(
            self.sql("introspect", "unique_indexes"), [table], doing=f"unique indexes of {table}"
        ):
            cols = [c for (c,) in self.query(self.sql("introspect", "index_columns"), [index])]
            if cols and all(cols):
                keys.append(tuple(cols))
        return tuple(keys)

    # ---- change tracking ----------------------------------------------------------------------
    def _log(self, table_id: int) -> str:
        return self.own(f"ct_log_{table_id}")

    def _registry(self) -> dict[str, tuple[int, list[str], int, int]]:
        if not self._has_tracking():
            return {}
        return {
            name: (tid, json.loads(pks), enabled, min_valid)
            for tid, name, pks, enabled, min_valid in self.query(self.sql("tracking", "tracked"))
        }

    def _has_tracking(self) -> bool:
        rows = self.query(
            "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'bluegreen_ct_tables'"
        )
        return bool(rows)

    def enable_tracking(self, tables: Sequence[Table]) -> list[TableName]:
        for t in tables:
            self.require_primary_key(t)
        enabled: list[TableName] = []
        with self.transaction():
            self.run_file("tracking", ["clock", "clock_row", "registry"])
            registry = self._registry()
            for t in tables:
                if t.name.name in registry:
                    continue
                self.execute(self.sql("tracking", "tick"), doing="move the change clock")
                self.execute(
                    self.sql("tracking", "register"),
                    [t.name.name, json.dumps(list(t.primary_key))],
                    doing=f"register {t.name}",
                )
                tid = self._registry()[t.name.name][0]
                for stmt in self.tracking_ddl(t, tid):
                    self.execute(stmt, doing=f"enable tracking on {t.name}")
                enabled.append(t.name)
        return enabled

    def tracking_ddl(self, table: Table, table_id: int) -> list[str]:
        """The change log and the three row triggers of one table."""
        log = self._log(table_id)
        target = self.qualify(table.name)
        pk = [table.column(c) for c in table.primary_key]
        keys = [f"k{i}" for i in range(len(pk))]
        key_defs = ", ".join(f"{k} {c.type}" for k, c in zip(keys, pk, strict=True))
        clock = self.own("ct_clock")
        trig = lambda kind: self.quote(f"bluegreen_ct_{table_id}_{kind}")  # noqa: E731

        def log_row(op_sql: str, ref: str, where: str = "") -> str:
            vals = ", ".join(f"{ref}.{self.quote(c.name)}" for c in pk)
            return (
                f"INSERT INTO {log} (seq, op, {', '.join(keys)}) "
                f"SELECT version, {op_sql}, {vals} FROM {clock} WHERE id = 1{where};"
            )

        bump = f"UPDATE {clock} SET version = version + 1 WHERE id = 1;"
        changed = " OR ".join(
            f"OLD.{self.quote(c.name)} IS NOT NEW.{self.quote(c.name)}" for c in pk
        )
        # an update that moves the primary key is a delete of the old key plus an insert
        new_op = f"CASE WHEN {changed} THEN 'I' ELSE 'U' END"
        return [
            f"CREATE TABLE {log} (seq INTEGER NOT NULL, op TEXT NOT NULL, {key_defs})",
            f"CREATE INDEX {self.quote(f'bluegreen_ct_log_{table_id}_seq')} ON {log} (seq)",
            f"CREATE TRIGGER {trig('ins')} AFTER INSERT ON {target} BEGIN "
            f"{bump} {log_row(repr('I'), 'NEW')} END",
            f"CREATE TRIGGER {trig('upd')} AFTER UPDATE ON {target} BEGIN "
            f"{bump} {log_row(repr('D'), 'OLD', f' AND ({changed})')} "
            f"{log_row(new_op, 'NEW')} END",
            f"CREATE TRIGGER {trig('del')} AFTER DELETE ON {target} BEGIN "
            f"{bump} {log_row(repr('D'), 'OLD')} END",
        ]

    def disable_tracking(self, tables: Sequence[TableName]) -> None:
        registry = self._registry()
        with self.transaction():
            for name in tables:
                if name.name not in registry:
                    continue
                tid = registry[name.name][0]
                for kind in ("ins", "upd", "del"):
                    self.execute(
                        f"DROP TRIGGER IF EXISTS {self.quote(f'bluegreen_ct_{tid}_{kind}')}"
                    )
                self.execute(f"DROP TABLE IF EXISTS {self._log(tid)}")
                self.execute(self.sql("tracking", "unregister"), [tid])

    def tracked_tables(self) -> list[TableName]:
        return [TableName(None, n) for n in self._registry()]

    def current_watermark(self) -> Watermark:
        if not self._has_tracking():
            raise ConfigError(
                f"change tracking is not enabled on {self.describe()}",
                fix="run `bluegreen tracking enable --db <blue url>` first",
            )
        (version,) = self.query(self.sql("tracking", "current_version"))[0]
        return Watermark(version=int(version))

    def check_valid(self, tables: Sequence[TableName], since: Watermark) -> list[TableValidity]:
        registry = self._registry()
        out = []
        for name in tables:
            entry = registry.get(name.name)
            if entry is None:
                out.append(TableValidity(name, False, "change tracking is not enabled on it"))
                continue
            _, _, enabled, min_valid = entry
            if since.origin:
                ok = min_valid == enabled
                why = (
                    f"changes before version {min_valid} were cleaned up, so a green that starts "
                    "empty can no longer be built from the change log"
                )
            else:
                ok = since.version >= min_valid
                why = (
                    f"green's watermark {since.version} is older than the oldest version the "
                    f"change log still covers ({min_valid})"
                )
            out.append(TableValidity(name, ok, "" if ok else why))
        return out

    def _changes_sql(self, table: Table, table_id: int, bounded: bool) -> str:
        where = "seq > ? AND seq <= ?" if bounded else "seq > ?"
        return self.log_changes_sql(table, self._log(table_id), where)

    def read_changes(
        self, table: Table, since: Watermark, upto: Watermark, batch_size: int
    ) -> Iterator[ChangeBatch]:
        tid = self._table_id(table.name)
        sql = self._changes_sql(table, tid, bounded=True)
        for names, rows in self.stream(
            sql, [since.version, upto.version], batch_size, doing=f"read changes of {table.name}"
        ):
            yield ChangeBatch(names, rows)

    def count_changes(self, table: Table, since: Watermark) -> int:
        tid = self._table_id(table.name)
        keys = ", ".join(f"k{i}" for i in range(len(table.primary_key)))
        sql = f"SELECT count(*) FROM (SELECT DISTINCT {keys} FROM {self._log(tid)} WHERE seq > ?)"
        return int(self.query(sql, [since.version])[0][0])

    def cleanup_changes(self, before: Watermark) -> int:
        removed = 0
        with self.transaction():
            for tid, *_ in self._registry().values():
                removed += max(
                    0,
                    self.execute(f"DELETE FROM {self._log(tid)} WHERE seq <= ?", [before.version]),
                )
            self.execute(self.sql("tracking", "raise_min_valid"), [before.version])
        return removed

    def _table_id(self, name: TableName) -> int:
        entry = self._registry().get(name.name)
        if entry is None:
            raise ConfigError(
                f"table {name} is not tracked on {self.describe()}",
                fix=f"run `bluegreen tracking enable --db <blue url> --table {name}`",
            )
        return entry[0]

    # ---- green --------------------------------------------------------------------------------
    def create_stage_sql(self, stage: str, column_defs: list[str]) -> str:
        return f"CREATE TEMP TABLE {stage} ({', '.join(column_defs)})"

    def delete_sql(
        self, table: Table, stage: str, key: Sequence[str], bounded: bool = False
    ) -> str:
        # SQLite runs the general builder's correlated EXISTS once per green row, scanning the
        # unindexed stage each time (rows x staged rows). IN over the stage is read once and
        # probes green's primary key per staged key; the rows deleted are the same.
        target = self.qualify(table.name)
        cols = ", ".join(self.quote(k) for k in key)
        left = cols if len(key) == 1 else f"({cols})"
        alias = " AS g" if bounded else ""  # the bounds name the target as g
        return (
            f"DELETE FROM {target}{alias} WHERE {left} IN (SELECT {cols} FROM {stage} "
            f"WHERE {self.quote(PRESENT)} = 0){self._bounds(key, bounded)}"
        )

    def load_rows(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        with self.errors("bulk insert"):
            self.conn.executemany(sql, rows)

    # ---- release: freezing writes, copies (bluegreen.release) ---------------------------------
    copy_keeps_watermark: ClassVar[bool] = True
    """The backup API copies one consistent snapshot, the change clock included."""

    FREEZE_MESSAGE: ClassVar[str] = "bluegreen: this database is frozen for a cutover"

    def _user_tables(self) -> list[str]:
        return [r[0] for r in self.query(self.sql("introspect", "tables"), doing="list tables")]

    def freeze_ddl(self, table: str) -> list[str]:
        """The three guard triggers that refuse writes to ``table`` while the database is frozen."""
        target = self.quote(table)
        out = []
        for kind, event in (("ins", "INSERT"), ("upd", "UPDATE"), ("del", "DELETE")):
            trigger = self.quote(f"bluegreen_freeze_{kind}_{table}")
            out.append(
                f"CREATE TRIGGER IF NOT EXISTS {trigger} BEFORE {event} ON {target} "
                f"BEGIN SELECT RAISE(ABORT, '{self.FREEZE_MESSAGE}'); END"
            )
        return out

    def freeze(self) -> None:
        # BEGIN IMMEDIATE waits (busy timeout) for the writer holding the lock to commit; from
        # this transaction's commit on, every write to a user table aborts at once.
        with self.transaction():
            self.run_file("freeze", ["marker"])
            for table in self._user_tables():
                for stmt in self.freeze_ddl(table):
                    self.execute(stmt, doing=f"freeze table {table}")
            self.execute(
                self.sql("freeze", "mark"), [dt.datetime.now(dt.UTC).isoformat()], doing="freeze"
            )

    def unfreeze(self) -> None:
        with self.transaction():
            for name, _ in self.query(self.sql("freeze", "guards"), doing="list freeze guards"):
                self.execute(f"DROP TRIGGER IF EXISTS {self.quote(name)}", doing="unfreeze")
            if self.query(self.sql("freeze", "has_marker"))[0][0]:
                self.execute(self.sql("freeze", "unmark"), doing="unfreeze")

    def is_frozen(self) -> bool:
        if not self.query(self.sql("freeze", "has_marker"), doing="read the freeze")[0][0]:
            return False
        if not self.query(self.sql("freeze", "marked"), doing="read the freeze"):
            return False
        guards: dict[str, set[str]] = {}
        for name, table in self.query(self.sql("freeze", "guards"), doing="list freeze guards"):
            guards.setdefault(table, set()).add(name)
        want = {"ins", "upd", "del"}
        return all(
            guards.get(t, set()) >= {f"bluegreen_freeze_{k}_{t}" for k in want}
            for t in self._user_tables()
        )

    def copy_database(self, target: SecretStr, *, replace: bool = False) -> None:
        path = sqlite_path(target.get_secret_value())
        here = getattr(self, "path", None)
        if here is not None and os.path.abspath(path) == os.path.abspath(here):
            raise ConfigError(
                f"sqlite: the copy's target {path} is the source itself",
                fix="give green (or the stage) its own file",
            )
        if os.path.exists(path) and not replace:
            raise ConfigError(
                f"sqlite: {path} already exists",
                fix="remove it, or pass replace=True (a re-seed overwrites the standby)",
            )
        with self.errors(f"copy {self.describe()} to {path}"):
            dst = sqlite3.connect(path, timeout=30.0)
            try:
                self.conn.backup(dst)
            finally:
                dst.close()

    @classmethod
    def drop_database(cls, url: SecretStr) -> None:
        path = sqlite_path(url.get_secret_value())
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(path + suffix)

    @classmethod
    def database_exists(cls, url: SecretStr) -> bool:
        return os.path.exists(sqlite_path(url.get_secret_value()))

    def run_script(self, text: str, doing: str = "run a script") -> None:
        with self.errors(doing):
            self.conn.executescript(text)
