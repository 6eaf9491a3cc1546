"""Prefect blocks for bluegreen: saved, secret-aware settings that convert to engine settings.

Register them once per Prefect server (``bluegreen serve`` does it for you)::

    uv run prefect block register --file blocks/database.py
    uv run prefect block register --file blocks/pair.py
    uv run prefect block register --file blocks/switch.py
"""

from blocks.database import DatabaseConnection
from blocks.pair import BlueGreenPair
from blocks.switch import CommandSwitchBlock, VariableSwitchBlock, WebhookSwitchBlock

__all__ = [
    "BlueGreenPair",
    "CommandSwitchBlock",
    "DatabaseConnection",
    "VariableSwitchBlock",
    "WebhookSwitchBlock",
    "register_blocks",
]


def register_blocks() -> list[str]:
    """Register every bluegreen block type with the current Prefect API (idempotent)."""
    out = []
    for block in (
        DatabaseConnection,
        BlueGreenPair,
        VariableSwitchBlock,
        WebhookSwitchBlock,
        CommandSwitchBlock,
    ):
        block.register_type_and_schema()
        out.append(block.get_block_type_slug())
    return out
