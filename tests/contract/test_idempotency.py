"""The idempotency store's contract."""

import uuid
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from application.ports import IdempotentRecord, UnitOfWork
from domain.errors import InvalidToken
from domain.users import User
from tests.contract.conftest import UowFactory

IN_FLIGHT = timedelta(minutes=2)


async def _claim(
    work: UnitOfWork,
    user_id: UUID,
    key: str,
    request_hash: str,
    in_flight_for: timedelta = IN_FLIGHT,
) -> IdempotentRecord | None:
    return await work.idempotency.claim(user_id, key, request_hash, in_flight_for=in_flight_for)


async def test_a_claim_is_committed_at_once_and_a_second_claim_sees_it(
    uow: UowFactory, saved_user: User
) -> None:
    async with uow() as work:
        assert await _claim(work, saved_user.id, "k", "hash-1") is None
        # left without commit: the claim stays all the same

    async with uow() as work:
        earlier = await _claim(work, saved_user.id, "k", "hash-2")
    assert earlier is not None
    assert (earlier.request_hash, earlier.result) == ("hash-1", None)


async def test_a_completed_key_returns_its_result(uow: UowFactory, saved_user: User) -> None:
    async with uow() as work:
        await _claim(work, saved_user.id, "k", "hash")
        await work.idempotency.complete(saved_user.id, "k", '{"id": 1}')
        await work.commit()

    async with uow() as work:
        earlier = await _claim(work, saved_user.id, "k", "hash")
    assert earlier is not None
    assert earlier.result == '{"id": 1}'


async def test_keys_are_per_user(uow: UowFactory, saved_user: User) -> None:
    other = User(email=f"{uuid.uuid4().hex}@example.com", password_hash="x")
    async with uow() as work:
        await work.users.add(other)
        await work.commit()
    async with uow() as work:
        await _claim(work, saved_user.id, "shared", "a")

    async with uow() as work:
        assert await _claim(work, other.id, "shared", "b") is None


async def test_completing_a_key_never_claimed_does_nothing(
    uow: UowFactory, saved_user: User
) -> None:
    async with uow() as work:
        await work.idempotency.complete(saved_user.id, "never-claimed", "result")
        await work.commit()

    async with uow() as work:
        assert await _claim(work, saved_user.id, "never-claimed", "h") is None


async def test_a_claim_for_a_vanished_user_is_an_invalid_token(uow: UowFactory) -> None:
    with pytest.raises(InvalidToken):
        async with uow() as work:
            await _claim(work, uuid.uuid4(), "k", "hash")


async def test_a_key_in_flight_too_long_is_taken_over(uow: UowFactory, saved_user: User) -> None:
    async with uow() as work:
        await _claim(work, saved_user.id, "k", "first")

    async with uow() as work:
        assert await _claim(work, saved_user.id, "k", "second", in_flight_for=timedelta(0)) is None

    async with uow() as work:
        earlier = await _claim(work, saved_user.id, "k", "third")
    assert earlier is not None
    assert earlier.request_hash == "second"


async def test_release_forgets_a_key_still_in_flight_for_that_request_only(
    uow: UowFactory, saved_user: User
) -> None:
    for key in ("released", "kept"):
        async with uow() as work:
            await _claim(work, saved_user.id, key, "mine")

    async with uow() as work:
        await work.idempotency.release(saved_user.id, "released", "mine")
        await work.idempotency.release(saved_user.id, "kept", "someone else's")
        await work.commit()

    async with uow() as work:
        assert await _claim(work, saved_user.id, "released", "h") is None
        assert await _claim(work, saved_user.id, "kept", "h") is not None


async def test_purge_forgets_keys_first_used_before_the_cutoff(
    uow: UowFactory, saved_user: User
) -> None:
    async with uow() as work:
        await _claim(work, saved_user.id, "old", "h")

    async with uow() as work:
        await work.idempotency.purge(datetime.now(UTC) - timedelta(hours=1))  # keeps it
        await work.commit()
    async with uow() as work:
        assert await _claim(work, saved_user.id, "old", "h") is not None

    async with uow() as work:
        await work.idempotency.purge(datetime.now(UTC) + timedelta(seconds=1))
        await work.commit()
    async with uow() as work:
        assert await _claim(work, saved_user.id, "old", "h") is None
