"""Never two syncs of one copy at once, however the second one was started.

The sync deployment's concurrency limit (CANCEL_NEW) covers runs created from the deployment.
A flow started any other way (a script, a test, another deployment of the same flow) passes
this guard too: a Prefect global concurrency limit of one slot, named after the copy (green's
redacted address and the watermark stream, so two block names for the same database still
collide). The slot is held through a lease that a background thread renews; a crashed run
stops renewing and frees the slot when the lease expires.

The engine is safe on its own (a window locks green's watermark row), but two runs of one pair
would interleave windows and double the load; the guard makes the second run stop at once, as
Cancelled, which the failure alert ignores. It asks the API once (no waiting, no retry), so a
busy guard is an ordinary answer rather than an error in the worker's log: one request takes
the slot (a limit that does not exist yet is created by the first run of a copy, which then
asks again) and one gives it back.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
from collections.abc import Iterator
from uuid import UUID

import httpx
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.client.schemas.objects import ConcurrencyLeaseHolder
from prefect.exceptions import ObjectAlreadyExists
from prefect.runtime import flow_run
from pydantic import SecretStr

from bluegreen.dialects import redact

log = logging.getLogger("bluegreen.orchestration")

LEASE_SECONDS = 120.0
_LOCKED = 423
_NOT_FOUND = 404


def guard_name(green_url: SecretStr, stream: str) -> str:
    """``bluegreen-sync-<hash>``: one name per copy and stream, no credentials in it."""
    where = f"{redact(green_url.get_secret_value())}|{stream}"
    return f"bluegreen-sync-{hashlib.sha256(where.encode()).hexdigest()[:16]}"


def _create_limit(client: SyncPrefectClient, name: str) -> None:
    with contextlib.suppress(ObjectAlreadyExists):  # another run created it just now
        client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))


class _NoLimit(Exception):
    """No concurrency limit has the guard's name yet (the first run for this copy)."""


def _increment(client: SyncPrefectClient, name: str) -> UUID | None:
    """A lease on the limit's one slot, or None when another run holds it.

    The API grants a lease on a name that no limit has (the lease then holds nothing), so the
    answer's list of limits says whether the limit exists, without a read before every run;
    such an empty lease is given back and :class:`_NoLimit` raised."""
    holder = ConcurrencyLeaseHolder(type="flow_run", id=flow_run.id) if flow_run.id else None
    try:
        response = client.increment_concurrency_slots_with_lease(
            names=[name],
            slots=1,
            mode="concurrency",
            lease_duration=LEASE_SECONDS,
            holder=holder,
        )
    except httpx.HTTPStatusError as exc:
        if exc.response.status_code == _LOCKED:
            return None
        if exc.response.status_code == _NOT_FOUND:  # an API that refuses unknown names
            raise _NoLimit(name) from None
        raise
    body = response.json()
    lease_id = UUID(body["lease_id"])
    if not body.get("limits"):
        client.release_concurrency_slots_with_lease(lease_id)
        raise _NoLimit(name)
    return lease_id


def _acquire(name: str) -> UUID | None:
    """A lease on the limit's one slot (creating the limit on a copy's first run), or None
    when another run holds it."""
    with get_client(sync_client=True) as client:
        try:
            return _increment(client, name)
        except _NoLimit:
            _create_limit(client, name)
        try:
            return _increment(client, name)
        except _NoLimit:
            raise RuntimeError(
                f"the sync guard's global concurrency limit {name!r} is missing on the Prefect "
                f"API {client.api_url} right after it was created; create it by hand "
                f"(`prefect global-concurrency-limit create {name} --limit 1`) and run again"
            ) from None


def _renew(lease_id: UUID, stop: threading.Event) -> None:
    while not stop.wait(LEASE_SECONDS / 3):
        try:
            with get_client(sync_client=True) as client:
                client.renew_concurrency_lease(lease_id, LEASE_SECONDS)
        except Exception as exc:  # the next attempt may succeed before the lease expires
            log.warning("could not renew the sync guard's lease: %s", exc)


@contextlib.contextmanager
def exclusive(name: str) -> Iterator[bool]:
    """Hold the one slot of ``name`` for the block; yield False at once if another run has it."""
    lease_id = _acquire(name)
    if lease_id is None:
        yield False
        return
    stop = threading.Event()
    renewer = threading.Thread(target=_renew, args=(lease_id, stop), daemon=True)
    renewer.start()
    try:
        yield True
    finally:
        stop.set()
        renewer.join(timeout=5)
        with get_client(sync_client=True) as client:
            client.release_concurrency_slots_with_lease(lease_id)
