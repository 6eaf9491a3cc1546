"""How far the copy is behind production after a window (for the run summary and alerts).

Each window measures it right after its commit, on the window's own connections: the count
of changed keys that arrived on production meanwhile is also what tells the sync flow whether
another window is due, so a run that drained everything stops without opening an empty window.
"""

from __future__ import annotations

from dataclasses import dataclass

from bluegreen.sync.runner import Syncer
from bluegreen.watermark import Watermark


@dataclass(frozen=True)
class Lag:
    """Production's position, the copy's watermark, and the keys still waiting to ship."""

    blue_version: int
    green_version: int
    pending_keys: int

    @property
    def versions_behind(self) -> int:
        return max(0, self.blue_version - self.green_version)


def measure_lag(syncer: Syncer, since: Watermark) -> Lag:
    """Blue's current version and the changed keys after green's watermark ``since``.

    A read on blue only (green's watermark is the one the window just committed), outside any
    window transaction; the change-log index narrows the count to what arrived after ``since``.
    """
    plan = syncer.prepare()
    try:
        blue_version = syncer.blue.current_watermark().version
        pending = sum(syncer.blue.count_changes(s.blue, since) for s in plan.sources)
    finally:
        syncer.blue.rollback()
    return Lag(blue_version, 0 if since.origin else since.version, pending)
