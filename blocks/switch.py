"""Traffic switch blocks: where the application sends its writes, saved in Prefect.

The cutover moves traffic exactly once, through a *traffic switch* (the engine's
:class:`~bluegreen.release.switch.TrafficSwitch`: ``active()``, ``point_to(side)``,
``describe()``). A side is the name the switch knows a database by: ``blue`` or ``green``, the
two fields of the pair block.

- :class:`PrefectVariableSwitch` (the default): the active side in a Prefect Variable, by default
  ``bluegreen-<pair>-traffic``. Applications read it before a transaction (``Variable.get``),
  operators see and audit it in the UI. No block is needed: a release flow run without a
  ``switch`` parameter uses the pair's variable. :class:`VariableSwitchBlock` names another one.
- :class:`WebhookSwitchBlock`: a traffic manager or DNS API behind a URL; converts to the
  engine's :class:`~bluegreen.release.switch.WebhookSwitch` (URL and headers are secrets).
- :class:`CommandSwitchBlock`: a command run with the side as its last argument (no shell);
  converts to the engine's :class:`~bluegreen.release.switch.CommandSwitch`.

A release flow takes ``switch="<block-type-slug>/<block-name>"``, e.g.
``bluegreen-webhook-switch/shop-lb``. Register the block types once, so the UI can create them::

    uv run prefect block register --file blocks/switch.py
"""

from __future__ import annotations

import re
from typing import Any

import httpx
from prefect.blocks.core import Block
from prefect.types import SecretDict
from prefect.variables import Variable
from pydantic import Field, SecretStr

from bluegreen.errors import ConfigError, TransientError
from bluegreen.release.switch import (
    CommandSwitch,
    SwitchError,
    TrafficSwitch,
    WebhookSwitch,
    check_side,
)

VARIABLE_PATTERN = r"^[a-z0-9_-]{1,255}$"


def default_variable(pair: str) -> str:
    """``bluegreen-<pair>-traffic``: the default switch's variable for a pair block name.

    Variable names allow lowercase letters, digits, ``-`` and ``_``; block names are already
    lowercase letters, digits and dashes, so the mapping is one-to-one for real names."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", pair.lower()).strip("-") or "pair"
    return f"bluegreen-{slug}-traffic"[:255]


class PrefectVariableSwitch:
    """The engine's switch protocol over a Prefect Variable holding the active side.

    ``initial`` is what :meth:`active` answers while the variable does not exist yet (the
    pair's production side); :meth:`ensure` writes it, so applications can read it too.
    Failures to reach the Prefect API are transient: the switch itself did not refuse."""

    def __init__(self, variable: str, *, initial: str | None = None) -> None:
        if not re.match(VARIABLE_PATTERN, variable):
            raise ConfigError(
                f"invalid Prefect variable name {variable!r} for a traffic switch",
                fix="use lowercase letters, digits, '-' or '_' (up to 255 characters)",
            )
        self.variable = variable
        self.initial = check_side(initial) if initial is not None else None

    def describe(self) -> str:
        return f"Prefect variable switch {self.variable}"

    def _api_error(self, exc: Exception, doing: str) -> TransientError:
        return TransientError(
            f"{self.describe()}: could not {doing}: {exc}",
            fix="check that the Prefect API is reachable from this worker; "
            "nothing is known to be switched",
        )

    def stored(self) -> str | None:
        """The variable's value; None while it does not exist."""
        try:
            value = Variable.get(self.variable)
        except httpx.HTTPError as exc:  # PrefectHTTPStatusError included
            raise self._api_error(exc, "read the variable") from None
        if value is None:
            return None
        if not isinstance(value, str):
            raise SwitchError(
                f"{self.describe()} holds {value!r}, not a side name",
                fix=f'set the variable {self.variable} to a side name, e.g. "blue"',
            )
        return value

    def active(self) -> str | None:
        found = self.stored()
        return found if found is not None else self.initial

    def point_to(self, side: str) -> None:
        check_side(side)
        try:
            Variable.set(self.variable, side, tags=["bluegreen"], overwrite=True)
        except httpx.HTTPError as exc:  # PrefectHTTPStatusError included
            raise self._api_error(exc, f"set the variable to {side!r}") from None

    def ensure(self) -> str | None:
        """Write ``initial`` if the variable does not exist yet; the side it now names."""
        found = self.stored()
        if found is None and self.initial is not None:
            self.point_to(self.initial)
            return self.initial
        return found


class VariableSwitchBlock(Block):
    """A Prefect Variable that holds the active side (when the default name does not suit)."""

    _block_type_name = "bluegreen Variable Switch"
    _block_type_slug = "bluegreen-variable-switch"
    _description = (
        "Traffic switch: the side applications write to, held in a Prefect Variable. Release "
        "flows without a switch use the variable bluegreen-<pair>-traffic; this block names "
        "another one."
    )

    variable: str = Field(
        pattern=VARIABLE_PATTERN,
        description="Name of the Prefect Variable holding the active side (blue or green).",
    )
    initial: str | None = Field(
        default=None,
        description="The side to assume (and write) while the variable does not exist yet.",
    )

    def to_switch(self) -> PrefectVariableSwitch:
        return PrefectVariableSwitch(self.variable, initial=self.initial)


class WebhookSwitchBlock(Block):
    """A traffic manager or DNS API: POST ``{"side": ...}`` to switch, optionally GET to read."""

    _block_type_name = "bluegreen Webhook Switch"
    _block_type_slug = "bluegreen-webhook-switch"
    _description = (
        'Traffic switch: POSTs {"side": "<blue|green>", "sender": "bluegreen"} to a URL; '
        "a 2xx answer means switched. An optional read URL answers the active side."
    )

    url: SecretStr = Field(description="URL that switches traffic (POST, JSON body).")
    read_url: SecretStr | None = Field(
        default=None,
        description="URL answering a GET with JSON holding the active side (empty: unknown).",
    )
    headers: SecretDict | None = Field(
        default=None,
        description='Headers sent with every request, e.g. {"Authorization": "Bearer ..."}.',
    )
    key: str = Field(default="side", description="JSON key of the side, in both directions.")
    timeout: float = Field(default=10.0, gt=0, description="Seconds to wait for an answer.")

    def to_switch(self) -> WebhookSwitch:
        headers: dict[str, Any] = self.headers.get_secret_value() if self.headers else {}
        return WebhookSwitch(
            self.url,
            read_url=self.read_url,
            headers={str(k): str(v) for k, v in headers.items()},
            key=self.key,
            timeout=self.timeout,
        )


class CommandSwitchBlock(Block):
    """A command that switches traffic, run with the side as its last argument (no shell)."""

    _block_type_name = "bluegreen Command Switch"
    _block_type_slug = "bluegreen-command-switch"
    _description = (
        "Traffic switch: runs a command on the worker with the side (blue or green) appended "
        "as its last argument; exit code 0 means switched. An optional query command prints "
        "the active side."
    )

    command: list[str] = Field(
        min_length=1, description="The command and its arguments, e.g. ['/opt/lb/switch']."
    )
    query: list[str] | None = Field(
        default=None, description="A command whose output is the active side (empty: unknown)."
    )
    timeout: float = Field(default=60.0, gt=0, description="Seconds the command may take.")

    def to_switch(self) -> CommandSwitch:
        return CommandSwitch(self.command, query=self.query, timeout=self.timeout)


SWITCH_BLOCKS: tuple[type[Block], ...] = (
    VariableSwitchBlock,
    WebhookSwitchBlock,
    CommandSwitchBlock,
)


def register_switch_blocks() -> list[str]:
    """Register the switch block types with the current Prefect API (idempotent)."""
    out = []
    for block in SWITCH_BLOCKS:
        block.register_type_and_schema()
        out.append(block.get_block_type_slug())
    return out


def load_switch(reference: str | None, *, pair: str, initial: str) -> TrafficSwitch:
    """The traffic switch a release flow uses.

    ``reference`` is ``<block-type-slug>/<block-name>`` of a saved switch block; empty means
    the pair's Prefect variable (``bluegreen-<pair>-traffic``, starting on ``initial``)."""
    if not reference:
        return PrefectVariableSwitch(default_variable(pair), initial=initial)
    if "/" not in reference:
        raise ConfigError(
            f"traffic switch {reference!r} is not of the form <block-type-slug>/<block-name>",
            fix="e.g. bluegreen-webhook-switch/shop-lb, or leave it empty for the pair's "
            f"Prefect variable {default_variable(pair)}",
        )
    try:
        block = Block.load(reference)
    except ValueError as exc:
        raise ConfigError(
            f"traffic switch block {reference!r} not found: {exc}",
            fix="create it in the UI (Blocks -> + -> bluegreen ... Switch) or leave the switch "
            "empty to use the pair's Prefect variable",
        ) from None
    to_switch = getattr(block, "to_switch", None)
    if to_switch is None:
        raise ConfigError(
            f"block {reference!r} is not a traffic switch",
            fix="use a bluegreen Variable / Webhook / Command Switch block",
        )
    return to_switch()
