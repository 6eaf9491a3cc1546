"""The watermark: how far green has caught up with blue, as an ordered value object.

Every engine expresses a position in blue's change stream as an integer ``version`` that only
grows (SQL Server's CT version, SQLite's change sequence, PostgreSQL's snapshot xmax). Some
engines need more than that number to resume exactly: PostgreSQL stores the whole snapshot
(``xmin:xmax:xip,...``) so a transaction that was still running at the last window is picked up
by the next one. That engine-specific text rides along in ``position``; ordering uses ``version``.

The stored form is JSON with a ``format`` number; the loader accepts older forms (a bare
integer) and refuses, with a clear message, a format written by a newer bluegreen.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import total_ordering

from bluegreen.errors import ConfigError

FORMAT = 1


@total_ordering
@dataclass(frozen=True)
class Watermark:
    """A position in blue's change stream; ``origin`` means "from the start of tracking"."""

    version: int
    position: str | None = None
    origin: bool = False

    @classmethod
    def start(cls) -> Watermark:
        """The watermark of a green that has seen nothing: every tracked change is still due."""
        return cls(version=0, position=None, origin=True)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Watermark):
            return NotImplemented
        return (not self.origin, self.version) < (not other.origin, other.version)

    def __str__(self) -> str:
        return "origin" if self.origin else str(self.version)

    def dumps(self) -> str:
        """Serialize for green's state table."""
        return json.dumps(
            {
                "format": FORMAT,
                "version": self.version,
                "position": self.position,
                "origin": self.origin,
            },
            sort_keys=True,
        )

    @classmethod
    def loads(cls, text: str | int | None) -> Watermark:
        """Parse any stored form: JSON of format 1, or a bare integer from a hand-written config."""
        if text is None:
            return cls.start()
        if isinstance(text, int):
            return cls(version=text)
        raw = text.strip()
        if raw.lstrip("-").isdigit():
            return cls(version=int(raw))
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"watermark {raw[:60]!r} is neither an integer nor bluegreen JSON: {exc}",
                fix="restore the watermark row from green's history table, or re-seed green",
            ) from exc
        if not isinstance(data, dict) or "version" not in data:
            raise ConfigError(
                f"watermark {raw[:60]!r} has no 'version' field",
                fix="restore the watermark row from green's history table, or re-seed green",
            )
        fmt = int(data.get("format", 1))
        if fmt > FORMAT:
            raise ConfigError(
                f"watermark format {fmt} was written by a newer bluegreen "
                f"(this one reads format {FORMAT})",
                fix="upgrade bluegreen on this machine",
            )
        return cls(
            version=int(data["version"]),
            position=data.get("position"),
            origin=bool(data.get("origin", False)),
        )
