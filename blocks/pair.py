"""The ``BlueGreenPair`` block: two databases, which one is production, and how to sync them.

The block only converts to :class:`bluegreen.config.Settings`; the engine never sees Prefect.
The engine always reads from production ("blue" in its vocabulary) and writes to the other side
("green"). After a cutover, setting ``production`` to ``green`` (and re-seeding the other side)
lets the same saved pair keep a fresh copy current without retyping any connection string.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from prefect.blocks.core import Block
from pydantic import Field

from blocks.database import DatabaseConnection
from bluegreen.config import Settings

Side = Literal["blue", "green"]


class BlueGreenPair(Block):
    """A production database, its copy, and the settings of the sync between them."""

    _block_type_name = "bluegreen Pair"
    _block_type_slug = "bluegreen-pair"
    _description = (
        "A blue/green pair: the two database connections, which side is production, the "
        "mapping workbook, the tables, the read batch size and each sync run's time budget."
    )
    _code_example = """
```python
from blocks import BlueGreenPair, DatabaseConnection

BlueGreenPair(
    blue=DatabaseConnection.load("shop-blue"),
    green=DatabaseConnection.load("shop-green"),
    production="blue",
    tables=["dbo.customers", "dbo.orders"],
).save("shop")
```
"""

    blue: DatabaseConnection = Field(description="The blue database.")
    green: DatabaseConnection = Field(description="The green database.")
    production: Side = Field(
        default="blue",
        description="The side that takes production traffic; the sync copies from it to the other.",
    )
    mapping: str | None = Field(
        default=None,
        description="Path of the mapping workbook (.xlsx) on the worker; empty = same schema.",
    )
    tables: list[str] = Field(
        default_factory=list, description="Tables to sync (empty = every tracked table)."
    )
    batch_size: int = Field(
        default=50_000, ge=1, le=10_000_000, description="Rows read from production per batch."
    )
    time_budget: float = Field(
        default=240.0,
        gt=0,
        description=(
            "Seconds one sync run may keep applying windows; keep it below the schedule's "
            "interval so runs do not queue behind each other."
        ),
    )
    stream: str = Field(
        default="default",
        min_length=1,
        max_length=100,
        description="Name of the watermark on the copy (several streams may share one copy).",
    )

    def source(self) -> DatabaseConnection:
        """The production side: the sync reads its changes."""
        return self.blue if self.production == "blue" else self.green

    def target(self) -> DatabaseConnection:
        """The other side: the sync writes to it."""
        return self.green if self.production == "blue" else self.blue

    def to_settings(self) -> Settings:
        """Engine settings for syncing production into the other side.

        Every field is passed explicitly, so a stray ``bluegreen.toml`` or ``BLUEGREEN_*``
        variable on the worker cannot silently change what a saved block means.
        """
        return Settings(
            blue_url=self.source().url(),
            green_url=self.target().url(),
            tables=list(self.tables),
            batch_size=self.batch_size,
            time_budget=self.time_budget,
            stream=self.stream,
            mapping=Path(self.mapping) if self.mapping else None,
            interval=Settings.model_fields["interval"].default,
        )

    def describe(self) -> str:
        """One safe line for logs: production -> copy, without credentials."""
        return f"{self.source().describe()} -> {self.target().describe()} (stream {self.stream})"
