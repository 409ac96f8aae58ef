"""Safe retries: one Idempotency-Key, one effect, and no lock held while it runs.

A request with a key first records the key as in flight, committed at once. A second
request with the same key then finds either the stored result (it gets it back), or the
key still in flight (``IdempotencyKeyInFlight``: retry shortly), or a key the first
request's process left behind when it died: that one expires after a bounded time, so
its owner can retry. A request that fails after claiming its key releases it.
"""

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from application.ports import UnitOfWork
from application.snapshots import fingerprint
from domain.errors import IdempotencyKeyInFlight, IdempotencyKeyReused

# A default for use cases built without settings (tests); the service reads
# IDEMPOTENCY_IN_FLIGHT_SECONDS. Longer than any reply should take.
DEFAULT_IN_FLIGHT = timedelta(seconds=120)


@dataclass(frozen=True, slots=True)
class Claim:
    """A key this request holds in flight: complete it with the result, or release it."""

    user_id: UUID
    key: str
    request_hash: str


async def claim_key(
    uow: UnitOfWork,
    user_id: UUID,
    key: str | None,
    in_flight_for: timedelta,
    *request: object,
) -> Claim | str | None:
    """Claim ``key`` for this request: the ``Claim``, or the earlier result to return again.

    None when there is no key. ``request`` is what makes two requests the same one (the
    operation and its inputs). Raises ``IdempotencyKeyReused`` when the key came with
    another request, ``IdempotencyKeyInFlight`` when the same request is still running.
    """
    if key is None:
        return None  # and no digest of the request to compute
    request_hash = fingerprint(*request)
    earlier = await uow.idempotency.claim(user_id, key, request_hash, in_flight_for=in_flight_for)
    if earlier is None:
        return Claim(user_id, key, request_hash)
    if earlier.request_hash != request_hash:
        raise IdempotencyKeyReused()
    if earlier.result is None:
        raise IdempotencyKeyInFlight()
    return earlier.result


async def release_key(uow: Callable[[], UnitOfWork], claim: Claim | None) -> None:
    """Let a failed request's key go at once, so its owner can retry without waiting.

    Best effort: when this fails too (the database is away), the key expires anyway.
    """
    if claim is None:
        return
    with contextlib.suppress(Exception):
        async with uow() as work:
            await work.idempotency.release(claim.user_id, claim.key, claim.request_hash)
            await work.commit()
