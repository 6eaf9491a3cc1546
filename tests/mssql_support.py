"""Fresh SQL Server databases for tests, only when BLUEGREEN_TEST_MSSQL_URL is set."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

from bluegreen.dialects.mssql import odbc_connection_string, odbc_value, parse_odbc

MSSQL_URL = os.environ.get("BLUEGREEN_TEST_MSSQL_URL")


def with_database(url: str, database: str) -> str:
    """``url`` as a raw ODBC string that opens ``database`` instead."""
    parts = [(k, v) for k, v in parse_odbc(odbc_connection_string(url)) if k.upper() != "DATABASE"]
    parts.insert(2, ("DATABASE", database))
    return ";".join(
        f"{k}={odbc_value(v, always_brace=k.upper() in {'DRIVER', 'PWD'})}" for k, v in parts
    )


def _admin(statements: list[str]) -> None:
    import pyodbc

    assert MSSQL_URL is not None
    conn = pyodbc.connect(odbc_connection_string(MSSQL_URL), autocommit=True)
    try:
        for s in statements:
            conn.execute(s)
    finally:
        conn.close()


def database_pair() -> Iterator[tuple[str, str]]:
    """Create two fresh databases, yield their connection strings, drop them afterwards."""
    assert MSSQL_URL is not None
    tag = uuid.uuid4().hex[:10]
    names = (f"bg_{tag}_blue", f"bg_{tag}_green")
    _admin([f"CREATE DATABASE [{n}]" for n in names])
    try:
        yield with_database(MSSQL_URL, names[0]), with_database(MSSQL_URL, names[1])
    finally:
        for n in names:
            try:
                _admin(
                    [
                        f"ALTER DATABASE [{n}] SET SINGLE_USER WITH ROLLBACK IMMEDIATE",
                        f"DROP DATABASE [{n}]",
                    ]
                )
            except Exception:
                _admin([f"DROP DATABASE IF EXISTS [{n}]"])  # Azure SQL has no SINGLE_USER
