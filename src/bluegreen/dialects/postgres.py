"""PostgreSQL through psycopg 3: the real server for integration, concurrency and fault tests.

Change tracking is emulated with statement-level AFTER triggers (transition tables) that append
the changed keys, stamped with ``pg_current_xact_id()``, to a per-table log. A plain sequence
watermark would lose a transaction that took its sequence number early and committed late, so a
window is instead defined by two snapshots (the PgQ idea): the log rows visible in this sync's
REPEATABLE READ snapshot S and not visible in the previous window's snapshot S_prev. The stored
watermark *is* S (its text rides in ``Watermark.position``; its xmax is the ordering version).
"""

from __future__ import annotations

import contextlib
import io
import re
import time
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import polars as pl
import psycopg
import psycopg.conninfo
import psycopg.errors
from pydantic import SecretStr

from bluegreen import sqlfiles
from bluegreen.dialects.base import PRESENT, ChangeBatch, Dialect, TableValidity
from bluegreen.errors import (
    ApplyError,
    BlueGreenError,
    ConfigError,
    TerminalError,
    TransientError,
)
from bluegreen.schema import Column, ForeignKey, Schema, Table, TableName
from bluegreen.watermark import Watermark

# SQLSTATE classes and codes a retry can cure.
_TRANSIENT_CLASSES = ("08", "53", "57P")
_TRANSIENT_CODES = {"40001", "40P01", "55P03", "57014", "55006"}
# Below this many staged rows ANALYZE costs more than the better plan saves.
_ANALYZE_ROWS = 10_000
# a quoted identifier or a string literal (each with its doubled quotes), in statement text
_QUOTED = re.compile(r'"(?:[^"]|"")*"|\'(?:[^\']|\'\')*\'')


def _double_percent_in_identifier(match: re.Match[str]) -> str:
    text = match.group(0)
    return text.replace("%", "%%") if text.startswith('"') else text


class PostgresDialect(Dialect):
    """PostgreSQL 13+ (xid8 snapshots) through psycopg 3."""

    name: ClassVar[str] = "postgresql"
    supports_schemas: ClassVar[bool] = True
    default_schema: ClassVar[str | None] = "public"
    paramstyle: ClassVar[str] = "format"
    identity_insert_clause: ClassVar[str] = " OVERRIDING SYSTEM VALUE"
    truncate_invalidates: ClassVar[bool] = True
    watermark_has_position: ClassVar[bool] = True
    changes_in_key_order: ClassVar[bool] = True
    threaded_reads: ClassVar[bool] = True
    """psycopg connections are thread-safe and release the GIL while waiting on the server."""
    apply_key_range: ClassVar[bool] = True
    """Its planner hashes the stage and scans the target: a key range lets it read the target's
    range through the primary key instead, one pass over the table for the whole backlog."""
    stream_apply_rows: ClassVar[int] = 100_000
    """With bounded applies a smaller stage is cheaper (its hash fits memory, the target's range
    is short): a 5,000,000-change backlog drained in 45 s with 100,000 vs 58 s with 500,000."""

    def __init__(self, connection: Any = None, url: SecretStr | None = None) -> None:
        super().__init__(connection, url)
        self._stage_rows: dict[int, int] = {}
        self._registry_cache: dict[TableName, int] | None = None
        self._cursor_seq = 0

    @classmethod
    def connect(cls, url: SecretStr) -> PostgresDialect:
        raw = url.get_secret_value()
        if raw.startswith("postgres://"):
            raw = "postgresql://" + raw[len("postgres://") :]
        try:
            conn = psycopg.connect(raw, autocommit=True, connect_timeout=10)
        except psycopg.OperationalError as exc:
            text = _scrub(str(exc), url)
            if any(
                m in text for m in ("does not exist", "authentication failed", "password", "role")
            ):
                raise ConfigError(
                    f"cannot connect to PostgreSQL: {text}",
                    fix="check the database name, user and password in the connection string",
                ) from None
            raise TransientError(
                f"cannot connect to PostgreSQL: {text}",
                fix="check that the server is running and reachable; the next attempt retries",
            ) from None
        return cls(conn, url)

    def describe(self) -> str:
        if self.conn is None:
            return "postgresql"
        info = self.conn.info
        return f"postgresql://{info.host}:{info.port}/{info.dbname}"

    def is_alive(self) -> bool:
        return self.conn is not None and not self.conn.closed and not self.conn.broken

    # ---- errors -------------------------------------------------------------------------------
    def classify(self, exc: BaseException, doing: str) -> BlueGreenError:
        state = getattr(exc, "sqlstate", None) or ""
        text = _scrub(str(exc).strip(), self.url)
        diag = getattr(exc, "diag", None)
        detail = getattr(diag, "message_detail", None) if diag is not None else None
        if detail:
            text = f"{text} ({detail})"
        where = f"postgresql: {doing}: {text}"
        if state in _TRANSIENT_CODES or state.startswith(_TRANSIENT_CLASSES):
            return TransientError(where, fix="a retry can succeed (connection, lock, deadlock)")
        if isinstance(exc, psycopg.OperationalError) and not state:
            # no SQLSTATE: the connection itself failed (server gone, network cut)
            return TransientError(where, fix="the connection was lost; the next attempt reconnects")
        if state.startswith(("23", "22")):
            return ApplyError(where)
        return TerminalError(where)

    # ---- transactions -------------------------------------------------------------------------
    def begin(self) -> None:
        self.execute("BEGIN", doing="begin")
        self._in_tx = True

    def begin_snapshot(self) -> None:
        # REPEATABLE READ fixes one snapshot at the first statement; every table is read in it.
        self.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", doing="begin snapshot")
        self._in_tx = True

    def commit(self) -> None:
        self.execute("COMMIT", doing="commit")
        self._in_tx = False

    def rollback(self) -> None:
        with contextlib.suppress(Exception):
            if self.conn is not None and not self.conn.closed:
                self.conn.execute("ROLLBACK")
        self._in_tx = False

    def marked_text(self, sql: str) -> str:
        # psycopg reads every % of a statement with parameters as a marker (%s, %(name)s): a %
        # inside a quoted identifier ("odd%fact") must be doubled, or the statement fails
        return _QUOTED.sub(_double_percent_in_identifier, sql)

    def stream_cursor(self) -> Any:
        # A named (server-side) cursor keeps the client's memory flat on a big window; it needs
        # the surrounding transaction, which the window's snapshot provides.
        if self.conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS:
            self._cursor_seq += 1
            return self.conn.cursor(name=f"bg_read_{self._cursor_seq}")
        return self.conn.cursor()

    # ---- introspection ------------------------------------------------------------------------
    def server_version(self) -> str:
        return str(self.query(self.sql("introspect", "version"))[0][0])

    def introspect(self) -> Schema:
        cols: dict[TableName, list[Column]] = {}
        for nsp, rel, att, typ, nullable, identity, generated in self.query(
            self.sql("introspect", "columns"), doing="introspect columns"
        ):
            cols.setdefault(TableName(nsp, rel), []).append(
                Column(att, typ, bool(nullable), bool(identity), bool(generated))
            )
        pks: dict[TableName, list[str]] = {}
        for nsp, rel, att in self.query(self.sql("introspect", "primary_keys")):
            pks.setdefault(TableName(nsp, rel), []).append(att)
        fks: dict[tuple[TableName, str], tuple[TableName, list[str], list[str]]] = {}
        for con, nsp, rel, rnsp, rrel, att, ratt in self.query(
            self.sql("introspect", "foreign_keys")
        ):
            entry = fks.setdefault((TableName(nsp, rel), con), (TableName(rnsp, rrel), [], []))
            entry[1].append(att)
            entry[2].append(ratt)
        uniques: dict[TableName, dict[str, list[str]]] = {}
        for nsp, rel, idx, att in self.query(
            self.sql("introspect", "unique_keys"), doing="introspect unique keys"
        ):
            uniques.setdefault(TableName(nsp, rel), {}).setdefault(idx, []).append(att)
        schema = Schema(default_schema=self.default_schema)
        for name, columns in cols.items():
            schema.tables[name] = Table(
                name=name,
                columns=tuple(columns),
                primary_key=tuple(pks.get(name, ())),
                foreign_keys=tuple(
                    ForeignKey(con, tuple(a), ref, tuple(r))
                    for (owner, con), (ref, a, r) in sorted(fks.items(), key=lambda kv: kv[0][1])
                    if owner == name
                ),
                unique_keys=tuple(tuple(c) for c in uniques.get(name, {}).values()),
            )
        self.rollback_if_idle_tx()
        return schema

    def rollback_if_idle_tx(self) -> None:
        """Nothing to do in autocommit mode; kept for symmetry with snapshot reads."""

    # ---- change tracking ----------------------------------------------------------------------
    def _log(self, table_id: int) -> str:
        return self.own(f"ct_log_{table_id}")

    def _has_tracking(self) -> bool:
        return bool(self.query(self.sql("tracking", "has_tracking"))[0][0])

    def _registry(self, refresh: bool = False) -> dict[TableName, int]:
        if self._registry_cache is None or refresh:
            if not self._has_tracking():
                return {}
            self._registry_cache = {
                TableName(nsp, rel): int(tid)
                for tid, nsp, rel in self.query(self.sql("tracking", "tracked"))
            }
        return self._registry_cache

    def enable_tracking(self, tables: Sequence[Table]) -> list[TableName]:
        for t in tables:
            self.require_primary_key(t)
        enabled: list[TableName] = []
        with self.transaction():
            self.run_file("tracking", ["schema", "registry", "truncate_function"])
            self._registry_cache = None
            known = self._registry(refresh=True)
            for t in tables:
                if t.name in known:
                    continue
                (tid,) = self.query(
                    self.sql("tracking", "register"),
                    [t.name.schema, t.name.name, list(t.primary_key)],
                    doing=f"register {t.name}",
                )[0]
                for stmt in self.tracking_ddl(t, int(tid)):
                    self.execute(stmt, doing=f"enable tracking on {t.name}")
                enabled.append(t.name)
        self._registry_cache = None
        return enabled

    def tracking_ddl(self, table: Table, table_id: int) -> list[str]:
        """The change log, its capture function and the four statement triggers of a table."""
        log = self._log(table_id)
        target = self.qualify(table.name)
        pk = [table.column(c) for c in table.primary_key]
        keys = [f"k{i}" for i in range(len(pk))]
        key_defs = ", ".join(f"{k} {c.type}" for k, c in zip(keys, pk, strict=True))
        key_list = ", ".join(keys)
        fn = self.own(f"ct_capture_{table_id}")

        def cols(alias: str) -> str:
            return ", ".join(f"{alias}.{self.quote(c.name)}" for c in pk)

        same = " AND ".join(f"n.{self.quote(c.name)} = o.{self.quote(c.name)}" for c in pk)
        body = (
            "BEGIN\n"
            "  IF TG_OP = 'INSERT' THEN\n"
            f"    INSERT INTO {log} (op, {key_list}) SELECT 'I', {cols('n')} FROM bg_new AS n;\n"
            "  ELSIF TG_OP = 'DELETE' THEN\n"
            f"    INSERT INTO {log} (op, {key_list}) SELECT 'D', {cols('o')} FROM bg_old AS o;\n"
            "  ELSE\n"
            "    -- a key that left is a delete, one that arrived an insert (a PK change: both)\n"
            f"    INSERT INTO {log} (op, {key_list})\n"
            f"    SELECT 'D', {cols('o')} FROM bg_old AS o\n"
            f"      WHERE NOT EXISTS (SELECT 1 FROM bg_new AS n WHERE {same})\n"
            "    UNION ALL\n"
            f"    SELECT CASE WHEN EXISTS (SELECT 1 FROM bg_old AS o WHERE {same}) "
            f"THEN 'U' ELSE 'I' END, {cols('n')} FROM bg_new AS n;\n"
            "  END IF;\n"
            "  RETURN NULL;\n"
            "END"
        )
        trig = lambda kind: self.quote(f"bluegreen_ct_{kind}")  # noqa: E731
        return [
            f"CREATE TABLE {log} (seq bigint GENERATED ALWAYS AS IDENTITY, "
            f"txid xid8 NOT NULL DEFAULT pg_current_xact_id(), op char(1) NOT NULL, {key_defs})",
            f"CREATE INDEX ON {log} (txid)",
            f"CREATE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER "
            f"SET search_path = pg_catalog, pg_temp AS $bg$\n{body}\n$bg$",
            f"CREATE TRIGGER {trig('ins')} AFTER INSERT ON {target} REFERENCING NEW TABLE AS "
            f"bg_new FOR EACH STATEMENT EXECUTE FUNCTION {fn}()",
            f"CREATE TRIGGER {trig('upd')} AFTER UPDATE ON {target} REFERENCING OLD TABLE AS "
            f"bg_old NEW TABLE AS bg_new FOR EACH STATEMENT EXECUTE FUNCTION {fn}()",
            f"CREATE TRIGGER {trig('del')} AFTER DELETE ON {target} REFERENCING OLD TABLE AS "
            f"bg_old FOR EACH STATEMENT EXECUTE FUNCTION {fn}()",
            f"CREATE TRIGGER {trig('trunc')} AFTER TRUNCATE ON {target} FOR EACH STATEMENT "
            f"EXECUTE FUNCTION {self.own('ct_truncated')}('{int(table_id)}')",
        ]

    def disable_tracking(self, tables: Sequence[TableName]) -> None:
        known = self._registry(refresh=True)
        with self.transaction():
            for name in tables:
                tid = known.get(name)
                if tid is None:
                    continue
                target = self.qualify(name)
                for kind in ("ins", "upd", "del", "trunc"):
                    trigger = self.quote(f"bluegreen_ct_{kind}")
                    self.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {target}")
                self.execute(f"DROP TABLE IF EXISTS {self._log(tid)}")
                self.execute(f"DROP FUNCTION IF EXISTS {self.own(f'ct_capture_{tid}')}()")
                self.execute(self.sql("tracking", "unregister"), [tid])
        self._registry_cache = None

    def tracked_tables(self) -> list[TableName]:
        return sorted(self._registry(refresh=True))

    def current_watermark(self) -> Watermark:
        if not self._has_tracking():
            raise ConfigError(
                f"change tracking is not enabled on {self.describe()}",
                fix="run `bluegreen tracking enable --db <blue url>` first",
            )
        snap, xmax = self.query(self.sql("tracking", "current"), doing="read the snapshot")[0]
        return Watermark(version=int(xmax), position=str(snap))

    def check_valid(self, tables: Sequence[TableName], since: Watermark) -> list[TableValidity]:
        known = self._registry(refresh=True)
        if since.origin:
            rows = self.query(self.sql("tracking", "validity_from_origin"))
        else:
            rows = self.query(self.sql("tracking", "validity"), {"snap": since.position})
        by_id = {int(r[0]): r[1:] for r in rows}
        out = []
        for name in tables:
            tid = known.get(name)
            if tid is None or tid not in by_id:
                out.append(TableValidity(name, False, "change tracking is not enabled on it"))
                continue
            valid, invalidated, pruned = by_id[tid]
            if valid:
                out.append(TableValidity(name, True))
                continue
            if since.origin:
                why = (
                    "it was truncated, re-enabled or its change log cleaned up since tracking "
                    "began, so a green that starts empty cannot be built from the log"
                )
            elif pruned != "0" and int(pruned) > int(since.position.split(":", 1)[0]):
                why = (
                    f"its change log was cleaned up past green's watermark (log kept from "
                    f"transaction {pruned}, watermark snapshot {since.position})"
                )
            else:
                why = (
                    f"it was truncated or (re-)enabled for tracking in transaction {invalidated}, "
                    f"after green's watermark (snapshot {since.position})"
                )
            out.append(TableValidity(name, False, why))
        return out

    def _window_filter(self, since: Watermark) -> tuple[str, dict[str, Any]]:
        if since.origin:
            return "TRUE", {}
        # Everything not visible in the previous snapshot; txids below its xmin were all
        # finished (so visible, or rolled back and gone), which lets the index narrow the scan.
        return (
            "txid >= pg_snapshot_xmin(%(prev)s::pg_snapshot) "
            "AND NOT pg_visible_in_snapshot(txid, %(prev)s::pg_snapshot)",
            {"prev": since.position},
        )

    def changes_sql(self, table: Table, table_id: int, where: str) -> str:
        """Net changes per key in the window, joined to the key's current row (if any)."""
        return self.log_changes_sql(table, self._log(table_id), where)

    def read_changes(
        self, table: Table, since: Watermark, upto: Watermark, batch_size: int
    ) -> Iterator[ChangeBatch]:
        # ``upto`` is this transaction's own snapshot: visibility bounds the window from above.
        tid = self._table_id(table.name)
        where, params = self._window_filter(since)
        sql = self.changes_sql(table, tid, where)
        for names, rows in self.stream(
            sql, params, batch_size, doing=f"read changes of {table.name}"
        ):
            yield ChangeBatch(names, rows)

    def count_changes(self, table: Table, since: Watermark) -> int:
        tid = self._table_id(table.name)
        where, params = self._window_filter(since)
        keys = ", ".join(f"k{i}" for i in range(len(table.primary_key)))
        sql = (
            f"SELECT count(*) FROM (SELECT DISTINCT {keys} FROM {self._log(tid)} "
            f"WHERE {where}) AS x"
        )
        return int(self.query(sql, params)[0][0])

    def cleanup_changes(self, before: Watermark) -> int:
        if before.origin:
            return 0
        removed = 0
        with self.transaction():
            for tid in self._registry(refresh=True).values():
                sql = (
                    f"DELETE FROM {self._log(tid)} "
                    "WHERE txid < pg_snapshot_xmin(%(snap)s::pg_snapshot)"
                )
                removed += max(0, self.execute(sql, {"snap": before.position}))
            snap = {"snap": before.position}
            self.execute(self.sql("tracking", "raise_pruned_below"), snap)
        return removed

    def _table_id(self, name: TableName) -> int:
        tid = self._registry().get(name)
        if tid is None:
            tid = self._registry(refresh=True).get(name)
        if tid is None:
            raise ConfigError(
                f"table {name} is not tracked on {self.describe()}",
                fix=f"run `bluegreen tracking enable --db <blue url> --table {name}`",
            )
        return tid

    # ---- green --------------------------------------------------------------------------------
    def install_state(self) -> None:
        self.run_file("green_state")

    def create_stage_sql(self, stage: str, column_defs: list[str]) -> str:
        return f"CREATE TEMPORARY TABLE {stage} ({', '.join(column_defs)})"

    def create_stage(self, index: int, columns: Sequence[Column]) -> str:
        self._stage_rows[index] = 0
        return super().create_stage(index, columns)

    def load_stage(self, index: int, columns: Sequence[str], frame: pl.DataFrame) -> int:
        # COPY is PostgreSQL's bulk path: one round trip per batch instead of one per row.
        # polars writes the batch as CSV in native code, several times faster than building
        # Python rows for write_row; frames with a column CSV cannot carry go row by row.
        stage = self.stage_name(index)
        names = [*columns, PRESENT]
        cols = ", ".join(self.quote(c) for c in names)
        exprs = _csv_exprs(frame, names)
        with self.errors(f"load stage {stage}"):
            cur = self.conn.cursor()
            try:
                if exprs is not None:
                    buf = io.BytesIO()
                    frame.select(exprs).write_csv(buf, include_header=False)
                    sql = f"COPY {stage} ({cols}) FROM STDIN (FORMAT csv, ENCODING 'UTF8')"
                    with cur.copy(sql) as copy:
                        copy.write(buf.getbuffer())
                else:
                    with cur.copy(f"COPY {stage} ({cols}) FROM STDIN") as copy:
                        for row in frame.select(names).iter_rows():
                            copy.write_row(row)
            finally:
                cur.close()
        n = frame.height
        self._stage_rows[index] = self._stage_rows.get(index, 0) + n
        return n

    def truncate_stage(self, index: int) -> None:
        # TRUNCATE gives the stage a fresh file: no dead rows left for the next batch to scan
        self.execute(f"TRUNCATE {self.stage_name(index)}", doing="empty stage")
        self._stage_rows[index] = 0

    def analyze_stage(self, index: int) -> None:
        if self._stage_rows.get(index, 0) >= _ANALYZE_ROWS:
            self.execute(f"ANALYZE {self.stage_name(index)}", doing="analyze stage")

    # ---- release: freezing writes, copies, sequences (bluegreen.release) ----------------------
    copy_blocks_source: ClassVar[bool] = True
    """CREATE DATABASE ... TEMPLATE needs every other session off the source while it copies."""

    def _database(self) -> str:
        return str(self.query(self.sql("freeze", "database"), doing="read the database name")[0][0])

    def _end_other_sessions(self, doing: str, wait: float = 10.0) -> int:
        """Terminate every other client session of this database and wait until they are gone
        (their open transactions roll back); return how many there were."""
        rows = self.query(self.sql("freeze", "terminate_others"), doing=doing)
        pids = [int(pid) for pid, _ in rows]
        deadline = time.monotonic() + wait
        while pids:
            still = self.sql("freeze", "still_running")
            left = self.query(still, {"pids": pids}, doing=doing)[0][0]
            if not left:
                break
            if time.monotonic() > deadline:
                raise TransientError(
                    f"postgresql: {doing}: {left} session(s) of {self.describe()} were still "
                    f"running {wait:g} s after pg_terminate_backend",
                    fix="find them in pg_stat_activity (a backend stuck in I/O); retry",
                )
            time.sleep(0.02)
        return len(pids)

    def freeze(self) -> None:
        # New sessions start read-only; the sessions already open are ended (an idle pooled
        # session would otherwise keep its old, writable default).
        doing = f"freeze {self.describe()}"
        name = self.quote(self._database())
        self.execute(f"ALTER DATABASE {name} SET default_transaction_read_only = on", doing=doing)
        self._end_other_sessions(doing)

    def unfreeze(self) -> None:
        doing = f"unfreeze {self.describe()}"
        # this connection may itself have been opened during the freeze (read-only by default)
        self.execute("SET default_transaction_read_only = off", doing=doing)
        name = self.quote(self._database())
        self.execute(f"ALTER DATABASE {name} RESET default_transaction_read_only", doing=doing)
        # sessions opened during the freeze would stay read-only for life: end them too
        self._end_other_sessions(doing)

    def is_frozen(self) -> bool:
        if not self.query(self.sql("freeze", "frozen_setting"), doing="read the freeze")[0][0]:
            return False
        if self.query(self.sql("freeze", "open_writers"), doing="look for open writers")[0][0]:
            return False
        return self._write_refused()

    def _write_refused(self) -> bool:
        """Open a new session, as an application would, and check that a write fails."""
        if self.url is None:
            raise ConfigError(
                f"postgresql: cannot probe the freeze of {self.describe()} without its URL",
                fix="connect the dialect with PostgresDialect.connect(url)",
            )
        probe = type(self).connect(self.url)
        try:
            with probe.errors("probe the freeze"):
                probe.conn.execute("BEGIN")
                try:
                    probe.conn.execute(probe.sql("freeze", "probe"))
                except psycopg.errors.ReadOnlySqlTransaction:
                    return True
            return False
        finally:
            probe.rollback()
            probe.close()

    @staticmethod
    def _raw(url: SecretStr) -> str:
        raw = url.get_secret_value()
        if raw.startswith("postgres://"):
            raw = "postgresql://" + raw[len("postgres://") :]
        return raw

    @classmethod
    def _maintenance(cls, url: SecretStr, avoid: tuple[str, ...] = ()) -> psycopg.Connection:
        """An autocommit session on the same server, in a database that is neither the source
        nor the target of a copy (``postgres``, else ``template1``)."""
        raw = cls._raw(url)
        last: Exception | None = None
        for db in ("postgres", "template1"):
            if db in avoid:
                continue
            try:
                return psycopg.connect(
                    psycopg.conninfo.make_conninfo(raw, dbname=db),
                    autocommit=True,
                    connect_timeout=10,
                )
            except psycopg.OperationalError as exc:
                last = exc
        raise TransientError(
            f"postgresql: cannot open a maintenance session (database postgres or template1): "
            f"{_scrub(str(last), url)}",
            fix="check that the server is reachable and the user may connect to 'postgres'",
        )

    @classmethod
    def _dbname(cls, url: SecretStr) -> tuple[str, tuple[str, str]]:
        """(database name, (host, port)) of ``url``, without connecting."""
        info = psycopg.conninfo.conninfo_to_dict(cls._raw(url))
        name = str(info.get("dbname") or info.get("user") or "")
        where = (str(info.get("host") or "localhost"), str(info.get("port") or "5432"))
        return name, where

    def copy_database(self, target: SecretStr, *, replace: bool = False) -> None:
        # CREATE DATABASE ... TEMPLATE copies files, so it needs every session off the source
        # for the whole copy: connections are refused meanwhile (ALLOW_CONNECTIONS false), and the
        # open ones (this one included) are ended first. A blackout, documented as
        # copy_blocks_source; the initial-load path avoids it.
        if self.url is None:
            raise ConfigError(
                "postgresql: copy_database needs a dialect opened from a URL",
                fix="connect with PostgresDialect.connect(url)",
            )
        source = self._database()
        _, here = self._dbname(self.url)
        name, there = self._dbname(target)
        if here != there:
            raise ConfigError(
                f"postgresql: a TEMPLATE copy of {self.describe()} must be made on the same "
                f"server, but the target is on {there[0]}:{there[1]}",
                fix=(
                    "create green on blue's server, or use the initial-load method into a green "
                    "created with blue's schema (pg_dump --schema-only | psql)"
                ),
            )
        if not name or name == source:
            raise ConfigError(
                f"postgresql: the copy's target database must differ from the source {source!r}",
                fix="give green (or the stage) its own database name",
            )
        doing = f"copy database {source} to {name}"
        # If this process dies inside the copy, the source keeps ALLOW_CONNECTIONS false: the fix
        # is `ALTER DATABASE <source> WITH ALLOW_CONNECTIONS true` from another database.
        self.close()
        try:
            with self._maintenance(self.url, avoid=(source, name)) as m:
                exists = m.execute(self.sql("freeze", "database_exists"), [name]).fetchone()
                if exists and exists[0]:
                    if not replace:
                        raise ConfigError(
                            f"postgresql: database {name!r} already exists",
                            fix="drop it, or pass replace=True (a re-seed overwrites the standby)",
                        )
                    m.execute(f"DROP DATABASE {self.quote(name)} WITH (FORCE)")
                m.execute(f"ALTER DATABASE {self.quote(source)} WITH ALLOW_CONNECTIONS false")
                try:
                    for attempt in range(10):
                        m.execute(self.sql("freeze", "terminate_database"), [source])
                        try:
                            m.execute(
                                f"CREATE DATABASE {self.quote(name)} TEMPLATE {self.quote(source)}"
                            )
                            break
                        except psycopg.errors.ObjectInUse:
                            if attempt == 9:
                                raise
                            time.sleep(0.1)
                finally:
                    m.execute(f"ALTER DATABASE {self.quote(source)} WITH ALLOW_CONNECTIONS true")
        except psycopg.Error as exc:
            raise self.classify(exc, doing) from exc
        finally:
            self.ensure_connected()

    @classmethod
    def drop_database(cls, url: SecretStr) -> None:
        name, _ = cls._dbname(url)
        try:
            with cls._maintenance(url, avoid=(name,)) as m:
                m.execute(f"DROP DATABASE IF EXISTS {cls().quote(name)} WITH (FORCE)")
        except psycopg.Error as exc:
            raise TerminalError(
                f"postgresql: drop database {name}: {_scrub(str(exc), url)}",
                fix="drop it by hand (DROP DATABASE ... WITH (FORCE))",
            ) from exc

    @classmethod
    def database_exists(cls, url: SecretStr) -> bool:
        name, _ = cls._dbname(url)
        with cls._maintenance(url, avoid=(name,)) as m:
            row = m.execute(
                sqlfiles.statement(cls.name, "freeze", "database_exists"), [name]
            ).fetchone()
        return bool(row and row[0])

    def advance_identities(self) -> list[str]:
        moved = []
        for nsp, rel, att, seq in self.query(
            self.sql("freeze", "serial_columns"), doing="list sequences"
        ):
            table = self.qualify(TableName(nsp, rel))
            col = self.quote(att)
            # never backwards: a sequence already past the largest key keeps its place
            rows = self.query(
                "SELECT setval(%(seq)s::regclass, GREATEST(x.m, "
                "COALESCE(pg_sequence_last_value(%(seq)s::regclass), x.m)), true) "
                f"FROM (SELECT max({col}) AS m FROM {table}) AS x WHERE x.m IS NOT NULL",
                {"seq": seq},
                doing=f"move the sequence of {nsp}.{rel}.{att}",
            )
            if rows:
                moved.append(f"{nsp}.{rel}.{att}: next value after {rows[0][0]}")
        return moved


def _csv_exprs(frame: pl.DataFrame, names: Sequence[str]) -> list[pl.Expr] | None:
    """``names`` as expressions whose CSV text PostgreSQL reads back as the very values
    ``write_row`` would send; None when a column has a type CSV cannot carry (nested, object,
    duration), which then goes row by row.

    In PostgreSQL's CSV an unquoted empty field is NULL and polars quotes an empty string, so
    NULL and '' stay apart; bytes go as ``\\x`` hex; sub-microsecond times are cut to the
    microsecond and 32-bit floats widened, as Python's datetime and float would.
    """
    exprs: list[pl.Expr] = []
    for name in names:
        dtype = frame.schema[name]
        col = pl.col(name)
        if dtype == pl.Binary:
            exprs.append(pl.concat_str([pl.lit("\\x"), col.bin.encode("hex")]).alias(name))
        elif dtype == pl.Float32:
            exprs.append(col.cast(pl.Float64))
        elif isinstance(dtype, pl.Datetime):
            exprs.append(col.dt.cast_time_unit("us") if dtype.time_unit == "ns" else col)
        elif dtype == pl.Time:
            exprs.append((col.cast(pl.Int64) // 1_000 * 1_000).cast(pl.Time).alias(name))
        elif dtype.is_numeric() or isinstance(
            dtype, pl.String | pl.Boolean | pl.Date | pl.Null | pl.Categorical | pl.Enum
        ):
            exprs.append(col)
        else:
            return None
    return exprs


def _scrub(text: str, url: SecretStr | None) -> str:
    """Remove the password (if the driver echoed the URL) from an error text."""
    if url is None:
        return text
    raw = url.get_secret_value()
    if "://" in raw and "@" in raw.split("://", 1)[1]:
        creds = raw.split("://", 1)[1].split("@", 1)[0]
        if ":" in creds:
            secret = creds.split(":", 1)[1]
            if secret:
                text = text.replace(secret, "***")
    return text
