"""Safe retries: one Idempotency-Key, one effect."""

from uuid import UUID

from application.ports import UnitOfWork
from application.snapshots import fingerprint
from domain.errors import IdempotencyKeyReused


async def earlier_result(
    uow: UnitOfWork, user_id: UUID, key: str | None, *request: object
) -> str | None:
    """Claim ``key`` in ``uow``'s transaction; return what its first use produced, if any.

    ``request`` is what makes two requests the same one (the operation and its inputs).
    Raises ``IdempotencyKeyReused`` when the key first came with another request.
    """
    if key is None:
        return None  # and no digest of the request to compute
    request_hash = fingerprint(*request)
    earlier = await uow.idempotency.claim(user_id, key, request_hash)
    if earlier is None:
        return None
    if earlier.request_hash != request_hash:
        raise IdempotencyKeyReused()
    return earlier.result
