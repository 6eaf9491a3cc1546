"""Pick the dialect for a connection URL; each engine's module is imported only when used."""

from __future__ import annotations

import importlib

from pydantic import SecretStr

from bluegreen.dialects.base import Dialect
from bluegreen.errors import ConfigError

# scheme -> (module, class). mssql imports pyodbc, which needs the unixODBC library: it is only
# imported when an mssql URL is actually used.
_SCHEMES: dict[str, tuple[str, str]] = {
    "sqlite": ("bluegreen.dialects.sqlite", "SQLiteDialect"),
    "postgresql": ("bluegreen.dialects.postgres", "PostgresDialect"),
    "postgres": ("bluegreen.dialects.postgres", "PostgresDialect"),
    "mssql": ("bluegreen.dialects.mssql", "MSSQLDialect"),
    "odbc": ("bluegreen.dialects.mssql", "MSSQLDialect"),
}


def scheme_of(url: str) -> str:
    """The URL's scheme; a raw ODBC string (``DRIVER=...;SERVER=...``) counts as mssql."""
    if "://" in url:
        scheme = url.split("://", 1)[0].lower()
        return scheme.split("+", 1)[0]
    if "=" in url and ";" in url:
        return "odbc"
    raise ConfigError(
        "connection string has no scheme",
        fix=(
            "use sqlite:///file.db, postgresql://user@host:5432/db, "
            "mssql://user:pass@host:1433/db?driver=ODBC+Driver+18+for+SQL+Server, "
            "or a raw ODBC string DRIVER={...};SERVER=...;DATABASE=..."
        ),
    )


def dialect_class(url: str | SecretStr) -> type[Dialect]:
    """The dialect class for ``url`` (imports its module)."""
    raw = url.get_secret_value() if isinstance(url, SecretStr) else url
    scheme = scheme_of(raw)
    if scheme not in _SCHEMES:
        raise ConfigError(
            f"unknown database scheme {scheme!r}",
            fix=f"use one of: {', '.join(sorted(_SCHEMES))}",
        )
    module, cls = _SCHEMES[scheme]
    return getattr(importlib.import_module(module), cls)


def connect(url: str | SecretStr) -> Dialect:
    """Open a connection with the right dialect; the URL is kept as a SecretStr."""
    secret = url if isinstance(url, SecretStr) else SecretStr(url)
    return dialect_class(secret).connect(secret)


def redact(url: str) -> str:
    """A URL safe to print: no user, no password, no query string."""
    if "://" not in url:
        parts = [
            p
            for p in url.split(";")
            if p.split("=", 1)[0].strip().upper() in {"DRIVER", "SERVER", "DATABASE"}
        ]
        return ";".join(parts) or "<odbc>"
    scheme, rest = url.split("://", 1)
    # the last @ ends the credentials: a password may hold an unencoded @
    host = rest.split("?", 1)[0].rsplit("@", 1)[-1]
    return f"{scheme}://{host}"


__all__ = ["Dialect", "connect", "dialect_class", "redact", "scheme_of"]
