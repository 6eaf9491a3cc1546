"""The ``DatabaseConnection`` block: one database, its engine and its (secret) connection string.

The connection string is a ``SecretStr``: Prefect stores it encrypted, the UI and the API show
it as ``********``, and only :func:`bluegreen.dialects.connect` ever reads its value. The block
converts to what the engine takes (a SecretStr URL); it holds no connection itself.
"""

from __future__ import annotations

from typing import Literal

from prefect.blocks.core import Block
from pydantic import Field, SecretStr, model_validator

from bluegreen.dialects import Dialect, connect, redact, scheme_of
from bluegreen.errors import ConfigError

DialectName = Literal["sqlite", "postgresql", "mssql"]

# URL schemes the engine accepts, by the dialect they select.
_SCHEME_DIALECT: dict[str, DialectName] = {
    "sqlite": "sqlite",
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "mssql": "mssql",
    "odbc": "mssql",
}


def dialect_for_url(url: str) -> DialectName:
    """The dialect a connection string selects (the message never quotes the URL)."""
    try:
        scheme = scheme_of(url)
    except ConfigError as exc:
        raise ValueError(str(exc)) from None
    found = _SCHEME_DIALECT.get(scheme)
    if found is None:
        raise ValueError(
            f"connection string scheme {scheme!r} is not one bluegreen knows; "
            f"use one of {', '.join(sorted(_SCHEME_DIALECT))}"
        )
    return found


class DatabaseConnection(Block):
    """A database bluegreen reads from or writes to: its engine and its connection string."""

    _block_type_name = "bluegreen Database Connection"
    _block_type_slug = "bluegreen-database-connection"
    _description = (
        "One database of a blue/green pair: its engine (sqlite, postgresql, mssql) and its "
        "connection string, stored as a secret (shown masked in the UI)."
    )
    _code_example = """
```python
from blocks import DatabaseConnection

DatabaseConnection(
    dialect="postgresql",
    connection_string="postgresql://sync:PASSWORD@db-blue:5432/shop",
).save("shop-blue")
```
"""

    dialect: DialectName = Field(
        description="The database engine: sqlite, postgresql or mssql (SQL Server / Azure SQL)."
    )
    connection_string: SecretStr = Field(
        description=(
            "sqlite:///file.db, postgresql://user:password@host:5432/db, "
            "mssql://user:password@host:1433/db?driver=ODBC+Driver+18+for+SQL+Server, "
            "or a raw ODBC string DRIVER={...};SERVER=...;DATABASE=..."
        ),
    )

    @model_validator(mode="after")
    def _scheme_matches_dialect(self) -> DatabaseConnection:
        # A block whose URL selects another engine than its label would sync with the wrong
        # SQL; refuse it when it is saved, not at 3 a.m. when the schedule fires. The message
        # names the schemes only: the URL itself may carry a password.
        found = dialect_for_url(self.connection_string.get_secret_value())
        if found != self.dialect:
            raise ValueError(
                f"dialect is {self.dialect!r} but the connection string is a {found} URL; "
                "fix whichever of the two is wrong"
            )
        return self

    def url(self) -> SecretStr:
        """The connection string, still secret: what the engine's ``connect`` takes."""
        return self.connection_string

    def describe(self) -> str:
        """Where this points, without user, password or query string (safe to log)."""
        return redact(self.connection_string.get_secret_value())

    def connect(self) -> Dialect:
        """Open a connection with the engine's dialect (the caller closes it)."""
        return connect(self.connection_string)
