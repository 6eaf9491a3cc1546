"""The two databases a release works on, what the traffic switch calls each, and the sync
settings between them.

``blue`` is always the side that is production *now* (the sync reads it) and ``green`` the side
being prepared (the sync writes it); the labels are the names the traffic switch knows the two
databases by, which do not change when the roles do. After a cutover and a re-seed,
:meth:`ReleasePair.swapped` is the same two databases with the roles exchanged.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bluegreen.config import Settings
from bluegreen.dialects import Dialect, connect, redact
from bluegreen.errors import ConfigError
from bluegreen.release.guard import SchemaGuard
from bluegreen.sync.plan import SyncPlan, build_plan
from bluegreen.sync.runner import PlanBuilder, Syncer
from bluegreen.sync.shape import Shaper


def secret(url: str | SecretStr) -> SecretStr:
    return url if isinstance(url, SecretStr) else SecretStr(url)


def shown(url: SecretStr) -> str:
    """A URL safe to print or record (no credentials)."""
    return redact(url.get_secret_value())


@dataclass(frozen=True)
class ReleasePair:
    """Production (``blue``) and its copy (``green``), with the switch's names for them."""

    blue_url: SecretStr
    green_url: SecretStr
    blue_label: str = "blue"
    green_label: str = "green"
    tables: tuple[str, ...] = ()
    stream: str = "default"
    batch_size: int = 50_000
    plan_builder: PlanBuilder | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.blue_label == self.green_label:
            raise ConfigError(
                f"both databases are called {self.blue_label!r} by the traffic switch",
                fix="give blue and green different labels (the switch's names for them)",
            )

    @classmethod
    def of(
        cls,
        blue: str | SecretStr,
        green: str | SecretStr,
        *,
        blue_label: str = "blue",
        green_label: str = "green",
        tables: tuple[str, ...] | list[str] = (),
        stream: str = "default",
        batch_size: int = 50_000,
        plan_builder: PlanBuilder | None = None,
    ) -> ReleasePair:
        """A pair from two URLs (plain text is wrapped in SecretStr at once)."""
        return cls(
            secret(blue),
            secret(green),
            blue_label,
            green_label,
            tuple(tables),
            stream,
            batch_size,
            plan_builder,
        )

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        blue_label: str = "blue",
        green_label: str = "green",
        plan_builder: PlanBuilder | None = None,
    ) -> ReleasePair:
        """A pair from bluegreen settings; a configured mapping workbook becomes the plan
        builder unless one is given."""
        blue, green = settings.require_urls()
        if plan_builder is None and settings.mapping is not None:
            plan_builder = _mapping_builder(settings.mapping, settings.tables)
        return cls(
            blue,
            green,
            blue_label,
            green_label,
            tuple(settings.tables),
            settings.stream,
            settings.batch_size,
            plan_builder,
        )

    def swapped(self) -> ReleasePair:
        """The same databases with the roles exchanged (after a cutover and a re-seed).

        The new green is a copy of the new blue, so both have one schema: the new direction
        syncs same-named tables and the mapping workbook (which mapped the old blue's schema
        onto green's) is dropped."""
        return replace(
            self,
            blue_url=self.green_url,
            green_url=self.blue_url,
            blue_label=self.green_label,
            green_label=self.blue_label,
            plan_builder=None,
        )

    def connect_blue(self) -> Dialect:
        return connect(self.blue_url)

    def connect_green(self) -> Dialect:
        return connect(self.green_url)

    def syncer(self, blue: Dialect, green: Dialect, *, guard: bool = True) -> Syncer:
        """The sync between the two (the caller owns and closes the connections).

        ``guard`` wraps the plan builder in a :class:`SchemaGuard`: a change of green's
        schema between two windows re-checks the mapping before the next window applies
        anything."""
        builder = self.plan_builder
        if guard:
            builder = SchemaGuard(builder, list(self.tables) or None)
        return Syncer(
            blue,
            green,
            tables=list(self.tables) or None,
            batch_size=self.batch_size,
            stream=self.stream,
            plan_builder=builder,
        )

    def plan(self, blue: Dialect, green: Dialect) -> tuple[SyncPlan, Shaper | None]:
        """The sync plan and shaper between the two, built from both live schemas without
        touching either (a mapping error or schema mismatch raises here, naming the fix)."""
        if self.plan_builder is not None:
            return self.plan_builder(blue, green)
        plan = build_plan(
            blue.introspect(), green.introspect(), blue.tracked_tables(), list(self.tables) or None
        )
        blue.rollback()
        green.rollback()
        return plan, None

    def describe(self) -> str:
        return (
            f"{self.blue_label} ({shown(self.blue_url)}) -> "
            f"{self.green_label} ({shown(self.green_url)})"
        )

    def as_dict(self) -> dict[str, Any]:
        """For receipts: labels and redacted addresses, never credentials."""
        return {
            "blue": {"label": self.blue_label, "url": shown(self.blue_url)},
            "green": {"label": self.green_label, "url": shown(self.green_url)},
            "tables": list(self.tables),
            "stream": self.stream,
            "mapping": self.plan_builder is not None,
        }


def _mapping_builder(path: Path, tables: list[str]) -> PlanBuilder:
    from bluegreen.mapping import MappingPlanBuilder

    return MappingPlanBuilder(path, tables=tables or None)


class Sessions:
    """The connections one release operation opens; all closed when it ends, however."""

    def __init__(self) -> None:
        self._open: list[Dialect] = []

    def open(self, url: SecretStr) -> Dialect:
        d = connect(url)
        self._open.append(d)
        return d

    def close(self, d: Dialect | None) -> None:
        if d is None:
            return
        with contextlib.suppress(Exception):
            d.rollback()
        d.close()
        if d in self._open:
            self._open.remove(d)

    def close_all(self) -> None:
        for d in reversed(self._open):
            with contextlib.suppress(Exception):
                d.rollback()
            d.close()
        self._open.clear()

    @contextlib.contextmanager
    def scope(self) -> Iterator[Sessions]:
        try:
            yield self
        finally:
            self.close_all()
