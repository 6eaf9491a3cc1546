"""Whole-database copies on SQL Server and Azure SQL, for the release flows.

:meth:`MSSQLDialect.copy_database` copies one of two ways, chosen by the ``bluegreen_copy``
setting of the URLs (``auto`` by default: by the server's ``SERVERPROPERTY('EngineEdition')``):

- **SQL Server** (``backup``): ``BACKUP DATABASE src TO DISK = <file> WITH COPY_ONLY`` on the
  source server, ``RESTORE FILELISTONLY`` and ``RESTORE DATABASE dst ... WITH MOVE <each
  logical file> TO <a new path>, [REPLACE,] RECOVERY`` on the target server. The backup file
  goes to ``bluegreen_backup_dir`` or the source server's default backup folder; the copy's
  files to ``bluegreen_data_dir`` / ``bluegreen_log_dir`` or the target server's defaults. A
  copy to another server needs ``bluegreen_backup_dir`` set to a folder both servers reach.
- **Azure SQL Database** (``copy_of``): ``CREATE DATABASE dst AS COPY OF [server.]src`` on the
  target server's master, then its progress is polled until the copy is ONLINE (it runs on
  after the statement returns), for at most ``bluegreen_copy_timeout`` seconds.

Azure SQL Managed Instance can do neither from T-SQL (no BACKUP TO DISK, no AS COPY OF): it is
refused with the fix. Everything runs on master connections opened from the URLs, in autocommit
mode. The pure rules (settings, file paths, progress) are module functions, unit-tested without
a server; the orchestration is exercised by tests/integration/test_mssql_release_live.py when
BLUEGREEN_TEST_MSSQL_URL is set.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from bluegreen.dialects.mssql_odbc import (
    database_of,
    describe_url,
    odbc_connection_string,
    settings_of,
    with_database,
)
from bluegreen.errors import ConfigError, TerminalError

if TYPE_CHECKING:
    from bluegreen.dialects.mssql import MSSQLDialect

log = logging.getLogger("bluegreen.dialect")

AZURE_SQL_DATABASE = 5
MANAGED_INSTANCE = 8
SYSTEM_DATABASES = frozenset({"master", "model", "msdb", "tempdb"})
DEFAULT_COPY_TIMEOUT = 3600.0
METHODS = ("auto", "backup", "copy_of")
# Database states a copy never leaves by itself (anything else but ONLINE is still copying).
_BROKEN_STATES = frozenset({"SUSPECT", "EMERGENCY", "OFFLINE", "RECOVERY_PENDING"})


# ---- settings and servers ---------------------------------------------------------------------


@dataclass(frozen=True)
class CopySettings:
    """The ``bluegreen_*`` settings a copy reads (see mssql_odbc.SETTINGS)."""

    method: str = "auto"
    backup_dir: str | None = None
    data_dir: str | None = None
    log_dir: str | None = None
    timeout: float = DEFAULT_COPY_TIMEOUT


def copy_settings(source: str, target: str) -> CopySettings:
    """The copy's settings: each from the target URL, else from the source URL."""
    merged = {**settings_of(source), **settings_of(target)}
    method = merged.get("copy", "auto").strip().lower()
    if method not in METHODS:
        raise ConfigError(
            f"bluegreen_copy={merged['copy']!r} is not a copy method",
            fix="write bluegreen_copy=auto, backup or copy_of",
        )
    raw_timeout = merged.get("copy_timeout", str(DEFAULT_COPY_TIMEOUT))
    try:
        timeout = float(raw_timeout)
    except ValueError:
        timeout = -1.0
    if not timeout > 0:
        raise ConfigError(
            f"bluegreen_copy_timeout={raw_timeout!r} is not a positive number of seconds",
            fix="write e.g. bluegreen_copy_timeout=7200",
        )
    return CopySettings(
        method=method,
        backup_dir=merged.get("backup_dir") or None,
        data_dir=merged.get("data_dir") or None,
        log_dir=merged.get("log_dir") or None,
        timeout=timeout,
    )


@dataclass(frozen=True)
class Server:
    """What a copy needs to know about one server (``sql/mssql/copy.sql:server``)."""

    edition: int
    name: str
    data_path: str | None = None
    log_path: str | None = None
    backup_path: str | None = None

    def same_as(self, other: Server) -> bool:
        return self.name.casefold() == other.name.casefold()


def choose_method(setting: str, server: Server) -> str:
    """``backup`` or ``copy_of`` for a copy made on ``server``."""
    if server.edition == MANAGED_INSTANCE:
        raise ConfigError(
            f"mssql: server {server.name} is an Azure SQL Managed Instance, which can neither "
            "BACKUP TO DISK nor CREATE DATABASE ... AS COPY OF",
            fix="copy the database by hand (a COPY_ONLY backup TO URL and RESTORE FROM URL, "
            "or a point-in-time restore), then run the flow's later steps",
        )
    if setting == "auto":
        return "copy_of" if server.edition == AZURE_SQL_DATABASE else "backup"
    if setting == "backup" and server.edition == AZURE_SQL_DATABASE:
        raise ConfigError(
            f"mssql: server {server.name} is Azure SQL Database, which has no BACKUP DATABASE",
            fix="remove bluegreen_copy=backup (Azure SQL copies with CREATE DATABASE ... AS "
            "COPY OF)",
        )
    if setting == "copy_of" and server.edition != AZURE_SQL_DATABASE:
        raise ConfigError(
            f"mssql: server {server.name} is SQL Server (engine edition {server.edition}), "
            "which has no CREATE DATABASE ... AS COPY OF",
            fix="remove bluegreen_copy=copy_of (SQL Server copies with BACKUP / RESTORE)",
        )
    return setting


def target_name(url: str) -> str:
    """The database ``url`` names; refused when it names none or a system database."""
    name = database_of(url)
    where = describe_url(url)
    if not name:
        raise ConfigError(
            f"mssql: the connection string {where} names no database",
            fix="name the database (mssql://.../<database>, or DATABASE=... in an ODBC string)",
        )
    if name.casefold() in SYSTEM_DATABASES:
        raise ConfigError(
            f"mssql: {where} names the system database {name!r}; bluegreen never copies over, "
            "or drops, a system database",
            fix="point the URL at the database bluegreen should create (green, or the stage)",
        )
    return name


# ---- file paths -------------------------------------------------------------------------------


def join_path(folder: str, name: str) -> str:
    """``name`` inside ``folder`` with the folder's own separator (``\\`` for Windows paths)."""
    if folder.endswith(("/", "\\")):
        return folder + name
    sep = "\\" if "\\" in folder and "/" not in folder else "/"
    return folder + sep + name


_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def file_stem(database: str) -> str:
    """A file-name-safe stem for ``database``: itself when it is plain, else its plain
    characters and a short hash of the exact name (so two names never share a file)."""
    plain = _UNSAFE.sub("_", database).lstrip(".")[:80]
    if plain == database and plain:
        return plain
    digest = hashlib.sha1(database.encode("utf-8")).hexdigest()[:8]
    return f"{plain or 'db'}_{digest}"


def backup_file(folder: str, source: str, target: str) -> str:
    """The backup file of a copy of ``source`` to ``target`` (the next copy overwrites it)."""
    return join_path(folder, f"bluegreen_{file_stem(source)}_to_{file_stem(target)}.bak")


@dataclass(frozen=True)
class BackupFile:
    """One row of ``RESTORE FILELISTONLY``: a file of the backed-up database."""

    logical: str
    physical: str
    kind: str  # D data, L log, S FILESTREAM container, F full-text catalog
    file_id: int

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> BackupFile:
        # LogicalName, PhysicalName, Type, FileGroupName, Size, MaxSize, FileId, ... (stable
        # since SQL Server 2005; later versions only add columns at the end)
        return cls(str(row[0]), str(row[1]), str(row[2]).strip().upper(), int(row[6]))


def plan_moves(
    files: Sequence[BackupFile], target: str, data_dir: str, log_dir: str
) -> list[tuple[str, str]]:
    """(logical name, new path) for every file of the backup: the copy must not reuse the
    source's paths (on the same server they are the source's own, open files). Log files go
    to ``log_dir``, everything else to ``data_dir``; names are ``<target>_<file id>`` with
    .mdf (primary), .ndf (other data) or .ldf (log); FILESTREAM containers are folders."""
    stem = file_stem(target)
    moves = []
    for f in sorted(files, key=lambda f: f.file_id):
        if f.kind == "L":
            path = join_path(log_dir, f"{stem}_{f.file_id}.ldf")
        elif f.kind in {"S", "F"}:
            path = join_path(data_dir, f"{stem}_{f.file_id}")
        else:
            ext = ".mdf" if f.file_id == 1 else ".ndf"
            path = join_path(data_dir, f"{stem}_{f.file_id}{ext}")
        moves.append((f.logical, path))
    return moves


# ---- Azure SQL copy progress ------------------------------------------------------------------


@dataclass(frozen=True)
class CopyProgress:
    """One read of ``sql/mssql/copy.sql:copy_progress`` (all None: the database is not there)."""

    state: str | None = None
    percent: float | None = None
    error_code: int | None = None
    error_desc: str | None = None

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence[Any]]) -> CopyProgress:
        if not rows:
            return cls()
        state, percent, code, desc = rows[0][:4]
        return cls(
            None if state is None else str(state).upper(),
            None if percent is None else float(percent),
            None if code is None else int(code),
            None if desc is None else str(desc),
        )


def copy_finished(progress: CopyProgress, what: str, elapsed: float, grace: float) -> bool:
    """True once the copy is ONLINE; False while it runs; a TerminalError once it failed.

    A copy that is not (yet) listed is given ``grace`` seconds to appear: past that it is gone,
    which is what Azure does with a copy that failed."""
    if progress.error_code:
        raise TerminalError(
            f"{what} failed: error {progress.error_code}: {progress.error_desc or '?'}",
            fix="fix the cause, drop the failed copy if it is still there, and run the step again",
        )
    if progress.state is None:
        if elapsed < grace:
            return False
        raise TerminalError(
            f"{what} failed: the copy is not on the server any more (Azure SQL removes a copy "
            "that failed)",
            fix="look for the cause in the Azure activity log of the server, then run the step "
            "again",
        )
    if progress.state == "ONLINE":
        return True
    if progress.state in _BROKEN_STATES:
        raise TerminalError(
            f"{what} failed: the copy is {progress.state}",
            fix="drop the copy (DROP DATABASE in master) and run the step again",
        )
    return False


# ---- orchestration (needs a server) -----------------------------------------------------------


@contextlib.contextmanager
def master(cls: type[MSSQLDialect], url: SecretStr, why: str) -> Iterator[MSSQLDialect]:
    """A connection to master on the server of ``url`` (BACKUP, RESTORE, CREATE and DROP
    DATABASE run there, never in the database they act on)."""
    raw = url.get_secret_value()
    try:
        m = cls.connect(SecretStr(with_database(raw, "master")))
    except ConfigError as exc:
        raise ConfigError(
            f"{exc.message} (bluegreen opens master on that server to {why})",
            fix="; ".join(
                f
                for f in (
                    exc.fix,
                    "the login needs access to master: on Azure SQL a server login (a contained "
                    "database user cannot open master)",
                )
                if f
            ),
        ) from None
    try:
        yield m
    finally:
        m.close()


def server_of(m: MSSQLDialect) -> Server:
    edition, name, data, logs, backup = m.query(
        m.sql("copy", "server"), doing="read the server's edition and default folders"
    )[0]
    return Server(int(edition), str(name or "?"), data or None, logs or None, backup or None)


def database_state(m: MSSQLDialect, name: str) -> str | None:
    rows = m.query(m.sql("copy", "database_state"), [name], doing=f"look for database {name}")
    return None if not rows else str(rows[0][0]).upper()


def copy_database(source: MSSQLDialect, target: SecretStr, replace: bool) -> None:
    """See the module docstring; ``source`` stays connected and usable."""
    if source.url is None:
        raise ConfigError(
            "mssql: copy_database needs a dialect opened from a URL",
            fix="connect with MSSQLDialect.connect(url)",
        )
    src_url, dst_url = source.url.get_secret_value(), target.get_secret_value()
    settings = copy_settings(src_url, dst_url)
    dst = target_name(dst_url)
    src = source.database_name()
    if not source._in_tx:  # end the implicit read transaction the name query opened (only)
        source.rollback()
    cls = type(source)
    with contextlib.ExitStack() as stack:
        src_master = stack.enter_context(master(cls, source.url, "copy the database"))
        same_url = odbc_connection_string(with_database(src_url, "master")) == (
            odbc_connection_string(with_database(dst_url, "master"))
        )
        dst_master = (
            src_master if same_url else stack.enter_context(master(cls, target, "copy into it"))
        )
        job = _CopyJob(
            src_master, dst_master, server_of(src_master), server_of(dst_master), src, dst
        )
        job.run(settings, replace)


@dataclass
class _CopyJob:
    """One copy: master connections and facts of both servers, the two database names."""

    src_master: MSSQLDialect
    dst_master: MSSQLDialect
    src_server: Server
    dst_server: Server
    src: str
    dst: str

    @property
    def what(self) -> str:
        return (
            f"the copy of database [{self.src}] on {self.src_server.name} to [{self.dst}] on "
            f"{self.dst_server.name}"
        )

    def run(self, settings: CopySettings, replace: bool) -> None:
        what = self.what
        if self.src_server.same_as(self.dst_server) and self.src.casefold() == self.dst.casefold():
            raise ConfigError(
                f"mssql: {what}: the target is the source itself",
                fix="give green (or the stage) its own database name",
            )
        method = choose_method(settings.method, self.dst_server)
        if choose_method(settings.method, self.src_server) != method:
            raise ConfigError(
                f"mssql: {what}: one server is Azure SQL Database and the other is not "
                f"(engine editions {self.src_server.edition} and {self.dst_server.edition})",
                fix="copy between two SQL Servers or two Azure SQL servers; across them, "
                "export and import a bacpac by hand",
            )
        with self.dst_master.autocommit(f"look for database [{self.dst}]"):
            state = database_state(self.dst_master, self.dst)
        if state is not None and not replace:
            raise ConfigError(
                f"mssql: {what}: database [{self.dst}] already exists on "
                f"{self.dst_server.name} ({state})",
                fix="drop it, or pass replace=True (a re-seed overwrites the standby)",
            )
        log.info("copying: %s (%s)", what, method)
        if method == "copy_of":
            self.copy_of(state, settings.timeout)
        else:
            self.backup_restore(state, replace, settings)

    def backup_restore(self, state: str | None, replace: bool, settings: CopySettings) -> None:
        what, src, dst = self.what, self.src, self.dst
        if not self.src_server.same_as(self.dst_server) and settings.backup_dir is None:
            raise ConfigError(
                f"mssql: {what}: the backup file must be readable by both servers",
                fix="set bluegreen_backup_dir in the URL to a folder both servers' service "
                "accounts can reach (a UNC share such as \\\\fileserver\\sqlcopies)",
            )
        folder = settings.backup_dir or self.src_server.backup_path or self.src_server.data_path
        if not folder:
            raise ConfigError(
                f"mssql: {what}: server {self.src_server.name} reports no default backup or "
                "data folder",
                fix="set bluegreen_backup_dir in the URL to a folder its service account can write",
            )
        data_dir = settings.data_dir or self.dst_server.data_path
        if not data_dir:
            raise ConfigError(
                f"mssql: {what}: server {self.dst_server.name} reports no default data folder",
                fix="set bluegreen_data_dir (and bluegreen_log_dir) in the URL",
            )
        log_dir = settings.log_dir or self.dst_server.log_path or data_dir
        path = backup_file(folder, src, dst)
        m = self.src_master
        with m.autocommit(f"back up [{src}]"):
            m.run_to_end(
                m.sql("copy", "backup"),
                [src, path],
                doing=f"{what}: BACKUP DATABASE [{src}] TO DISK = {path!r} (COPY_ONLY)",
            )
        m = self.dst_master
        with m.autocommit(f"restore [{dst}]"):
            rows = m.query(
                m.sql("copy", "file_list"),
                [path],
                doing=f"{what}: RESTORE FILELISTONLY FROM DISK = {path!r}",
            )
            moves = plan_moves([BackupFile.from_row(r) for r in rows], dst, data_dir, log_dir)
            single_user = replace and state == "ONLINE"
            statements = m.restore_statements(dst, len(moves), replace, single_user)
            params: list[str] = [dst, path]
            for logical, new_path in moves:
                params += [logical, new_path]
            m.run_to_end(
                ";\n".join(statements),
                params,
                doing=f"{what}: RESTORE DATABASE [{dst}] FROM DISK = {path!r} with its files "
                f"in {data_dir!r} (logs in {log_dir!r})",
            )
        log.info("copied: %s; the backup file %s stays (the next copy overwrites it)", what, path)

    def copy_of(self, state: str | None, timeout: float) -> None:
        what, src, dst, m = self.what, self.src, self.dst, self.dst_master
        from_server = None if self.src_server.same_as(self.dst_server) else self.src_server.name
        with m.autocommit(f"copy [{src}] to [{dst}]"):
            if state is not None:  # replace: AS COPY OF cannot overwrite
                for stmt in m.drop_statements(dst, single_user=False):
                    m.run_to_end(stmt, doing=f"{what}: drop the existing [{dst}]")
            m.run_to_end(m.copy_of_sql(dst, src, from_server), doing=f"{what}: CREATE DATABASE")
            t0 = time.monotonic()
            while True:
                elapsed = time.monotonic() - t0
                rows = m.query(m.sql("copy", "copy_progress"), [dst], doing=f"{what}: progress")
                progress = CopyProgress.from_rows(rows)
                if copy_finished(progress, what, elapsed, grace=min(60.0, timeout)):
                    return
                if elapsed > timeout:
                    done = "?" if progress.percent is None else f"{progress.percent:.0f}"
                    raise TerminalError(
                        f"{what} is still {progress.state or 'starting'} after {timeout:g} s "
                        f"({done}% copied)",
                        fix="the copy goes on on the server (sys.dm_database_copies in "
                        "master shows it): raise bluegreen_copy_timeout and run the step "
                        "again with replace (the unfinished copy is dropped first), or cancel "
                        "it with DROP DATABASE "
                        f"{m.quote(dst)}",
                    )
                time.sleep(type(m).copy_poll_seconds)


def drop_database(cls: type[MSSQLDialect], url: SecretStr) -> None:
    """Drop the database ``url`` names (missing is not an error). On SQL Server, an ONLINE
    database is first set SINGLE_USER WITH ROLLBACK IMMEDIATE (other sessions' transactions
    roll back, their connections end), in the same batch as the DROP; Azure SQL has no
    SINGLE_USER and drops with sessions open."""
    name = target_name(url.get_secret_value())
    with master(cls, url, "drop the database") as m, m.autocommit(f"drop database [{name}]"):
        state = database_state(m, name)
        if state is None:
            return
        azure = server_of(m).edition == AZURE_SQL_DATABASE
        statements = m.drop_statements(name, single_user=state == "ONLINE" and not azure)
        doing = f"drop database [{name}] ({state}) on {describe_url(url.get_secret_value())}"
        # Azure SQL: DROP DATABASE must be alone in its batch
        for batch in statements if azure else [";\n".join(statements)]:
            m.run_to_end(batch, doing=doing)


def database_exists(cls: type[MSSQLDialect], url: SecretStr) -> bool:
    """Whether the database ``url`` names is on its server (looked up from master)."""
    name = target_name(url.get_secret_value())
    with master(cls, url, "look the database up") as m, m.autocommit(f"look for [{name}]"):
        return database_state(m, name) is not None


__all__ = [
    "AZURE_SQL_DATABASE",
    "BackupFile",
    "CopyProgress",
    "CopySettings",
    "Server",
    "backup_file",
    "choose_method",
    "copy_finished",
    "copy_settings",
    "file_stem",
    "join_path",
    "plan_moves",
    "target_name",
]
