"""A database's own release records: its role, the last cutover, schema snapshots.

A small key/value table (``bluegreen.release`` / ``bluegreen_release``) next to green's state
tables. It is what lets a rollback started in another process find the cutover it undoes, and a
pause for a schema change diff green's schema against the one recorded when syncing paused.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from bluegreen.dialects.base import Dialect
from bluegreen.errors import BlueGreenError
from bluegreen.release.records import utcnow

Role = Literal["production", "standby"]
ROLE = "role"
LAST_CUTOVER = "last_cutover"


def schema_key(stream: str) -> str:
    return f"schema_snapshot:{stream}"


class ReleaseStore:
    """Reads and writes one database's release records through its dialect."""

    def __init__(self, db: Dialect) -> None:
        self.db = db
        self.table = db.own("release")

    def install(self) -> None:
        with self.db.transaction():
            self.db.install_release_state()

    def get(self, name: str) -> str | None:
        """The value of ``name``; None when unset or when the table was never created."""
        db = self.db
        try:
            rows = db.query(
                f"SELECT value FROM {self.table} WHERE name = {db.placeholder()}",
                [name],
                doing=f"read release record {name}",
            )
        except BlueGreenError:
            db.rollback()
            return None
        return str(rows[0][0]) if rows else None

    def get_json(self, name: str) -> Any:
        raw = self.get(name)
        return None if raw is None else json.loads(raw)

    def put(self, name: str, value: str) -> None:
        db = self.db
        self.install()
        with db.transaction():
            db.execute(
                f"DELETE FROM {self.table} WHERE name = {db.placeholder()}",
                [name],
                doing=f"replace release record {name}",
            )
            db.execute(
                f"INSERT INTO {self.table} (name, value, updated_at) VALUES ({db.placeholder(3)})",
                [name, value, utcnow()],
                doing=f"write release record {name}",
            )

    def put_json(self, name: str, value: Any) -> None:
        self.put(name, json.dumps(value, default=str))

    def forget_all(self) -> None:
        """Drop every record (a copy must not keep its source's role and receipts)."""
        db = self.db
        try:
            db.query(f"SELECT 1 FROM {self.table} WHERE 1 = 0")
        except BlueGreenError:
            db.rollback()
            return
        with db.transaction():
            db.execute(f"DELETE FROM {self.table}", doing="forget the source's release records")

    def role(self) -> str | None:
        return self.get(ROLE)

    def set_role(self, role: Role) -> None:
        self.put(ROLE, role)
