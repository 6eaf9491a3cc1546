"""ODBC plumbing for the SQL Server dialect: connection strings, redaction, driver errors.

Kept apart from the dialect so the rules that decide what a URL means and what a driver error
says can be read (and unit-tested) on their own. Nothing here imports pyodbc at module level:
it needs the unixODBC library, which only machines that talk to SQL Server must have.
"""

from __future__ import annotations

import contextlib
import re
import struct
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, unquote

from bluegreen.errors import ConfigError

DEFAULT_DRIVER = "ODBC Driver 18 for SQL Server"
DRIVER_FIX = (
    "install Microsoft ODBC Driver 18 for SQL Server "
    "(https://learn.microsoft.com/sql/connect/odbc/linux-mac/"
    "installing-the-microsoft-odbc-driver-for-sql-server), or name an installed driver: "
    "?driver=... in an mssql:// URL, DRIVER={...} in an ODBC string"
)

# pyodbc formats every diagnostic record as "[state] message (native) (function)" and joins
# records with "; ": the native error number is the parenthesized integer before the function
# name, or before the next record.
_NATIVE = re.compile(r"\((-?\d+)\)\s*(?=\(SQL\w*\)|;|$)")

# ---- connection strings -----------------------------------------------------------------------


def looks_like_odbc(text: str) -> bool:
    return "://" not in text and "=" in text


def parse_odbc(conn_str: str) -> list[tuple[str, str]]:
    """``KEY=value;KEY={va;lue}`` pairs; a braced value may hold ``;`` and doubled ``}}``."""
    pairs: list[tuple[str, str]] = []
    i, n = 0, len(conn_str)
    while i < n:
        eq = conn_str.find("=", i)
        if eq < 0:
            break
        key = conn_str[i:eq].strip().lstrip(";").strip()
        j = eq + 1
        if j < n and conn_str[j] == "{":
            buf, j = [], j + 1
            while j < n:
                if conn_str[j] == "}":
                    if conn_str.startswith("}}", j):
                        buf.append("}")
                        j += 2
                        continue
                    j += 1
                    break
                buf.append(conn_str[j])
                j += 1
            value = "".join(buf)
            end = conn_str.find(";", j)
        else:
            end = conn_str.find(";", j)
            value = conn_str[j : end if end >= 0 else n]
        pairs.append((key, value))
        i = end + 1 if end >= 0 else n
    return pairs


def odbc_value(value: str, always_brace: bool = False) -> str:
    """One ODBC attribute value: braced (``}`` doubled) when it holds ``;{}`` or edge spaces."""
    needs = any(ch in value for ch in ";{}=") or value != value.strip()
    if always_brace or needs:
        return "{" + value.replace("}", "}}") + "}"
    return value


class MSSQLUrl:
    """The parts of ``mssql://user:pass@host:port/db?driver=...&Opt=val``.

    Reserved characters in the user or password should be percent-encoded (``%40`` for ``@``,
    ``%3F`` for ``?``, ``%25`` for ``%``); a raw ``@``, ``:``, ``/``, ``;`` or brace in the
    password also works, because the host starts after the LAST ``@`` before the query.
    """

    def __init__(self, url: str) -> None:
        scheme, sep, rest = url.strip().partition("://")
        if not sep or scheme.lower().split("+", 1)[0] != "mssql":
            raise ConfigError(
                "not an mssql:// URL",
                fix=(
                    "write mssql://user:password@host:1433/database?driver=ODBC+Driver+18+for+"
                    "SQL+Server, or pass a raw ODBC string DRIVER={...};SERVER=...;DATABASE=..."
                ),
            )
        q = rest.find("?")
        head, query = (rest[:q], rest[q + 1 :]) if q >= 0 else (rest, "")
        userinfo, at, hostpath = head.rpartition("@")
        user, _, password = userinfo.partition(":")
        self.user = unquote(user) if at else None
        self.password = unquote(password) if at and ":" in userinfo else None
        hostport, _, database = hostpath.partition("/")
        self.database = unquote(database.strip("/")) or None
        if hostport.startswith("["):  # [IPv6]:port
            host, _, after = hostport[1:].partition("]")
            port = after[1:] if after.startswith(":") else ""
        elif ":" in hostport:
            host, _, port = hostport.rpartition(":")
        else:
            host, port = hostport, ""
        self.host = unquote(host)
        if not self.host:
            raise ConfigError(
                "mssql URL has no host",
                fix="write mssql://user:password@host:1433/database",
            )
        if port and not port.isdigit():
            raise ConfigError(
                f"mssql URL port {port!r} is not a number (for host {self.host})",
                fix="write the port as digits (mssql://user:password@host:1433/database), and "
                "percent-encode reserved characters in the password",
            )
        self.port = int(port) if port else None
        self.driver = DEFAULT_DRIVER
        self.options: list[tuple[str, str]] = []
        self.bluegreen: list[tuple[str, str]] = []  # bluegreen_* settings, never sent to ODBC
        for key, value in parse_qsl(query, keep_blank_values=True):
            if key.lower().startswith(SETTING_PREFIX):
                self.bluegreen.append((key, value))
            elif key.lower() == "driver":
                self.driver = value.strip("{}")
            elif key.lower() in {"server", "database", "uid", "pwd", "user", "password"}:
                raise ConfigError(
                    f"mssql URL option {key!r} repeats a part of the URL itself",
                    fix="give host, database, user and password in the URL, not as ?options",
                )
            else:
                self.options.append((key, value))

    @property
    def server(self) -> str:
        return f"{self.host},{self.port}" if self.port else self.host

    def odbc(self) -> str:
        parts = [f"DRIVER={odbc_value(self.driver, always_brace=True)}"]
        parts.append(f"SERVER={odbc_value(self.server)}")
        if self.database:
            parts.append(f"DATABASE={odbc_value(self.database)}")
        if self.user is not None:
            parts.append(f"UID={odbc_value(self.user)}")
        if self.password is not None:
            parts.append(f"PWD={odbc_value(self.password, always_brace=True)}")
        parts.extend(f"{k}={odbc_value(v)}" for k, v in self.options)
        return ";".join(parts)

    def describe(self) -> str:
        port = f":{self.port}" if self.port else ""
        return f"mssql://{self.host}{port}/{self.database or ''}"


def odbc_connection_string(url: str) -> str:
    """The ODBC connection string for an ``mssql://`` URL; a raw ODBC string passes through.

    ``mssql://u:p@db.example.com:1433/sales?driver=ODBC+Driver+18+for+SQL+Server&Encrypt=yes``
    becomes ``DRIVER={ODBC Driver 18 for SQL Server};SERVER=db.example.com,1433;
    DATABASE=sales;UID=u;PWD={p};Encrypt=yes``. The driver defaults to ODBC Driver 18.
    bluegreen's own ``bluegreen_*`` settings (see :data:`SETTINGS`) are left out of it.
    """
    text = url.strip()
    if text.lower().startswith("odbc://"):
        text = text[len("odbc://") :]
    if looks_like_odbc(text):
        pairs = parse_odbc(text)
        if not any(_is_setting(k) for k, _ in pairs):
            return text
        return join_odbc([(k, v) for k, v in pairs if not _is_setting(k)])
    return MSSQLUrl(text).odbc()


def join_odbc(pairs: Sequence[tuple[str, str]]) -> str:
    """An ODBC connection string from ``(key, value)`` pairs (DRIVER and PWD always braced)."""
    return ";".join(
        f"{k}={odbc_value(v, always_brace=k.upper() in {'DRIVER', 'PWD'})}" for k, v in pairs
    )


# ---- bluegreen's settings in the URL ----------------------------------------------------------
# Settings that belong to one database (where a copy of it is written and read) travel with its
# URL, as ``?bluegreen_backup_dir=...`` in an mssql:// URL or ``bluegreen_backup_dir=...;`` in a
# raw ODBC string. They never reach the ODBC driver.
SETTING_PREFIX = "bluegreen_"
SETTINGS: dict[str, str] = {
    "copy": "how copy_database copies: auto (default: CREATE DATABASE ... AS COPY OF on Azure "
    "SQL Database, BACKUP/RESTORE elsewhere), backup, or copy_of",
    "backup_dir": "folder of the COPY_ONLY backup file (default: the source server's "
    "InstanceDefaultBackupPath, else its InstanceDefaultDataPath); a folder both servers reach "
    "when the copy goes to another server",
    "data_dir": "folder of the restored copy's data files (default: the target server's "
    "InstanceDefaultDataPath)",
    "log_dir": "folder of the restored copy's log files (default: the target server's "
    "InstanceDefaultLogPath, else the data folder)",
    "copy_timeout": "seconds to wait for an Azure SQL copy to come ONLINE (default 3600)",
}


def _is_setting(key: str) -> bool:
    return key.strip().lower().startswith(SETTING_PREFIX)


def settings_of(url: str) -> dict[str, str]:
    """The ``bluegreen_*`` settings of an mssql URL or ODBC string, by short name
    (``{"backup_dir": "/var/opt/mssql/backup"}``). An unknown name is a ConfigError: a typo
    would otherwise silently fall back to the server's default."""
    text = url.strip()
    if text.lower().startswith("odbc://"):
        text = text[len("odbc://") :]
    if looks_like_odbc(text):
        pairs = [(k.strip(), v) for k, v in parse_odbc(text) if _is_setting(k)]
    else:
        pairs = MSSQLUrl(text).bluegreen
    found: dict[str, str] = {}
    for key, value in pairs:
        name = key.lower()[len(SETTING_PREFIX) :]
        if name not in SETTINGS:
            raise ConfigError(
                f"unknown bluegreen setting {key!r} in the connection string of "
                f"{describe_url(url)}",
                fix="use one of: " + ", ".join(SETTING_PREFIX + n for n in SETTINGS),
            )
        found[name] = value
    return found


def database_of(url: str) -> str | None:
    """The database ``url`` names (None when it names none: the login's default database)."""
    text = url.strip()
    if text.lower().startswith("odbc://"):
        text = text[len("odbc://") :]
    if looks_like_odbc(text):
        names = [v for k, v in parse_odbc(text) if k.strip().upper() == "DATABASE"]
        return names[-1] if names and names[-1] else None
    return MSSQLUrl(text).database


def with_database(url: str, database: str) -> str:
    """``url`` as a raw ODBC string that opens ``database`` instead (its bluegreen settings
    kept: they are read from it again, and left out when it connects)."""
    text = url.strip()
    if text.lower().startswith("odbc://"):
        text = text[len("odbc://") :]
    if looks_like_odbc(text):
        pairs = parse_odbc(text)
    else:
        parsed = MSSQLUrl(text)
        pairs = [*parse_odbc(parsed.odbc()), *parsed.bluegreen]
    kept = [(k, v) for k, v in pairs if k.strip().upper() != "DATABASE"]
    at = next((i + 1 for i, (k, _) in enumerate(kept) if k.strip().upper() == "SERVER"), 0)
    kept.insert(at, ("DATABASE", database))
    return join_odbc(kept)


def describe_url(url: str) -> str:
    """Where ``url`` points, with no user, password or options (safe for logs and errors)."""
    text = url.strip()
    if text.lower().startswith("odbc://"):
        text = text[len("odbc://") :]
    if looks_like_odbc(text):
        keep = {k.upper(): v for k, v in parse_odbc(text) if k.upper() in {"SERVER", "DATABASE"}}
        shown = ";".join(f"{k}={v}" for k, v in keep.items())
        return shown or "<odbc>"
    try:
        return MSSQLUrl(text).describe()
    except ConfigError:
        return "mssql://<unparsable url>"


def secrets_of(url: str) -> list[str]:
    """The password of ``url`` (as given and decoded), to scrub from any message."""
    text = url.strip()
    found: list[str] = []
    if text.lower().startswith("odbc://"):
        text = text[len("odbc://") :]
    if looks_like_odbc(text):
        values = [v for k, v in parse_odbc(text) if k.upper() in {"PWD", "PASSWORD"}]
        found = values + [odbc_value(v, always_brace=True) for v in values]
    else:
        with contextlib.suppress(ConfigError):
            pw = MSSQLUrl(text).password
            if pw is not None:
                found = [pw, odbc_value(pw, always_brace=True)]
    return [s for s in found if len(s) >= 3]


def scrub(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every secret replaced by ``***``."""
    for s in sorted(secrets, key=len, reverse=True):
        text = text.replace(s, "***")
    return text


def import_pyodbc() -> Any:
    try:
        import pyodbc
    except ImportError as exc:
        raise ConfigError(
            f"pyodbc cannot be loaded: {exc}",
            fix="install the unixODBC library (apt-get install unixodbc / brew install unixodbc), "
            "then Microsoft ODBC Driver 18 for SQL Server",
        ) from None
    return pyodbc


# ---- values and driver errors -------------------------------------------------------------


def datetimeoffset(raw: bytes) -> str:
    """pyodbc output converter for ``datetimeoffset`` (ODBC type -155, SQL_SS_TIMESTAMPOFFSET,
    which pyodbc cannot read by itself): its exact text, ``2024-02-29 23:59:58.1234567 -05:30``.

    Text, not a datetime: Python's datetime keeps microseconds where the type keeps 100 ns, and
    pyodbc binds an aware datetime without its offset, so a datetime would come back to green
    shifted. SQL Server converts this text back to the same datetimeoffset, to the last digit."""
    year, month, day, hour, minute, second, nanos, off_h, off_m = struct.unpack("<6hI2h", raw)
    sign = "-" if off_h < 0 or off_m < 0 else "+"
    return (
        f"{year:04d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}:{second:02d}."
        f"{nanos // 100:07d} {sign}{abs(off_h):02d}:{abs(off_m):02d}"
    )


def error_codes(exc: BaseException) -> tuple[str | None, list[int]]:
    """(SQLSTATE, native error numbers) of a pyodbc error (None and [] for anything else)."""
    args = getattr(exc, "args", ())
    if len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
        state = args[0] if len(args[0]) == 5 else None
        return state, [int(n) for n in _NATIVE.findall(args[1])]
    return None, []


def error_text(exc: BaseException) -> str:
    args = getattr(exc, "args", ())
    if len(args) >= 2 and isinstance(args[1], str):
        return args[1]
    return str(exc)
