"""How far the copy is behind production after a run (for the run summary and alerts)."""

from __future__ import annotations

from dataclasses import dataclass

from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.retry import retry_if_transient
from tasks.session import PairSession


@dataclass(frozen=True)
class Lag:
    """Production's position, the copy's watermark, and the keys still waiting to ship."""

    blue_version: int
    green_version: int
    pending_keys: int

    @property
    def versions_behind(self) -> int:
        return max(0, self.blue_version - self.green_version)


@task(
    name="measure-lag",
    retries=2,
    retry_delay_seconds=5,
    retry_condition_fn=retry_if_transient,
    cache_policy=NO_CACHE,
    persist_result=False,
)
def measure_lag(session: PairSession) -> Lag:
    """Blue's current version, green's watermark and the changed keys between them."""
    syncer = session.syncer
    plan = syncer.prepare()
    try:
        since, _, _ = syncer.state.read()
        syncer.green.rollback()
        blue_version = syncer.blue.current_watermark().version
        pending = sum(syncer.blue.count_changes(s.blue, since) for s in plan.sources)
    finally:
        syncer.blue.rollback()
        syncer.green.rollback()
    return Lag(blue_version, 0 if since.origin else since.version, pending)
