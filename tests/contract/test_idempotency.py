"""The idempotency store's contract."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from domain.errors import InvalidToken
from domain.users import User
from tests.contract.conftest import UowFactory


async def test_a_fresh_key_is_claimed_and_a_second_claim_sees_the_first(
    uow: UowFactory, saved_user: User
) -> None:
    async with uow() as work:
        assert await work.idempotency.claim(saved_user.id, "k", "hash-1") is None
        await work.commit()

    async with uow() as work:
        earlier = await work.idempotency.claim(saved_user.id, "k", "hash-2")
    assert earlier is not None
    assert (earlier.request_hash, earlier.result) == ("hash-1", None)


async def test_a_completed_key_returns_its_result(uow: UowFactory, saved_user: User) -> None:
    async with uow() as work:
        await work.idempotency.claim(saved_user.id, "k", "hash")
        await work.idempotency.complete(saved_user.id, "k", '{"id": 1}')
        await work.commit()

    async with uow() as work:
        earlier = await work.idempotency.claim(saved_user.id, "k", "hash")
    assert earlier is not None
    assert earlier.result == '{"id": 1}'


async def test_keys_are_per_user(uow: UowFactory, saved_user: User) -> None:
    other = User(email=f"{uuid.uuid4().hex}@example.com", password_hash="x")
    async with uow() as work:
        await work.users.add(other)
        await work.idempotency.claim(saved_user.id, "shared", "a")
        await work.commit()

    async with uow() as work:
        assert await work.idempotency.claim(other.id, "shared", "b") is None


async def test_completing_a_key_never_claimed_does_nothing(
    uow: UowFactory, saved_user: User
) -> None:
    async with uow() as work:
        await work.idempotency.complete(saved_user.id, "never-claimed", "result")
        await work.commit()

    async with uow() as work:
        assert await work.idempotency.claim(saved_user.id, "never-claimed", "h") is None


async def test_a_claim_for_a_vanished_user_is_an_invalid_token(uow: UowFactory) -> None:
    with pytest.raises(InvalidToken):
        async with uow() as work:
            await work.idempotency.claim(uuid.uuid4(), "k", "hash")
            await work.commit()


async def test_purge_forgets_keys_first_used_before_the_cutoff(
    uow: UowFactory, saved_user: User
) -> None:
    async with uow() as work:
        await work.idempotency.claim(saved_user.id, "old", "h")
        await work.commit()

    async with uow() as work:
        await work.idempotency.purge(datetime.now(UTC) - timedelta(hours=1))  # keeps it
        await work.commit()
    async with uow() as work:
        assert await work.idempotency.claim(saved_user.id, "old", "h") is not None

    async with uow() as work:
        await work.idempotency.purge(datetime.now(UTC) + timedelta(seconds=1))
        await work.commit()
    async with uow() as work:
        assert await work.idempotency.claim(saved_user.id, "old", "h") is None
