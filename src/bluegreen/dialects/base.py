"""The dialect contract and the general SQL builder, written once.

A dialect is one class per engine, bound to one connection. Engine differences are expressed as
capability flags (class attributes, each with a one-line docstring) and as narrow overrides of
the builder methods below; code outside ``dialects/`` never compares dialect names.

Statements that do not depend on a table's columns live in ``sql/<dialect>/*.sql``. Statements
that do are built here, from introspected :class:`~bluegreen.schema.Table` objects, with every
identifier quoted by :meth:`Dialect.quote`; values are always bound parameters.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import polars as pl
from pydantic import SecretStr

from bluegreen import sqlfiles
from bluegreen.errors import BlueGreenError, SchemaError, TerminalError, TransientError
from bluegreen.schema import Column, Schema, Table, TableName
from bluegreen.watermark import Watermark

log = logging.getLogger("bluegreen.dialect")

# Columns the change read adds to every row, and that the stage keeps. The double underscore
# keeps them apart from user columns; they are quoted like any identifier.
PRESENT = "__bg_present"
OPERATION = "__bg_op"

Params = Sequence[Any] | Mapping[str, Any]
"""Bound parameters: positional, or by name where the driver supports it (psycopg)."""


@dataclass(frozen=True)
class ChangeBatch:
    """A slice of one table's net changes: blue columns, then ``__bg_present``, ``__bg_op``."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


@dataclass(frozen=True)
class TableValidity:
    """Whether a watermark is still covered by a table's change log, and why not."""

    table: TableName
    valid: bool
    detail: str = ""


class Dialect:
    """One engine: connection, quoting, introspection, change tracking, staging and apply."""

    name: ClassVar[str] = "base"

    # ---- capability flags -------------------------------------------------------------------
    supports_schemas: ClassVar[bool] = True
    """Tables live in named schemas; bluegreen's own objects go in schema ``bluegreen``."""
    default_schema: ClassVar[str | None] = None
    """The schema an unqualified table name means."""
    paramstyle: ClassVar[str] = "qmark"
    """The driver's placeholder style: ``qmark`` (?) or ``format`` (%s)."""
    update_from_alias: ClassVar[bool] = True
    """``UPDATE t AS g SET c = s.c FROM stage AS s WHERE ...`` is valid (PostgreSQL, SQLite)."""
    delete_alias: ClassVar[bool] = True
    """``DELETE FROM t AS g WHERE ...`` is valid (PostgreSQL, SQLite)."""
    identity_insert_clause: ClassVar[str] = ""
    """Text placed after the column list to insert explicit values into identity columns."""
    needs_identity_insert_toggle: ClassVar[bool] = False
    """Explicit identity values need ``SET IDENTITY_INSERT t ON`` around the INSERT."""
    truncate_invalidates: ClassVar[bool] = False
    """TRUNCATE exists and moves the table's min-valid marker (forces a re-seed)."""
    watermark_has_position: ClassVar[bool] = False
    """The watermark needs engine text beyond its version (a PostgreSQL snapshot)."""
    emulated_tracking: ClassVar[bool] = True
    """Change tracking is emulated with triggers and a change log that bluegreen owns."""
    changes_in_key_order: ClassVar[bool] = False
    """The change-log read sorts the changed keys before joining them to the current rows
    (PostgreSQL: its planner may otherwise hash them into random order; sorted, the join walks
    the primary key in order and green's apply gets its rows in key order)."""
    stream_apply_rows: ClassVar[int] = 500_000
    """Rows a streamed (fact) table's stage collects before it is applied: fewer, larger
    applies where each apply may cost a scan of the whole target (no key-range bounds)."""
    apply_key_range: ClassVar[bool] = False
    """A streamed apply bounds the target by the range of the staged keys (first key column,
    integer keys), so each apply reads only the part of a big target its keys fall in
    (PostgreSQL otherwise scans the whole target per statement, once per streamed chunk)."""
    threaded_reads: ClassVar[bool] = False
    """The connection may be driven from a worker thread, so a window reads blue's next batch
    while green applies the last (the driver releases the GIL while it waits)."""
    stage_prefix: ClassVar[str] = "bg_stage_"
    """Name prefix of the per-window staging tables (temporary, private to the session)."""
    type_meanings: ClassVar[dict[str, str]] = {}
    """Declared type names that mean something else on this engine than the common reading, for
    the mapping linter's cast checks: lower-case name -> type text to read instead (SQLite:
    ``{"integer": "bigint", "int": "bigint"}``; SQL Server: ``{"timestamp": "rowversion"}``)."""

    def __init__(self, connection: Any = None, url: SecretStr | None = None) -> None:
        self.conn = connection
        self.url = url
        self._in_tx = False

    # ---- connecting ---------------------------------------------------------------------------
    @classmethod
    def connect(cls, url: SecretStr) -> Dialect:
        """Open a connection for ``url`` (a SecretStr: it never reaches a log)."""
        raise NotImplementedError

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.close()
            self.conn = None

    def __enter__(self) -> Dialect:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def describe(self) -> str:
        """Where this connection points, without credentials (for logs and errors)."""
        return self.name

    def is_alive(self) -> bool:
        """False when the connection is known to be closed or broken (then reconnect)."""
        return self.conn is not None

    def ensure_connected(self) -> None:
        """Reopen a closed or broken connection (after a transient error) from the same URL."""
        if self.is_alive() or self.url is None:
            return
        self.close()
        fresh = type(self).connect(self.url)
        self.conn, fresh.conn = fresh.conn, None
        self._in_tx = False

    # ---- quoting ------------------------------------------------------------------------------
    def quote(self, ident: str) -> str:
        """Quote one identifier, doubling embedded quote characters."""
        return '"' + ident.replace('"', '""') + '"'

    def qualify(self, table: TableName) -> str:
        """The quoted, schema-qualified name of ``table``."""
        if table.schema and self.supports_schemas:
            return f"{self.quote(table.schema)}.{self.quote(table.name)}"
        return self.quote(table.name)

    def own(self, name: str) -> str:
        """The quoted name of one of bluegreen's own objects (state tables, change logs)."""
        if self.supports_schemas:
            return f"{self.quote('bluegreen')}.{self.quote(name)}"
        return self.quote(f"bluegreen_{name}")

    def placeholder(self, n: int = 1) -> str:
        """``n`` comma-separated bound-parameter markers."""
        mark = "%s" if self.paramstyle == "format" else "?"
        return ", ".join([mark] * n)

    def stage_name(self, index: int) -> str:
        """The quoted name of the staging table for target ``index`` of the plan."""
        return self.quote(f"{self.stage_prefix}{index}")

    # ---- errors -------------------------------------------------------------------------------
    def classify(self, exc: BaseException, doing: str) -> BlueGreenError:
        """Map a driver error onto a transient or terminal bluegreen error, naming ``doing``."""
        return TerminalError(f"{self.name}: {doing} failed: {exc}")

    @contextlib.contextmanager
    def errors(self, doing: str) -> Iterator[None]:
        """Translate driver errors raised inside the block (bluegreen errors pass through)."""
        try:
            yield
        except BlueGreenError:
            raise
        except Exception as exc:
            raise self.classify(exc, doing) from exc

    # ---- running statements -------------------------------------------------------------------
    def _run(self, cur: Any, sql: str, params: Params) -> None:
        # No parameters: send the text as is (a driver that parses placeholders would otherwise
        # read a literal % in the statement as one).
        if not params:
            cur.execute(sql)
        elif isinstance(params, Mapping):
            cur.execute(self.marked_text(sql), dict(params))
        else:
            cur.execute(self.marked_text(sql), tuple(params))

    def marked_text(self, sql: str) -> str:
        """``sql`` as the driver must see it when it carries bound-parameter markers."""
        return sql

    def stream_cursor(self) -> Any:
        """A cursor for reading big results in batches (server-side where the driver has one)."""
        return self.conn.cursor()

    def execute(self, sql: str, params: Params = (), doing: str = "a statement") -> int:
        """Run one statement; return its row count (or -1)."""
        with self.errors(doing):
            cur = self.conn.cursor()
            try:
                self._run(cur, sql, params)
                return cur.rowcount
            finally:
                cur.close()

    def query(self, sql: str, params: Params = (), doing: str = "a query") -> list[tuple]:
        """Run one query and fetch every row."""
        with self.errors(doing):
            cur = self.conn.cursor()
            try:
                self._run(cur, sql, params)
                return [tuple(r) for r in cur.fetchall()]
            finally:
                cur.close()

    def stream(
        self, sql: str, params: Params, size: int, doing: str
    ) -> Iterator[tuple[tuple[str, ...], list[tuple]]]:
        """Run a query and yield (column names, up to ``size`` rows) without loading all rows."""
        with self.errors(doing):
            cur = self.stream_cursor()
            try:
                self._run(cur, sql, params)
                names = tuple(d[0] for d in cur.description)
                while True:
                    rows = cur.fetchmany(size)
                    if not rows:
                        break
                    yield names, [tuple(r) for r in rows]
            except BaseException:
                # A read that failed, or was abandoned when the window failed elsewhere (the
                # generator is closed later, maybe by the garbage collector): closing a
                # server-side cursor on a lost connection fails too, and must not replace the
                # error that ended the window (or print a traceback from a collected generator).
                with contextlib.suppress(Exception):
                    cur.close()
                raise
            cur.close()

    def run_file(self, file: str, names: Sequence[str] | None = None) -> None:
        """Run the named statements of ``sql/<dialect>/<file>.sql`` (all of them by default)."""
        stmts = sqlfiles.load(self.name, file)
        for key in names if names is not None else list(stmts):
            self.execute(stmts[key], doing=f"sql/{self.name}/{file}.sql:{key}")

    def sql(self, file: str, name: str) -> str:
        return sqlfiles.statement(self.name, file, name)

    # ---- transactions -------------------------------------------------------------------------
    def begin(self) -> None:
        """Start a read-write transaction."""
        self.execute("BEGIN", doing="begin")
        self._in_tx = True

    def begin_snapshot(self) -> None:
        """Start a read-only transaction that sees one consistent snapshot of every table."""
        self.begin()

    def commit(self) -> None:
        with self.errors("commit"):
            self.conn.commit()
        self._in_tx = False

    def rollback(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.rollback()
        self._in_tx = False

    # Savepoints let a window undo one failed apply step and still read its stage (to name the
    # offending row); names are bluegreen's own constants, never user input.
    savepoint_sql: ClassVar[str] = "SAVEPOINT {name}"
    """Statement that marks a savepoint inside the open transaction."""
    rollback_savepoint_sql: ClassVar[str] = "ROLLBACK TO SAVEPOINT {name}"
    """Statement that undoes everything after a savepoint (the transaction stays open)."""
    release_savepoint_sql: ClassVar[str | None] = "RELEASE SAVEPOINT {name}"
    """Statement that forgets a savepoint (None: the engine has none; it lasts until commit)."""

    def savepoint(self, name: str) -> None:
        self.execute(self.savepoint_sql.format(name=name), doing=f"savepoint {name}")

    def rollback_to_savepoint(self, name: str) -> None:
        self.execute(
            self.rollback_savepoint_sql.format(name=name), doing=f"roll back to savepoint {name}"
        )

    def release_savepoint(self, name: str) -> None:
        if self.release_savepoint_sql is not None:
            self.execute(
                self.release_savepoint_sql.format(name=name), doing=f"release savepoint {name}"
            )

    @contextlib.contextmanager
    def transaction(self, snapshot: bool = False) -> Iterator[None]:
        """Commit on success, roll back on any error."""
        if snapshot:
            self.begin_snapshot()
        else:
            self.begin()
        try:
            yield
        except BaseException:
            self.rollback()
            raise
        else:
            self.commit()

    # ---- introspection ------------------------------------------------------------------------
    def introspect(self) -> Schema:
        """Every user table (bluegreen's own objects excluded) with columns, keys and FKs."""
        raise NotImplementedError

    def server_version(self) -> str:
        raise NotImplementedError

    # ---- change tracking on blue --------------------------------------------------------------
    def enable_tracking(self, tables: Sequence[Table]) -> list[TableName]:
        """Turn tracking on for the database and ``tables``; return the newly enabled ones."""
        raise NotImplementedError

    def disable_tracking(self, tables: Sequence[TableName]) -> None:
        raise NotImplementedError

    def tracked_tables(self) -> list[TableName]:
        """Tables whose changes are tracked now."""
        raise NotImplementedError

    def current_watermark(self) -> Watermark:
        """Blue's current position; inside a snapshot transaction, the window's upper bound."""
        raise NotImplementedError

    def check_valid(self, tables: Sequence[TableName], since: Watermark) -> list[TableValidity]:
        """For each table: does the change log still cover everything after ``since``?"""
        raise NotImplementedError

    def read_changes(
        self, table: Table, since: Watermark, upto: Watermark, batch_size: int
    ) -> Iterator[ChangeBatch]:
        """Net changes of ``table`` in (since, upto], joined to their current rows, in batches."""
        raise NotImplementedError

    def changes_select(
        self, table: Table, key_expr: Mapping[str, str], op_when_present: str
    ) -> list[str]:
        """The select list every change read returns, on every engine: the writable columns
        (key columns from the change source, which still has them when the row is gone; the
        rest from the current row ``b``), then ``__bg_present`` and ``__bg_op``."""
        first = f"b.{self.quote(table.primary_key[0])}"
        select = [
            f"{key_expr[c.name]} AS {self.quote(c.name)}"
            if c.name in key_expr
            else f"b.{self.quote(c.name)}"
            for c in table.writable_columns
        ]
        select.append(f"CASE WHEN {first} IS NULL THEN 0 ELSE 1 END AS {self.quote(PRESENT)}")
        select.append(
            f"CASE WHEN {first} IS NULL THEN 'D' ELSE {op_when_present} END "
            f"AS {self.quote(OPERATION)}"
        )
        return select

    def log_changes_sql(self, table: Table, log: str, where: str) -> str:
        """Net changes per key from a trigger-fed change log (columns seq, op, k0, k1, ...),
        each joined to the key's current row: the read of the emulating engines. An insert is
        the key's first logged operation (CT's collapse: insert + update = insert)."""
        keys = [f"k{i}" for i in range(len(table.primary_key))]
        key_expr = {c: f"ch.{k}" for c, k in zip(table.primary_key, keys, strict=True)}
        select = self.changes_select(
            table, key_expr, "CASE WHEN ch.first_ins = ch.first_seq THEN 'I' ELSE 'U' END"
        )
        join = " AND ".join(f"b.{self.quote(c)} = {e}" for c, e in key_expr.items())
        # sorting the narrow grouped keys (not the joined rows) lets the join keep their order
        inner_order = f" ORDER BY {', '.join(keys)}" if self.changes_in_key_order else ""
        outer_order = f" ORDER BY {', '.join(key_expr.values())}" if inner_order else ""
        return (
            f"WITH __bg_ch AS (SELECT {', '.join(keys)}, min(seq) AS first_seq, "
            f"min(CASE WHEN op = 'I' THEN seq END) AS first_ins FROM {log} "
            f"WHERE {where} GROUP BY {', '.join(keys)}{inner_order}) "
            f"SELECT {', '.join(select)} FROM __bg_ch AS ch "
            f"LEFT JOIN {self.qualify(table.name)} AS b ON {join}{outer_order}"
        )

    def count_changes(self, table: Table, since: Watermark) -> int:
        """Distinct keys of ``table`` changed after ``since`` (for status and preflight)."""
        raise NotImplementedError

    def cleanup_changes(self, before: Watermark) -> int:
        """Drop change-log rows every watermark at or after ``before`` no longer needs."""
        raise NotImplementedError

    # ---- green: state tables and staging ------------------------------------------------------
    def install_state(self) -> None:
        """Create green's state tables if missing (idempotent)."""
        self.run_file("green_state")

    def create_stage(self, index: int, columns: Sequence[Column]) -> str:
        """Create the temporary stage for target ``index``: its columns plus ``__bg_present``."""
        stage = self.stage_name(index)
        self.execute(self.stage_ddl(index, columns), doing=f"create stage {stage}")
        return stage

    def stage_ddl(self, index: int, columns: Sequence[Column]) -> str:
        """The CREATE statement of stage ``index`` (built apart so golden tests can see it)."""
        cols = [f"{self.quote(c.name)} {self.stage_type(c)}" for c in columns]
        cols.append(f"{self.quote(PRESENT)} SMALLINT NOT NULL")
        return self.create_stage_sql(self.stage_name(index), cols)

    def stage_type(self, column: Column) -> str:
        """The type a stage column gets: the target column's own type."""
        return column.type

    def create_stage_sql(self, stage: str, column_defs: list[str]) -> str:
        return f"CREATE TEMPORARY TABLE {stage} ({', '.join(column_defs)})"

    def drop_stage(self, index: int) -> None:
        self.execute(f"DROP TABLE IF EXISTS {self.stage_name(index)}", doing="drop stage")

    def truncate_stage(self, index: int) -> None:
        """Empty stage ``index`` for the next batch (a streamed table reuses one stage)."""
        self.execute(f"DELETE FROM {self.stage_name(index)}", doing="empty stage")

    def load_stage(self, index: int, columns: Sequence[str], frame: pl.DataFrame) -> int:
        """Bulk-load ``frame`` (its ``columns`` then ``__bg_present``) into stage ``index``."""
        stage = self.stage_name(index)
        names = [*columns, PRESENT]
        sql = (
            f"INSERT INTO {stage} ({', '.join(self.quote(c) for c in names)}) "
            f"VALUES ({self.placeholder(len(names))})"
        )
        rows = frame.select(names).rows()
        with self.errors(f"load stage {stage}"):
            cur = self.conn.cursor()
            try:
                cur.executemany(sql, rows)
            finally:
                cur.close()
        return len(rows)

    def analyze_stage(self, index: int) -> None:
        """Give the planner statistics on a freshly loaded stage (where that helps)."""

    # ---- green: the general apply builder -----------------------------------------------------
    def _key_match(self, key: Sequence[str], left: str, right: str) -> str:
        return " AND ".join(f"{left}.{self.quote(k)} = {right}.{self.quote(k)}" for k in key)

    # The one place the engines' apply syntax differs: PostgreSQL and SQLite alias the target
    # of an UPDATE or DELETE itself (UPDATE t AS g ... FROM s, DELETE FROM t AS g). T-SQL cannot
    # (update_from_alias / delete_alias False): it updates or deletes an alias that its FROM
    # clause defines (UPDATE g ... FROM t AS g INNER JOIN s ON ..., DELETE g FROM t AS g).
    def _update_aliased(self, table: str, alias: str, sets: str, where: str) -> str:
        """UPDATE of one table under an alias (no join)."""
        if self.update_from_alias:
            return f"UPDATE {table} AS {alias} SET {sets} WHERE {where}"
        return f"UPDATE {alias} SET {sets} FROM {table} AS {alias} WHERE {where}"

    def _update_joined(self, target: str, sets: str, stage: str, on: str, where: str) -> str:
        """UPDATE of ``target`` (alias ``g``) from the stage rows (alias ``s``) ``on`` matches."""
        if self.update_from_alias:
            return f"UPDATE {target} AS g SET {sets} FROM {stage} AS s WHERE {on} AND {where}"
        return (
            f"UPDATE g SET {sets} FROM {target} AS g INNER JOIN {stage} AS s ON {on} WHERE {where}"
        )

    def _delete_aliased(self, table: str, alias: str, where: str) -> str:
        """DELETE from one table under an alias."""
        if self.delete_alias:
            return f"DELETE FROM {table} AS {alias} WHERE {where}"
        return f"DELETE {alias} FROM {table} AS {alias} WHERE {where}"

    # A bounded statement (``bounded=True``) also restricts the target to the staged keys'
    # range: ``g.k0 >= ? AND g.k0 <= ?``, two bound values (the window passes the range of the
    # stage's first key column). It never changes which rows match (every staged key lies in
    # the range); it lets the engine read the target through its primary key's range.
    def _bounds(self, key: Sequence[str], bounded: bool) -> str:
        """The bounds condition (with its leading AND) of a bounded statement, else nothing."""
        if not bounded:
            return ""
        k = f"g.{self.quote(key[0])}"
        mark = self.placeholder(1)
        return f" AND {k} >= {mark} AND {k} <= {mark}"

    # The stage's __bg_present column: 0 = absent on blue (delete), 1 = present (upsert). The
    # UPDATE runs before the INSERT: it can only touch rows green already has, and the INSERT
    # then adds the keys green still lacks, so each reports its own exact count without a
    # marking pass over the stage (an UPDATE of the stage that cost as much as the INSERT).
    def insert_sql(
        self,
        table: Table,
        stage: str,
        columns: Sequence[str],
        key: Sequence[str],
        nulled: Sequence[str] = (),
        bounded: bool = False,
    ) -> str:
        """Insert the staged rows present on blue whose key green lacks; ``nulled`` columns are
        written as NULL (the first pass over an FK cycle, whose second pass fills them in)."""
        target = self.qualify(table.name)
        cols = ", ".join(self.quote(c) for c in columns)
        values = ", ".join("NULL" if c in nulled else f"s.{self.quote(c)}" for c in columns)
        override = self.identity_insert_clause if table.has_identity else ""
        match = self._key_match(key, "g", "s") + self._bounds(key, bounded)
        return (
            f"INSERT INTO {target} ({cols}){override} SELECT {values} FROM {stage} AS s "
            f"WHERE s.{self.quote(PRESENT)} = 1 AND NOT EXISTS "
            f"(SELECT 1 FROM {target} AS g WHERE {match})"
        )

    def update_sql(
        self,
        table: Table,
        stage: str,
        columns: Sequence[str],
        key: Sequence[str],
        bounded: bool = False,
    ) -> str:
        """Overwrite the green rows of keys staged as present with the staged values."""
        target = self.qualify(table.name)
        sets = ", ".join(f"{self.quote(c)} = s.{self.quote(c)}" for c in columns)
        return self._update_joined(
            target,
            sets,
            stage,
            self._key_match(key, "g", "s"),
            f"s.{self.quote(PRESENT)} = 1{self._bounds(key, bounded)}",
        )

    def delete_sql(
        self, table: Table, stage: str, key: Sequence[str], bounded: bool = False
    ) -> str:
        """Delete green rows whose key is staged as absent on blue."""
        target = self.qualify(table.name)
        return self._delete_aliased(
            target,
            "g",
            f"EXISTS (SELECT 1 FROM {stage} AS s "
            f"WHERE {self._key_match(key, 'g', 's')} AND s.{self.quote(PRESENT)} = 0)"
            f"{self._bounds(key, bounded)}",
        )

    def unlink_sql(
        self, table: Table, stage: str, columns: Sequence[str], key: Sequence[str]
    ) -> str:
        """Set cycle FK columns to NULL on rows about to be deleted (so the cycle can go)."""
        target = self.qualify(table.name)
        sets = ", ".join(f"{self.quote(c)} = NULL" for c in columns)
        return self._update_joined(
            target, sets, stage, self._key_match(key, "g", "s"), f"s.{self.quote(PRESENT)} = 0"
        )

    # ---- green: lookups of a mapping workbook (L) ----------------------------------------------
    # The stage holds the blue value in ``value_col`` and gets the lookup key in ``key_col``;
    # every statement is one set-based join of the stage against the lookup table.
    def lookup_add_sql(
        self, lookup: Table, key: str, value: str, stage: str, value_col: str, key_col: str
    ) -> list[str]:
        """Policy ``insert``, after the resolving join: add the distinct values of the staged
        rows it left without a key (present on blue, value not NULL) to the lookup table, the
        engine assigning their keys, then give those rows their keys.

        The caller has ruled out values with several lookup rows, so a row without a key is one
        whose value has no lookup row: no anti-join against the lookup table is needed, and
        the second join reads only those rows."""
        sv, k = self.quote(value_col), self.quote(key_col)
        add = (
            f"INSERT INTO {self.qualify(lookup.name)} ({self.quote(value)}) "
            f"SELECT DISTINCT s.{sv} FROM {stage} AS s WHERE s.{self.quote(PRESENT)} <> 0 "
            f"AND s.{sv} IS NOT NULL AND s.{k} IS NULL"
        )
        rest = self.lookup_resolve_sql(
            lookup, key, value, stage, value_col, key_col, unresolved_only=True
        )
        return [add, rest]

    def lookup_ambiguous_sql(
        self,
        lookup: Table,
        value: str,
        stage: str,
        value_col: str,
        key_col: str | None = None,
    ) -> str:
        """Staged values that match more than one lookup row: (value, number of rows).

        With ``key_col``, only the values a ``unique_only`` :meth:`lookup_resolve_sql` left
        without a key are checked (the ambiguous ones are among them). ``IN`` reads the stage
        once; a correlated ``EXISTS`` ran, on SQLite, once per lookup row, scanning the
        unindexed stage each time (lookup rows x staged rows)."""
        v = self.quote(value)
        unresolved = f" WHERE s.{self.quote(key_col)} IS NULL" if key_col else ""
        return (
            f"SELECT l.{v}, COUNT(*) FROM {self.qualify(lookup.name)} AS l WHERE l.{v} IN "
            f"(SELECT s.{self.quote(value_col)} FROM {stage} AS s{unresolved}) "
            f"GROUP BY l.{v} HAVING COUNT(*) > 1"
        )

    def lookup_resolve_sql(
        self,
        lookup: Table,
        key: str,
        value: str,
        stage: str,
        value_col: str,
        key_col: str,
        unresolved_only: bool = False,
        unique_only: bool = False,
    ) -> str:
        """Write each staged value's lookup key into the stage (a join, not a loop).

        ``unresolved_only``: only rows still without a key (the second join of
        :meth:`lookup_add_sql`). ``unique_only``: only a value with exactly one lookup row gets
        its key; an ambiguous value stays NULL like a missing one, so no separate ambiguity join
        is needed before it (the caller checks the unresolved rows). It takes ``MIN`` of the
        key, so the key's type must have one (numbers, text, dates and times; not uuid, boolean
        or binary). A lookup whose value column is unique on green needs neither."""
        t = self.qualify(lookup.name)
        sv, k = self.quote(value_col), self.quote(key_col)
        pending = f"s.{k} IS NULL" if unresolved_only else ""
        if unique_only:
            v = self.quote(value)
            source = (
                f"(SELECT l.{v} AS bg_value, MIN(l.{self.quote(key)}) AS bg_key FROM {t} AS l "
                f"WHERE l.{v} IN (SELECT {sv} FROM {stage}) GROUP BY l.{v} "
                "HAVING COUNT(*) = 1)"
            )
            new, match = "m.bg_key", f"m.bg_value = s.{sv}"
        else:
            source = t
            new, match = f"l.{self.quote(key)}", f"l.{self.quote(value)} = s.{sv}"
        alias = "m" if unique_only else "l"
        if self.update_from_alias:
            where = f"{pending} AND {match}" if pending else match
            return f"UPDATE {stage} AS s SET {k} = {new} FROM {source} AS {alias} WHERE {where}"
        where = f" WHERE {pending}" if pending else ""
        return (
            f"UPDATE s SET {k} = {new} FROM {stage} AS s JOIN {source} AS {alias} ON {match}{where}"
        )

    def lookup_missing_sql(
        self, stage: str, value_col: str, key_col: str, key: Sequence[str]
    ) -> str:
        """Staged rows (present on blue) whose value found no lookup row: value, then the key."""
        cols = ", ".join(f"s.{self.quote(c)}" for c in (value_col, *key))
        return (
            f"SELECT {cols} FROM {stage} AS s WHERE s.{self.quote(PRESENT)} <> 0 AND "
            f"s.{self.quote(value_col)} IS NOT NULL AND s.{self.quote(key_col)} IS NULL"
        )

    def run_insert(self, table: Table, sql: str, doing: str, params: Params = ()) -> int:
        """Run an INSERT built by :meth:`insert_sql`; return its row count."""
        return self.execute(sql, params, doing=doing)

    def insert_statements(self, table: Table, sql: str) -> list[str]:
        """Every statement :meth:`run_insert` sends for ``sql``, in order (for golden tests:
        engines that toggle identity inserts wrap the INSERT in their toggles)."""
        return [sql]

    def lock_row_sql(self, columns: Sequence[str], table: str, where: str) -> str:
        """SELECT that holds the selected row until commit (serializes concurrent syncs)."""
        return f"SELECT {', '.join(columns)} FROM {table} WHERE {where}{self.row_lock_suffix}"

    row_lock_suffix: ClassVar[str] = " FOR UPDATE"
    """Clause after a SELECT that locks its rows for the transaction."""

    # ---- green: reading state -----------------------------------------------------------------
    def table_exists(self, name: TableName) -> bool:
        return self.introspect().find(name) is not None

    # ---- generic helpers ----------------------------------------------------------------------
    def now(self) -> float:
        return time.time()

    def require_primary_key(self, table: Table) -> None:
        if not table.primary_key:
            raise SchemaError(
                f"table {table.name} has no primary key",
                fix=f"add a primary key to {table.name}, or leave it out of --table",
            )

    # ---- release: freezing writes, copies, identities (cutover, re-seed, rolling upgrade) -------
    # Used by bluegreen.release. Engines that cannot do one of these keep the default, which
    # raises a TerminalError naming the engine, so a cutover stops in its preflight or freeze
    # phase (before anything is switched) instead of half-working.
    copy_keeps_watermark: ClassVar[bool] = False
    """A copy made by :meth:`copy_database` holds the source's exact change-log position, readable
    inside the copy (SQLite's backup API); otherwise the baseline is captured on the source before
    the copy and the overlap replayed idempotently by the next sync."""
    copy_blocks_source: ClassVar[bool] = False
    """:meth:`copy_database` locks every other session out of the source while it copies
    (PostgreSQL ``CREATE DATABASE ... TEMPLATE``): a blackout of the source, not just a read."""

    def _unsupported(self, what: str) -> TerminalError:
        return TerminalError(
            f"{self.name}: {what} is not supported by this engine's dialect",
            fix="use an engine that supports it, or do this step by hand and record it",
        )

    def freeze(self) -> None:
        """Refuse every other session's writes to this database until :meth:`unfreeze`; the
        freeze outlives this connection (a crashed cutover leaves the database frozen, never
        writable on both sides)."""
        raise self._unsupported("freezing writes")

    def unfreeze(self) -> None:
        """Undo :meth:`freeze` (idempotent: unfreezing a writable database does nothing)."""
        raise self._unsupported("unfreezing writes")

    def is_frozen(self) -> bool:
        """True only when a write from a new session would be refused right now."""
        raise self._unsupported("checking a write freeze")

    def copy_database(self, target: SecretStr, *, replace: bool = False) -> None:
        """Make the database at ``target`` a full copy of this one (schema, rows, bluegreen's
        objects); ``replace`` allows overwriting an existing target."""
        raise self._unsupported("copying a database")

    @classmethod
    def drop_database(cls, url: SecretStr) -> None:
        """Remove the database at ``url`` (a failed stage copy); missing is not an error."""
        raise TerminalError(
            f"{cls.name}: dropping a database is not supported by this engine's dialect",
            fix="drop it by hand",
        )

    @classmethod
    def database_exists(cls, url: SecretStr) -> bool:
        """Whether the database at ``url`` exists (without creating it)."""
        raise TerminalError(
            f"{cls.name}: checking whether a database exists is not supported",
            fix="check by hand",
        )

    def advance_identities(self) -> list[str]:
        """Move identity/sequence counters of every user table past the largest key present.

        A green receives rows with explicit keys, so its counters never moved; before it takes
        application inserts they must, or the first insert collides. Returns what was moved."""
        return []

    def drop_tracking(self) -> list[TableName]:
        """Remove change tracking from every tracked table (a copy of blue that becomes a green
        must not keep logging the sync's own writes)."""
        tracked = self.tracked_tables()
        if tracked:
            self.disable_tracking(tracked)
        return tracked

    def run_script(self, text: str, doing: str = "run a script") -> None:
        """Run a multi-statement SQL script (an upgrade script) as one batch."""
        self.execute(text, doing=doing)

    def install_release_state(self) -> None:
        """Create the release key/value table (roles, receipts, schema snapshots) if missing."""
        try:
            sqlfiles.load(self.name, "release")
        except FileNotFoundError:
            raise self._unsupported(f"the release table (no sql/{self.name}/release.sql)") from None
        self.run_file("release")


def transient(message: str, fix: str | None = None) -> TransientError:
    return TransientError(message, fix=fix)
