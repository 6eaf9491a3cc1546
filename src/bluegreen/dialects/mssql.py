"""SQL Server / Azure SQL: the production engine, through pyodbc and native Change Tracking.

Change Tracking (CT) is the reference the other engines emulate, so this dialect reads it
directly: ``CHANGETABLE(CHANGES t, @last)`` joined to the current rows, inside ONE snapshot
transaction per window (Microsoft's documented pattern), after checking every table's
``CHANGE_TRACKING_MIN_VALID_VERSION``. CT keeps and cleans its own history, so nothing here
owns a change log.

No SQL Server runs where bluegreen is developed: the static SQL lives in ``sql/mssql/*.sql``,
every generated statement is pinned by golden files and parse-checked with sqlfluff (tsql),
and tests/integration/test_mssql_live.py (sync) and test_mssql_release_live.py (copies, drops,
scripts, the rolling upgrade) run it for real when BLUEGREEN_TEST_MSSQL_URL is set. The release
methods' rules live in :mod:`~bluegreen.dialects.mssql_copy` (whole-database copies) and
:mod:`~bluegreen.dialects.mssql_script` (``GO`` batches).

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

from bluegreen.dialects import mssql_copy
from bluegreen.dialects.base import PRESENT, ChangeBatch, Dialect, Params, TableValidity
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
from bluegreen.dialects.mssql_script import split_batches
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

# Errors of whole-database copies and drops, and what to do about each (the server's own text
# says what failed; these say which bluegreen setting or permission cures it).
COPY_FIXES: dict[int, str] = {
    3201: "the server's service account cannot open that backup file: set bluegreen_backup_dir "
    "in the URL to a folder it can write (and the target server can read)",
    5133: "the target server cannot use that folder: set bluegreen_data_dir / bluegreen_log_dir "
    "in the target URL to folders its service account can write",
    3156: "the target server cannot create the copy's files there: set bluegreen_data_dir / "
    "bluegreen_log_dir in the target URL to folders its service account can write",
    1834: "a file of that name belongs to another database: drop that database, or set "
    "bluegreen_data_dir to another folder",
    3154: "the database exists and holds another database's backup: pass replace=True",
    1801: "the database exists already: drop it, or pass replace=True",
    3101: "other sessions still use the database (one took it back after ROLLBACK IMMEDIATE): "
    "stop the application's sessions to it and run the step again",
    3702: "other sessions still use the database: stop them and run the step again",
    262: "the login may not create databases: grant it dbcreator (SQL Server) or the dbmanager "
    "role in master (Azure SQL), and BACKUP DATABASE on the source (db_backupoperator)",
    3021: "BACKUP / RESTORE ran inside a transaction: this is a bluegreen bug, please report it",
}

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
        fix = next((COPY_FIXES[n] for n in natives if n in COPY_FIXES), None)
        if fix is not None:
            return TerminalError(f"{where}: {text}", fix=fix)
        if SNAPSHOT_NOT_ALLOWED in natives:
            return TerminalError(
                f"{where}: snapshot isolation is not allowed on the database: {text}",
                fix="run `bluegreen tracking enable --db <blue url>` (it sets "
                "ALLOW_SNAPSHOT_ISOLATION ON), or ALTER DATABASE ... SET "
                "ALLOW_SNAPSHOT_ISOLATION ON yourself",
            )
        return TerminalError(f"{where}: {text}")

    # ---- running statements -------------------------------------------------------------------
    @staticmethod
    def _send(cur: Any, sql: str, params: Sequence[Any]) -> None:
        # Without parameters pyodbc sends the statement as it is (SQLExecDirect). With any,
        # the driver wraps it in sp_executesql, and a #temp table created in there would vanish
        # when that call ends: stage DDL must go this parameterless way.
        if params:
            cur.execute(sql, tuple(params))
        else:
            cur.execute(sql)

    def execute(self, sql: str, params: Sequence[Any] = (), doing: str = "a statement") -> int:
        with self.errors(doing):
            cur = self.conn.cursor()
            try:
                self._send(cur, sql, params)
                return cur.rowcount
            finally:
                cur.close()

    def run_to_end(self, sql: str, params: Sequence[Any] = (), doing: str = "a batch") -> list[str]:
        """Run a batch and read every result set and message it sends; return the messages.

        pyodbc raises an error of a later statement in a batch only when its result is reached
        (``nextset``), and BACKUP / RESTORE stop half-way when their cursor is closed before
        their progress messages are read (pyodbc issues #471, #795): executing is not enough."""
        with self.errors(doing):
            cur = self.conn.cursor()
            try:
                self._send(cur, sql, params)
                messages = [str(m[-1]) for m in getattr(cur, "messages", None) or []]
                while cur.nextset():
                    messages += [str(m[-1]) for m in getattr(cur, "messages", None) or []]
                return messages
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
        uniques: dict[int, dict[str, list[str]]] = {}
        for oid, index, col, _ordinal in self.query(
            q("introspect", "unique_keys"), doing="list unique keys"
        ):
            uniques.setdefault(oid, {}).setdefault(index, []).append(col)
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
                unique_keys=tuple(tuple(c) for c in uniques.get(oid, {}).values()),
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

    # ---- release: copies, drops, scripts (bluegreen.release) -----------------------------------
    copy_keeps_watermark: ClassVar[bool] = False
    """A restored backup or an Azure SQL copy does hold blue's change tracking, but bluegreen
    does not read its position inside the copy: the baseline is captured on blue before the
    copy and the overlap replayed, as on PostgreSQL (safe whatever the copy's end point)."""
    copy_blocks_source: ClassVar[bool] = False
    """BACKUP ... WITH COPY_ONLY and CREATE DATABASE ... AS COPY OF read the source online:
    its sessions go on reading and writing while it is copied."""
    copy_poll_seconds: ClassVar[float] = 5.0
    """Seconds between two reads of an Azure SQL copy's progress (the copy runs on after
    CREATE DATABASE ... AS COPY OF returns)."""

    def copy_database(self, target: SecretStr, *, replace: bool = False) -> None:
        """BACKUP/RESTORE on SQL Server, CREATE DATABASE ... AS COPY OF on Azure SQL Database
        (the ``bluegreen_copy`` URL setting; details in :mod:`bluegreen.dialects.mssql_copy`).
        Runs on master connections of its own: this connection stays open and usable."""
        mssql_copy.copy_database(self, target, replace)

    @classmethod
    def drop_database(cls, url: SecretStr) -> None:
        """From master: SINGLE_USER WITH ROLLBACK IMMEDIATE (not on Azure SQL), then DROP."""
        mssql_copy.drop_database(cls, url)

    @classmethod
    def database_exists(cls, url: SecretStr) -> bool:
        """Looked up in sys.databases from master (the database itself is never opened)."""
        return mssql_copy.database_exists(cls, url)

    def run_script(self, text: str, doing: str = "run a script") -> None:
        """Run a sqlcmd-style script: cut into batches on ``GO`` lines (``GO n`` repeats one;
        see :mod:`bluegreen.dialects.mssql_script`), each sent as it is, in order, with
        autocommit on as sqlcmd does (a script that wants one transaction opens it itself).
        The first failing batch stops the script and is named by its first line."""
        batches = split_batches(text)
        with self.autocommit(doing):
            for number, batch in enumerate(batches, start=1):
                for run in range(1, batch.count + 1):
                    again = f", run {run} of {batch.count}" if batch.count > 1 else ""
                    where = f"batch {number} of {len(batches)} (line {batch.line}{again})"
                    self.run_to_end(batch.text, doing=f"{doing}: {where}")

    # Statements with a database name where T-SQL takes no variable: built here, name quoted.
    def single_user_sql(self, database: str) -> str:
        """End every other session of ``database`` (their transactions roll back) and keep
        new ones out, so RESTORE ... REPLACE or DROP DATABASE gets it to itself."""
        return f"ALTER DATABASE {self.quote(database)} SET SINGLE_USER WITH ROLLBACK IMMEDIATE"

    def drop_statements(self, database: str, *, single_user: bool) -> list[str]:
        drop = f"DROP DATABASE {self.quote(database)}"
        return [self.single_user_sql(database), drop] if single_user else [drop]

    def copy_of_sql(self, target: str, source: str, source_server: str | None = None) -> str:
        """Azure SQL: start an asynchronous copy of ``source`` (on ``source_server`` when it
        is another logical server) as the new database ``target``."""
        src = self.quote(source)
        if source_server:
            src = f"{self.quote(source_server)}.{src}"
        return f"CREATE DATABASE {self.quote(target)} AS COPY OF {src}"

    def restore_sql(self, moves: int, *, replace: bool) -> str:
        """RESTORE of a full backup as a new database, every logical file moved to a new path.
        Parameters: database, backup file, then (logical name, path) per file."""
        options = ["MOVE ? TO ?"] * moves + (["REPLACE"] if replace else []) + ["RECOVERY"]
        return f"RESTORE DATABASE ? FROM DISK = ? WITH {', '.join(options)}"

    def restore_statements(
        self, database: str, moves: int, replace: bool, single_user: bool
    ) -> list[str]:
        """The restore batch; ``single_user``: first end the sessions of the ONLINE database
        it replaces (in the same batch, so no session slips in between)."""
        restore = self.restore_sql(moves, replace=replace)
        return [self.single_user_sql(database), restore] if single_user else [restore]

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

    # ---- green: apply --------------------------------------------------------------------------
    # insert / update / delete / unlink are the general builder's: update_from_alias and
    # delete_alias (False) make it write T-SQL's UPDATE g ... FROM t AS g and DELETE g FROM t AS g.
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

    def run_insert(self, table: Table, sql: str, doing: str, params: Params = ()) -> int:
        """Explicit identity values need SET IDENTITY_INSERT ON around the INSERT. Only one table
        per session may have it ON, and the setting outlives a failed transaction, so it is
        switched OFF again whatever happens."""
        if not self._writes_identity(table, sql):
            return self.execute(sql, params, doing=doing)
        self.execute(self.identity_insert_sql(table, True), doing=doing)
        try:
            return self.execute(sql, params, doing=doing)
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
