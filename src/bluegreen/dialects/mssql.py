"""SQL Server / Azure SQL: the production engine, through pyodbc and native Change Tracking.

Change Tracking (CT) is the reference the other engines emulate, so this dialect reads it
directly: ``CHANGETABLE(CHANGES t, @last)`` joined to the current rows, inside ONE snapshot
transaction per window (Microsoft's documented pattern), after checking every table's
``CHANGE_TRACKING_MIN_VALID_VERSION``. CT keeps and cleans its own history, so nothing here
owns a change log.

No SQL Server runs where bluegreen is developed: the static SQL lives in ``sql/mssql/*.sql``,
every generated statement is pinned by golden files and parse-checked with sqlfluff (tsql),
and tests/integration/test_mssql_live.py runs it for real when BLUEGREEN_TEST_MSSQL_URL is set.

``pyodbc`` is imported inside functions only: importing it needs the unixODBC library, and a
machine that only ever syncs SQLite or PostgreSQL should not need either. Connection strings,
redaction and driver error codes live in :mod:`bluegreen.dialects.mssql_odbc`.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import polars as pl
from pydantic import SecretStr

from bluegreen.dialects.base import PRESENT, ChangeBatch, Dialect, TableValidity
from bluegreen.dialects.mssql_odbc import (
    DEFAULT_DRIVER,
    DRIVER_FIX,
    datetimeoffset,
    describe_url,
    error_codes,
    error_text,
    import_pyodbc,
    odbc_connection_string,
    odbc_value,
    parse_odbc,
    scrub,
    secrets_of,
)
from bluegreen.errors import (
    ApplyError,
    BlueGreenError,
    ConfigError,
    TerminalError,
    TransientError,
)
from bluegreen.schema import Column, ForeignKey, Schema, Table, TableName
from bluegreen.watermark import Watermark

# SQLSTATEs and native error numbers worth a retry (everything else is terminal).
CONNECTION_STATES = frozenset({"08S01", "08001", "08003", "08004", "08007"})
TIMEOUT_STATES = frozenset({"HYT00", "HYT01"})
DEADLOCK_STATE = "40001"
DEADLOCK = 1205
LOCK_TIMEOUT = 1222
# Azure SQL: reconfiguration, throttling, database unavailable, elastic pool limits, and
# "cannot open database" while a failover completes.
AZURE_TRANSIENT = frozenset({40197, 40501, 40613, 49918, 49919, 49920, 4060})
INTEGRITY_STATE = "23000"
LOGIN_FAILED = 18456
SNAPSHOT_NOT_ALLOWED = 3952

_COLLATION = re.compile(r"^[A-Za-z0-9_]+$")
_SQL_DATETIMEOFFSET = -155  # ODBC type code pyodbc has no built-in converter for


def validity(
    name: TableName, since: Watermark, min_valid: int | None, begin: int | None
) -> TableValidity:
    """Does CT still cover everything after ``since`` for table ``name``, given its
    CHANGE_TRACKING_MIN_VALID_VERSION and the version its tracking began at?"""
    if min_valid is None:
        return TableValidity(name, False, "change tracking is not enabled on it")
    if since.origin:
        # A green that starts empty needs every change since tracking began.
        if begin is not None and min_valid <= begin:
            return TableValidity(name, True)
        return TableValidity(
            name,
            False,
            f"change information up to version {min_valid} was cleaned up (tracking began at "
            f"version {begin}), so a green that starts empty can no longer be built from it",
        )
    if since.version >= min_valid:
        return TableValidity(name, True)
    return TableValidity(
        name,
        False,
        f"green's watermark {since.version} is older than CHANGE_TRACKING_MIN_VALID_VERSION "
        f"{min_valid} (the oldest version change tracking still covers: cleanup after the "
        "retention period, or a TRUNCATE)",
    )


def type_text(
    name: str,
    max_length: int,
    precision: int,
    scale: int,
    collation: str | None = None,
    database_collation: str | None = None,
) -> str:
    """Full T-SQL type text from sys.columns fields: ``nvarchar(50)``, ``nvarchar(max)``,
    ``decimal(12,2)``, ``datetime2(7)``, ``varbinary(max)``. A string column whose collation
    differs from the database's keeps it (``... COLLATE Latin1_General_CS_AS``), so a stage
    built from the type compares its keys the way the table does."""
    base = name.lower()
    if base in {"varchar", "char", "varbinary", "binary"}:
        text = f"{base}({'max' if max_length == -1 else max_length})"
    elif base in {"nvarchar", "nchar"}:
        text = f"{base}({'max' if max_length == -1 else max_length // 2})"
    elif base in {"decimal", "numeric"}:
        text = f"{base}({precision},{scale})"
    elif base in {"datetime2", "datetimeoffset", "time"}:
        text = f"{base}({scale})"
    else:
        text = base
    if collation and collation != database_collation and _COLLATION.match(collation):
        text += f" COLLATE {collation}"
    return text


_CHAR_TYPES = ("char", "varchar", "nchar", "nvarchar", "text", "ntext", "sysname")


def _is_char_type(text: str) -> bool:
    return text.lower().split("(", 1)[0].strip() in _CHAR_TYPES


def unquote_list(text: str, start: int) -> list[str]:
    """The identifiers of a ``[a], [b]]c], ...`` list starting at ``text[start]``."""
    names: list[str] = []
    i = start
    while i < len(text) and text[i] == "[":
        j, buf = i + 1, []
        while True:
            k = text.index("]", j)
            if text.startswith("]]", k):
                buf.append(text[j : k + 1])
                j = k + 2
                continue
            buf.append(text[j:k])
            i = k + 1
            break
        names.append("".join(buf))
        if not text.startswith(", ", i):
            break
        i += 2
    return names


class MSSQLDialect(Dialect):
    """SQL Server 2016+ and Azure SQL Database through pyodbc (ODBC Driver 18)."""

    name: ClassVar[str] = "mssql"
    supports_schemas: ClassVar[bool] = True
    default_schema: ClassVar[str | None] = "dbo"
    paramstyle: ClassVar[str] = "qmark"
    update_from_alias: ClassVar[bool] = False
    delete_alias: ClassVar[bool] = False
    identity_insert_clause: ClassVar[str] = ""
    needs_identity_insert_toggle: ClassVar[bool] = True
    truncate_invalidates: ClassVar[bool] = True
    watermark_has_position: ClassVar[bool] = False
    emulated_tracking: ClassVar[bool] = False
    stage_prefix: ClassVar[str] = "#bg_stage_"
    # T-SQL has no FOR UPDATE: the lock is a table hint after the table (see lock_row_sql).
    row_lock_suffix: ClassVar[str] = ""
    # "timestamp" is SQL Server's old name for rowversion, not a date and time.
    type_meanings: ClassVar[dict[str, str]] = {"timestamp": "rowversion"}
    # T-SQL savepoints; with XACT_ABORT ON an error dooms the whole transaction, so a refused
    # window's offending row is not searched for here (the rollback to the savepoint fails).
    savepoint_sql: ClassVar[str] = "SAVE TRANSACTION {name}"
    rollback_savepoint_sql: ClassVar[str] = "ROLLBACK TRANSACTION {name}"
    release_savepoint_sql: ClassVar[str | None] = None

    def __init__(self, connection: Any = None, url: SecretStr | None = None) -> None:
        super().__init__(connection, url)
        self._lost: Any = None  # the connection a connection-class error came from

    def is_alive(self) -> bool:
        """False once the connection is closed, or an error said it was lost (08S01...):
        pyodbc cannot tell without a round trip, so classify() remembers it."""
        conn = self.conn
        return conn is not None and not getattr(conn, "closed", False) and conn is not self._lost

    # ---- connecting ---------------------------------------------------------------------------
    @classmethod
    def connect(cls, url: SecretStr) -> MSSQLDialect:
        """Open a pyodbc connection with autocommit off (ODBC manual-commit mode)."""
        raw = url.get_secret_value()
        conn_str = odbc_connection_string(raw)
        where = describe_url(raw)
        pyodbc = import_pyodbc()
        try:
            conn = pyodbc.connect(conn_str, autocommit=False)
        except pyodbc.Error as exc:
            raise cls(None, url).connect_error(exc, conn_str) from None
        dialect = cls(conn, url)
        try:
            conn.add_output_converter(_SQL_DATETIMEOFFSET, datetimeoffset)
            dialect.execute(dialect.sql("session", "setup"), doing=f"set up session on {where}")
        except BaseException:
            dialect.close()
            raise
        return dialect

    def connect_error(self, exc: BaseException, conn_str: str) -> BlueGreenError:
        """A connect failure as a bluegreen error: a missing ODBC driver is a ConfigError."""
        state, natives = error_codes(exc)
        text = self._scrub(error_text(exc))
        where = self.describe()
        if state == "IM002" or "can't open lib" in text.lower() or "file not found" in text:
            driver = next((v for k, v in parse_odbc(conn_str) if k.upper() == "DRIVER"), None)
            try:
                installed = ", ".join(import_pyodbc().drivers()) or "none"
            except ConfigError:
                installed = "none"
            named = f"ODBC driver {driver!r}" if driver else "the ODBC driver (none named)"
            return ConfigError(
                f"cannot connect to {where}: {named} is not installed on this machine "
                f"(installed ODBC drivers: {installed}); the driver manager said: {text}",
                fix=DRIVER_FIX,
            )
        if LOGIN_FAILED in natives or state == "28000":
            return ConfigError(
                f"cannot connect to {where}: login failed: {text}",
                fix="check the user and password of the connection string (and that the login "
                "may open that database)",
            )
        return self.classify(exc, f"connect to {where}")

    def describe(self) -> str:
        if self.url is None:
            return "mssql"
        return describe_url(self.url.get_secret_value())

    def _scrub(self, text: str) -> str:
        if self.url is None:
            return text
        return scrub(text, secrets_of(self.url.get_secret_value()))

    # ---- quoting ------------------------------------------------------------------------------
    def quote(self, ident: str) -> str:
        """``[name]``, any ``]`` doubled: T-SQL's own delimiters, valid whatever the session's
        QUOTED_IDENTIFIER setting is."""
        return "[" + ident.replace("]", "]]") + "]"

    def stage_name(self, index: int) -> str:
        # A local temporary table (``#``): private to the session, dropped when it ends. The
        # index is an int, so the name needs no quoting.
        return f"{self.stage_prefix}{int(index)}"

    # ---- errors -------------------------------------------------------------------------------
    def classify(self, exc: BaseException, doing: str) -> BlueGreenError:
        """By SQLSTATE and native error number: connection loss, timeouts, deadlocks, lock
        timeouts and Azure's transient errors are worth a retry; integrity violations are
        the window's rows refused; anything else is terminal."""
        state, natives = error_codes(exc)
        text = self._scrub(error_text(exc))
        where = f"mssql {self.describe()}: {doing}"
        if state in CONNECTION_STATES:
            self._lost = self.conn  # ensure_connected() opens a fresh one before the next try
            return TransientError(
                f"{where}: the connection failed or was lost ({state}): {text}",
                fix="the next attempt reconnects; if it keeps failing, check the server, the "
                "network and the firewall",
            )
        if state in TIMEOUT_STATES:
            return TransientError(
                f"{where}: timed out ({state}): {text}",
                fix="the next attempt runs it again; a busy server or a long lock wait causes it",
            )
        if state == DEADLOCK_STATE or DEADLOCK in natives:
            return TransientError(
                f"{where}: chosen as a deadlock victim: {text}",
                fix="the next attempt runs the window again (it is idempotent)",
            )
        if LOCK_TIMEOUT in natives:
            return TransientError(
                f"{where}: lock request timed out: {text}",
                fix="another session held a lock too long; the next attempt waits again",
            )
        transient = sorted(AZURE_TRANSIENT.intersection(natives))
        if transient:
            return TransientError(
                f"{where}: Azure SQL transient error {transient[0]}: {text}",
                fix="the database is failing over, reconfiguring or throttled; retry shortly",
            )
        if state == INTEGRITY_STATE:
            return ApplyError(f"{where}: {text}")
        if SNAPSHOT_NOT_ALLOWED in natives:
            return TerminalError(
                f"{where}: snapshot isolation is not allowed on the database: {text}",
                fix="run `bluegreen tracking enable --db <blue url>` (it sets "
                "ALLOW_SNAPSHOT_ISOLATION ON), or ALTER DATABASE ... SET "
                "ALLOW_SNAPSHOT_ISOLATION ON yourself",
            )
        return TerminalError(f"{where}: {text}")

    # ---- running statements -------------------------------------------------------------------
    def execute(self, sql: str, params: Sequence[Any] = (), doing: str = "a statement") -> int:
        # Without parameters pyodbc sends the statement as it is (SQLExecDirect). With any,
        # the driver wraps it in sp_executesql, and a #temp table created in there would vanish
        # when that call ends: stage DDL must go this parameterless way.
        with self.errors(doing):
            cur = self.conn.cursor()
            try:
                if params:
                    cur.execute(sql, tuple(params))
                else:
                    cur.execute(sql)
                return cur.rowcount
            finally:
                cur.close()

    @contextlib.contextmanager
    def autocommit(self, doing: str) -> Iterator[None]:
        """Run the block with autocommit on: ALTER DATABASE may not run in a transaction."""
        if self._in_tx:
            raise TerminalError(
                f"mssql {self.describe()}: {doing} cannot run inside an open transaction",
                fix="commit or roll back first (this is a bluegreen bug if you did not call it "
                "yourself)",
            )
        with self.errors(doing):
            self.conn.rollback()  # end the implicit read transaction, if any
            self.conn.autocommit = True
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                self.conn.autocommit = False

    # ---- transactions -------------------------------------------------------------------------
    # ODBC manual-commit mode keeps the session in implicit-transaction mode: the statement
    # after a commit or rollback opens the next transaction, and conn.commit()/rollback() end
    # it. Microsoft warns ODBC applications against BEGIN TRANSACTION (under implicit
    # transactions it nests, and the driver's COMMIT leaves the outer level open), so a
    # transaction "begins" by ending any implicit read transaction and setting the isolation
    # level that the next statement's transaction takes: Microsoft's CT pattern
    # (SET TRANSACTION ISOLATION LEVEL SNAPSHOT; BEGIN TRAN; CHANGE_TRACKING_CURRENT_VERSION()
    # ...) in ODBC form.
    def _start(self, isolation: str, doing: str) -> None:
        if self._in_tx:
            raise TerminalError(
                f"mssql {self.describe()}: {doing}: a transaction is already open",
                fix="this is a bluegreen bug: commit or roll back before beginning again",
            )
        with self.errors(doing):
            self.conn.rollback()
        self.execute(self.sql("session", isolation), doing=doing)
        self._in_tx = True

    def begin(self) -> None:
        self._start("read_committed", "begin")

    def begin_snapshot(self) -> None:
        # Needs ALLOW_SNAPSHOT_ISOLATION ON (enable_tracking sets it; error 3952 otherwise).
        self._start("snapshot", "begin snapshot read")

    # ---- introspection ------------------------------------------------------------------------
    def server_version(self) -> str:
        return str(self.query(self.sql("introspect", "version"), doing="read version")[0][0])

    def database_name(self) -> str:
        return str(self.query(self.sql("introspect", "database_name"), doing="read db name")[0][0])

    def introspect(self) -> Schema:
        q = self.sql
        names: dict[int, TableName] = {
            oid: TableName(s, t)
            for oid, s, t in self.query(q("introspect", "tables"), doing="list tables")
        }
        db_collation = self.query(
            q("introspect", "database_collation"), doing="read the database collation"
        )[0][0]
        columns: dict[int, list[Column]] = {oid: [] for oid in names}
        for row in self.query(q("introspect", "columns"), doing="list columns"):
            (oid, _cid, name, tname, max_len, prec, scale, nullable, ident, computed) = row[:10]
            (rowversion, generated_always, collation) = row[10:13]
            if oid not in columns:
                continue
            columns[oid].append(
                Column(
                    name=name,
                    type=type_text(tname, max_len, prec, scale, collation, db_collation),
                    nullable=bool(nullable),
                    identity=bool(ident),
                    generated=bool(computed) or bool(rowversion) or bool(generated_always),
                )
            )
        keys: dict[int, list[str]] = {}
        for oid, col, _ordinal in self.query(q("introspect", "primary_keys"), doing="list PKs"):
            keys.setdefault(oid, []).append(col)
        # table -> FK name -> its column pairs in constraint order (multi-column FKs)
        fks: dict[int, dict[str, list[tuple[str, str, str, str]]]] = {}
        for oid, fk, _n, col, rs, rt, rc in self.query(
            q("introspect", "foreign_keys"), doing="list foreign keys"
        ):
            fks.setdefault(oid, {}).setdefault(fk, []).append((col, rs, rt, rc))
        schema = Schema(default_schema=self.default_schema)
        for oid, tname in names.items():
            schema.tables[tname] = Table(
                name=tname,
                columns=tuple(columns[oid]),
                primary_key=tuple(keys.get(oid, ())),
                foreign_keys=tuple(
                    ForeignKey(
                        name=fk,
                        columns=tuple(p[0] for p in parts),
                        ref_table=TableName(parts[0][1], parts[0][2]),
                        ref_columns=tuple(p[3] for p in parts),
                    )
                    for fk, parts in fks.get(oid, {}).items()
                ),
            )
        return schema

    # ---- change tracking (blue) ---------------------------------------------------------------
    def enable_table_sql(self, table: Table) -> str:
        """Per-table CT; TRACK_COLUMNS_UPDATED fills SYS_CHANGE_COLUMNS for diagnostics."""
        return (
            f"ALTER TABLE {self.qualify(table.name)} ENABLE CHANGE_TRACKING "
            "WITH (TRACK_COLUMNS_UPDATED = ON)"
        )

    def disable_table_sql(self, name: TableName) -> str:
        return f"ALTER TABLE {self.qualify(name)} DISABLE CHANGE_TRACKING"

    def enable_tracking(self, tables: Sequence[Table]) -> list[TableName]:
        """Database CT and snapshot isolation (each only if off), then CT on every table that
        lacks it. ALTER DATABASE cannot run in a transaction, so this runs in autocommit."""
        for t in tables:
            self.require_primary_key(t)
        where = self.describe()
        enabled: list[TableName] = []
        with self.autocommit(f"enable change tracking on {where}"):
            self.run_file("tracking", ["allow_snapshot", "enable_database"])
            already = set(self.tracked_tables())
            for t in tables:
                if t.name in already:
                    continue
                self.execute(self.enable_table_sql(t), doing=f"enable change tracking on {t.name}")
                enabled.append(t.name)
        return enabled

    def disable_tracking(self, tables: Sequence[TableName]) -> None:
        """CT off for ``tables``; the database's CT stays on (other tables, other readers)."""
        with self.autocommit(f"disable change tracking on {self.describe()}"):
            tracked = set(self.tracked_tables())
            for name in tables:
                if name in tracked:
                    self.execute(
                        self.disable_table_sql(name), doing=f"disable change tracking on {name}"
                    )

    def tracked_tables(self) -> list[TableName]:
        rows = self.query(self.sql("tracking", "tracked"), doing="list tracked tables")
        return [TableName(s, t) for s, t in rows]

    def current_watermark(self) -> Watermark:
        (version,) = self.query(
            self.sql("tracking", "current_version"), doing="read the current CT version"
        )[0]
        if version is None:
            raise ConfigError(
                f"change tracking is not enabled on {self.describe()}",
                fix="run `bluegreen tracking enable --db <blue url>` first",
            )
        return Watermark(version=int(version))

    def table_versions(self, name: TableName) -> tuple[int | None, int | None]:
        """(min valid version, version tracking began at) of ``name``; Nones when untracked."""
        qualified = self.qualify(name)
        min_valid, begin = self.query(
            self.sql("tracking", "table_versions"),
            [qualified, qualified],
            doing=f"read the CT versions of {name}",
        )[0]
        return (
            None if min_valid is None else int(min_valid),
            None if begin is None else int(begin),
        )

    def check_valid(self, tables: Sequence[TableName], since: Watermark) -> list[TableValidity]:
        return [validity(name, since, *self.table_versions(name)) for name in tables]

    def since_version(self, table: Table, since: Watermark) -> int:
        """The ``last_sync_version`` for CHANGETABLE. For the origin watermark (a green that
        has seen nothing) it is the table's min valid version: CHANGETABLE then returns every
        change CT still holds, which is every change since tracking began as long as
        check_valid passed (min valid version not past the begin version). Rows that existed
        before tracking began are never changes: such a green is seeded by a copy, not synced
        from origin."""
        if not since.origin:
            return since.version
        min_valid, _ = self.table_versions(table.name)
        if min_valid is None:
            raise ConfigError(
                f"table {table.name} is not tracked on {self.describe()}",
                fix=f"run `bluegreen tracking enable --db <blue url> --table {table.name}`",
            )
        return min_valid

    def changes_sql(self, table: Table) -> str:
        """Net changes in (?, ?] joined to current rows; the column contract of
        ``SQLiteDialect._changes_sql``: writable columns (keys from CT, the rest from the row),
        then ``__bg_present`` (1 when the row exists) and ``__bg_op`` (D when it does not)."""
        self.require_primary_key(table)
        q = self.quote
        target = self.qualify(table.name)
        select = self.changes_select(
            table, {k: f"ct.{q(k)}" for k in table.primary_key}, "ct.SYS_CHANGE_OPERATION"
        )
        join = " AND ".join(f"b.{q(k)} = ct.{q(k)}" for k in table.primary_key)
        return (
            f"SELECT {', '.join(select)} FROM CHANGETABLE(CHANGES {target}, ?) AS ct "
            f"LEFT JOIN {target} AS b ON {join} WHERE ct.SYS_CHANGE_VERSION <= ?"
        )

    def count_changes_sql(self, table: Table) -> str:
        return f"SELECT COUNT(*) FROM CHANGETABLE(CHANGES {self.qualify(table.name)}, ?) AS ct"

    def read_changes(
        self, table: Table, since: Watermark, upto: Watermark, batch_size: int
    ) -> Iterator[ChangeBatch]:
        sql = self.changes_sql(table)
        start = self.since_version(table, since)
        for names, rows in self.stream(
            sql, [start, upto.version], batch_size, doing=f"read changes of {table.name}"
        ):
            yield ChangeBatch(names, rows)

    def count_changes(self, table: Table, since: Watermark) -> int:
        start = self.since_version(table, since)
        rows = self.query(
            self.count_changes_sql(table), [start], doing=f"count changes of {table.name}"
        )
        return int(rows[0][0])

    def cleanup_changes(self, before: Watermark) -> int:
        raise TerminalError(
            f"mssql {self.describe()}: SQL Server Change Tracking cleans up its own change "
            "information (AUTO_CLEANUP after CHANGE_RETENTION); bluegreen owns no change log "
            "to clean up there",
            fix="nothing to do; to keep less history, lower CHANGE_RETENTION with ALTER "
            "DATABASE ... SET CHANGE_TRACKING (CHANGE_RETENTION = n DAYS), keeping it longer "
            "than green may fall behind",
        )

    # ---- freezing blue (cutover) --------------------------------------------------------------
    def freeze_sql(self) -> str:
        return self.sql("freeze", "freeze")

    def unfreeze_sql(self) -> str:
        return self.sql("freeze", "unfreeze")

    def freeze(self) -> None:
        """Make the database READ_ONLY, rolling back other sessions' open transactions. The
        state is the database's own: it outlives this connection."""
        with self.autocommit(f"freeze {self.describe()}"):
            self.execute(self.freeze_sql(), doing=f"freeze {self.describe()}")

    def unfreeze(self) -> None:
        """Back to READ_WRITE (a no-op on a writable database)."""
        with self.autocommit(f"unfreeze {self.describe()}"):
            self.execute(self.unfreeze_sql(), doing=f"unfreeze {self.describe()}")

    def is_frozen(self) -> bool:
        rows = self.query(self.sql("freeze", "is_read_only"), doing="read the database state")
        return str(rows[0][0]).upper() == "READ_ONLY"

    # ---- green: stages ------------------------------------------------------------------------
    def stage_type(self, column: Column) -> str:
        """The column's type, nullable (a deleted key's other columns are NULL). String columns
        take the database's collation: a #temp table otherwise gets tempdb's, and comparing
        its keys with the table's fails with a collation conflict (error 468). Identity,
        computed and rowversion properties are never copied (the stage holds plain values)."""
        text = column.type
        if _is_char_type(text) and " collate " not in text.lower():
            text += " COLLATE DATABASE_DEFAULT"
        return f"{text} NULL"

    def create_stage_sql(self, stage: str, column_defs: list[str]) -> str:
        # Explicit column types, never SELECT ... INTO: that copies IDENTITY onto the stage.
        return f"CREATE TABLE {stage} ({', '.join(column_defs)})"

    def load_stage(self, index: int, columns: Sequence[str], frame: pl.DataFrame) -> int:
        """Bulk insert with pyodbc's fast_executemany (one round trip per parameter array)."""
        stage = self.stage_name(index)
        names = [*columns, PRESENT]
        rows = frame.select(names).rows()
        if not rows:  # pyodbc refuses an empty executemany
            return 0
        sql = (
            f"INSERT INTO {stage} ({', '.join(self.quote(c) for c in names)}) "
            f"VALUES ({self.placeholder(len(names))})"
        )
        with self.errors(f"load stage {stage}"):
            cur = self.conn.cursor()
            try:
                cur.fast_executemany = True
                cur.executemany(sql, rows)
            finally:
                cur.close()
        return len(rows)

    # ---- green: apply (narrow T-SQL overrides of the general builder) -------------------------
    def mark_new_sql(self, table: Table, stage: str, key: Sequence[str]) -> str:
        # T-SQL cannot alias the UPDATE target (UPDATE t AS s): it updates an alias defined in
        # its FROM clause instead.
        target = self.qualify(table.name)
        p = self.quote(PRESENT)
        return (
            f"UPDATE s SET {p} = 2 FROM {stage} AS s WHERE s.{p} = 1 AND NOT EXISTS "
            f"(SELECT 1 FROM {target} AS g WHERE {self._key_match(key, 'g', 's')})"
        )

    def update_sql(
        self,
        table: Table,
        stage: str,
        columns: Sequence[str],
        key: Sequence[str],
        include_new: bool = False,
    ) -> str:
        # T-SQL: UPDATE g SET ... FROM [s].[t] AS g INNER JOIN #stage AS s ON ... (no
        # "UPDATE t AS g"); the SET list names target columns bare.
        target = self.qualify(table.name)
        sets = ", ".join(f"{self.quote(c)} = s.{self.quote(c)}" for c in columns)
        flag = "IN (1, 2)" if include_new else "= 1"
        return (
            f"UPDATE g SET {sets} FROM {target} AS g INNER JOIN {stage} AS s "
            f"ON {self._key_match(key, 'g', 's')} WHERE s.{self.quote(PRESENT)} {flag}"
        )

    def delete_sql(self, table: Table, stage: str, key: Sequence[str]) -> str:
        # T-SQL: DELETE g FROM [s].[t] AS g ... (no "DELETE FROM t AS g").
        target = self.qualify(table.name)
        return (
            f"DELETE g FROM {target} AS g WHERE EXISTS (SELECT 1 FROM {stage} AS s "
            f"WHERE {self._key_match(key, 'g', 's')} AND s.{self.quote(PRESENT)} = 0)"
        )

    def unlink_sql(
        self, table: Table, stage: str, columns: Sequence[str], key: Sequence[str]
    ) -> str:
        # Same UPDATE ... FROM ... JOIN form as update_sql.
        target = self.qualify(table.name)
        sets = ", ".join(f"{self.quote(c)} = NULL" for c in columns)
        return (
            f"UPDATE g SET {sets} FROM {target} AS g INNER JOIN {stage} AS s "
            f"ON {self._key_match(key, 'g', 's')} WHERE s.{self.quote(PRESENT)} = 0"
        )

    def lock_row_sql(self, columns: Sequence[str], table: str, where: str) -> str:
        # T-SQL has no SELECT ... FOR UPDATE: UPDLOCK takes an update lock a second sync's
        # identical read must wait for, HOLDLOCK keeps it (and the key range) until commit.
        return f"SELECT {', '.join(columns)} FROM {table} WITH (UPDLOCK, HOLDLOCK) WHERE {where}"

    def advance_identities(self) -> list[str]:
        """Nothing to move: an explicit value inserted under IDENTITY_INSERT ON that is larger
        than the table's current identity value becomes its current value (SQL Server's own
        rule), so green's counters already follow the keys the sync wrote."""
        return []

    def identity_insert_sql(self, table: Table, on: bool) -> str:
        return f"SET IDENTITY_INSERT {self.qualify(table.name)} {'ON' if on else 'OFF'}"

    def _writes_identity(self, table: Table, sql: str) -> bool:
        """Does the INSERT ``sql`` (built by insert_sql) name one of ``table``'s identity
        columns? Only then may IDENTITY_INSERT be ON: with it ON, an INSERT that leaves the
        identity column out fails (error 545)."""
        identity = {c.name for c in table.columns if c.identity}
        if not identity:
            return False
        prefix = f"INSERT INTO {self.qualify(table.name)} ("
        if not sql.startswith(prefix):
            return True
        return bool(identity.intersection(unquote_list(sql, len(prefix))))

    def insert_statements(self, table: Table, sql: str) -> list[str]:
        if not self._writes_identity(table, sql):
            return [sql]
        return [self.identity_insert_sql(table, True), sql, self.identity_insert_sql(table, False)]

    def run_insert(self, table: Table, sql: str, doing: str) -> int:
        """Explicit identity values need SET IDENTITY_INSERT ON around the INSERT. Only one table
        per session may have it ON, and the setting outlives a failed transaction, so it is
        switched OFF again whatever happens."""
        if not self._writes_identity(table, sql):
            return self.execute(sql, doing=doing)
        self.execute(self.identity_insert_sql(table, True), doing=doing)
        try:
            return self.execute(sql, doing=doing)
        finally:
            with contextlib.suppress(BlueGreenError):
                self.execute(self.identity_insert_sql(table, False), doing=doing)


__all__ = [
    "DEFAULT_DRIVER",
    "MSSQLDialect",
    "datetimeoffset",
    "describe_url",
    "error_codes",
    "odbc_connection_string",
    "odbc_value",
    "parse_odbc",
    "type_text",
    "unquote_list",
    "validity",
]
