"""Moving traffic, as the cutover, the rollback and the rolling upgrade do it: freeze a side and
confirm the freeze, point the switch and confirm where it points, and undo both.

A step that cannot be confirmed raises (the operation then undoes what it did). The undo steps
record what they could not do as a warning instead of raising: an undo runs while a failure is
already on its way up, and must not hide it.
"""

from __future__ import annotations

import time
from typing import Generic, Protocol, TypeVar

from pydantic import SecretStr

from bluegreen.dialects.base import Dialect
from bluegreen.errors import TerminalError
from bluegreen.release.pair import ReleasePair, Sessions
from bluegreen.release.records import failure_text, utcnow
from bluegreen.release.switch import SwitchError, TrafficSwitch


class FreezeReceipt(Protocol):
    """The receipt fields these steps write (cutover and rolling-upgrade receipts have them)."""

    warnings: list[str]
    freeze_started_at: str | None
    routing_after: str | None
    blue_unfrozen: bool | None
    freeze_ended_at: str | None
    freeze_seconds: float | None


def freeze_confirmed(db: Dialect, label: str, fix: str, why: str = "") -> None:
    """Freeze ``db`` (the side called ``label``); a TerminalError when the freeze is not
    confirmed (``why`` ends the message)."""
    db.freeze()
    if not db.is_frozen():
        raise TerminalError(f"the freeze of {label} could not be confirmed{why}", fix=fix)


def point_confirmed(switch: TrafficSwitch, label: str, fix: str) -> None:
    """Point ``switch`` at ``label``; a SwitchError when it then reports another side."""
    switch.point_to(label)
    now = switch.active()
    if now is not None and now != label:
        raise SwitchError(
            f"{switch.describe()} reports {now!r} after pointing at {label!r}", fix=fix
        )


def route_back(switch: TrafficSwitch, label: str, receipt: FreezeReceipt) -> bool:
    """Point ``switch`` back at ``label``; True unless routing is known not to be there."""
    try:
        switch.point_to(label)
        now = switch.active()
    except Exception as exc:  # any switch, any failure: routing is unknown
        receipt.warnings.append(f"could not point the switch back: {failure_text(exc)[0]}")
        return False
    receipt.routing_after = now
    return now is None or now == label


def unfreeze_blue(
    sessions: Sessions, url: SecretStr, receipt: FreezeReceipt, frozen_at: float, hint: str = ""
) -> None:
    """Unfreeze blue and record whether it is writable and how long it was frozen
    (``frozen_at``: ``time.perf_counter()`` at the freeze); ``hint`` ends the warning."""
    try:
        with sessions.scope():
            blue = sessions.open(url)
            blue.unfreeze()
            receipt.blue_unfrozen = not blue.is_frozen()
    except Exception as exc:
        receipt.blue_unfrozen = False
        receipt.warnings.append(f"blue could not be unfrozen: {failure_text(exc)[0]}{hint}")
    receipt.freeze_ended_at = utcnow()
    receipt.freeze_seconds = time.perf_counter() - frozen_at


RT = TypeVar("RT", bound=FreezeReceipt)


class FreezeAndSwitch(Generic[RT]):
    """An operation that freezes blue and then points traffic at green (the cutover, the rolling
    upgrade): what it attempted, which its undo reads, and when blue froze."""

    def __init__(self, pair: ReleasePair, switch: TrafficSwitch, receipt: RT) -> None:
        self.pair = pair
        self.switch = switch
        self.receipt = receipt
        self.sessions = Sessions()
        self.freeze_attempted = False
        self.switch_attempted = False
        self.switched = False
        self.frozen_at = 0.0

    def freeze_blue(self, blue: Dialect, fix: str, why: str = "") -> None:
        """Freeze blue (through ``blue``) and confirm it; the freeze's clock starts here."""
        self.freeze_attempted = True
        self.frozen_at = time.perf_counter()
        self.receipt.freeze_started_at = utcnow()
        freeze_confirmed(blue, self.pair.blue_label, fix, why)

    def point_at_green(self, fix: str) -> None:
        """Point traffic at green and confirm it; the freeze's clock stops here."""
        r = self.receipt
        self.switch_attempted = True
        point_confirmed(self.switch, self.pair.green_label, fix)
        self.switched = True
        r.freeze_seconds = time.perf_counter() - self.frozen_at
        r.freeze_ended_at = utcnow()
        r.routing_after = self.pair.green_label

    def route_back(self) -> bool:
        """Undo: point traffic back at blue if the switch was reached; False when routing
        is not confirmed on blue (blue must then stay frozen)."""
        if not self.switch_attempted:
            return True
        return route_back(self.switch, self.pair.blue_label, self.receipt)

    def release_blue(self, routing_ok: bool, left_frozen: str, hint: str = "") -> None:
        """Undo: unfreeze blue if the freeze was attempted, unless routing is not confirmed
        back on it (then it stays frozen, so both sides never take writes: ``left_frozen``
        warns of it)."""
        if not self.freeze_attempted:
            return
        if not routing_ok:
            self.receipt.blue_unfrozen = False
            self.receipt.warnings.append(left_frozen)
            return
        unfreeze_blue(self.sessions, self.pair.blue_url, self.receipt, self.frozen_at, hint)
