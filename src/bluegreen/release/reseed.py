"""Re-seed green: a fresh copy of production, a new baseline, syncing (again) from there.

Two occasions, one procedure:

- after a cutover (``swap=True``): the old green is production now and the old blue the
  standby. The roles are swapped, the new production is copied over the standby, tracking is
  enabled on the new production, the baseline recorded, and the sync resumes in the new
  direction. The returned receipt carries the swapped pair for the flow to save.
- when green's watermark is too old for blue's change log (the remedy the ``ReseedRequired``
  error names): the same pair is re-seeded in place.

Guards run first: the side being overwritten must not be the one the traffic switch sends
writes to, and production must not be frozen (a cutover that is still frozen must finish or be
rolled back first).
"""

from __future__ import annotations

from dataclasses import dataclass

from bluegreen.errors import ConfigError
from bluegreen.release.load import ProgressFn
from bluegreen.release.pair import ReleasePair, Sessions
from bluegreen.release.prepare import Method, PrepareReceipt, prepare_green
from bluegreen.release.records import GateFailed, Phase, PhaseHooks
from bluegreen.release.switch import TrafficSwitch


@dataclass
class _Guard:
    pair: ReleasePair
    switch: TrafficSwitch | None
    method: Method

    def run(self) -> str:
        p = self.pair
        if self.switch is not None:
            active = self.switch.active()
            if active == p.green_label:
                raise GateFailed(
                    f"{self.switch.describe()} sends traffic to {p.green_label}, the side a "
                    "re-seed would overwrite",
                    fix=f"re-seed the standby: after a cutover to {p.green_label}, pass swap=True",
                )
        with Sessions().scope() as s:
            production = s.open(p.blue_url)
            if production.is_frozen():
                raise GateFailed(
                    f"production ({p.blue_label}) is frozen",
                    fix="finish or roll back the cutover that froze it, then re-seed",
                )
            production.rollback()
            if self.method == "load" and type(production).database_exists(p.green_url):
                standby = s.open(p.green_url)
                if standby.is_frozen():  # a retired blue: it is being overwritten anyway
                    standby.rollback()
                    standby.unfreeze()
        return f"{p.green_label} may be overwritten from {p.blue_label}"


def reseed_green(
    pair: ReleasePair,
    *,
    swap: bool = False,
    method: Method = "copy",
    switch: TrafficSwitch | None = None,
    clear: bool = True,
    on_progress: ProgressFn | None = None,
    hooks: PhaseHooks | None = None,
    dry_run: bool = False,
) -> ReseedReceipt:
    """Re-seed the standby from production (see the module docstring).

    ``pair`` is the pair as it was (``swap=True`` after a cutover exchanges the roles first).
    ``receipt.new_pair`` is the pair to sync from now on. Raises :class:`ReleaseFailed`."""
    new_pair = pair.swapped() if swap else pair
    if method not in ("copy", "load"):
        raise ConfigError(f"unknown re-seed method {method!r}", fix="use 'copy' or 'load'")
    guard = _Guard(new_pair, switch, method)
    receipt = prepare_green(
        new_pair,
        method=method,
        replace=True,
        clear=clear,
        enable_tracking=True,
        on_progress=on_progress,
        hooks=hooks,
        dry_run=dry_run,
        operation="reseed-green",
        leading=[Phase("guard", "the standby takes no traffic; production is writable", guard.run)],
    )
    out = ReseedReceipt(**{f: getattr(receipt, f) for f in receipt.__dataclass_fields__})
    out.swapped = swap
    out.new_pair = new_pair
    return out


@dataclass
class ReseedReceipt(PrepareReceipt):
    """A re-seed's receipt: a prepare receipt plus the pair to sync from now on."""

    swapped: bool = False
    new_pair: ReleasePair | None = None

    def facts(self) -> list[tuple[str, str]]:
        out = super().facts()
        if self.new_pair is not None:
            out.insert(0, ("syncing now", self.new_pair.describe()))
        return out
