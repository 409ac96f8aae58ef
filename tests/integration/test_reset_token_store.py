"""The reset token repository's contract, on PostgreSQL and on the in-memory adapter alike."""

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.memory.unit_of_work import InMemoryStore, InMemoryUnitOfWork
from adapters.sqlalchemy.tables import password_reset_tokens
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from application.ports import UnitOfWork
from domain.errors import UserNotFound
from domain.password_resets import ResetToken, new_reset_secret, reset_digest
from domain.users import User

UowFactory = Callable[[], UnitOfWork]


@pytest.fixture(params=["postgresql", "memory"])
def store(request: pytest.FixtureRequest, engine: AsyncEngine) -> UowFactory:
    if request.param == "postgresql":
        return lambda: SqlAlchemyUnitOfWork(engine)
    memory = InMemoryStore()
    return lambda: InMemoryUnitOfWork(memory)


async def _user(store: UowFactory) -> User:
    user = User(email=f"{uuid.uuid4().hex}@example.com", password_hash="$argon2id$fake")
    async with store() as uow:
        await uow.users.add(user)
        await uow.commit()
    return user


def _token(user: User, *, lives: timedelta = timedelta(minutes=30)) -> ResetToken:
    now = datetime.now(UTC)
    return ResetToken(user.id, reset_digest(new_reset_secret()), now, now + lives)


async def _replace(store: UowFactory, token: ResetToken) -> None:
    async with store() as uow:
        await uow.reset_tokens.replace(token)
        await uow.commit()


async def _find(store: UowFactory, token: ResetToken) -> uuid.UUID | None:
    async with store() as uow:
        return await uow.reset_tokens.find(token.digest, datetime.now(UTC))


async def _consume(store: UowFactory, token: ResetToken) -> uuid.UUID | None:
    async with store() as uow:
        user_id = await uow.reset_tokens.consume(token.digest, datetime.now(UTC))
        await uow.commit()
        return user_id


async def test_a_token_is_found_until_consumed_once(store: UowFactory) -> None:
    user = await _user(store)
    token = _token(user)
    await _replace(store, token)

    assert await _find(store, token) == user.id
    assert await _find(store, token) == user.id  # finding does not spend it
    assert await _consume(store, token) == user.id
    assert await _consume(store, token) is None
    assert await _find(store, token) is None


async def test_a_newer_token_replaces_the_older(store: UowFactory) -> None:
    user = await _user(store)
    older, newer = _token(user), _token(user)
    await _replace(store, older)
    await _replace(store, newer)

    assert await _find(store, older) is None
    assert await _consume(store, older) is None
    assert await _consume(store, newer) == user.id


async def test_tokens_of_different_users_do_not_touch(store: UowFactory) -> None:
    alice, bob = await _user(store), await _user(store)
    for_alice, for_bob = _token(alice), _token(bob)
    await _replace(store, for_alice)
    await _replace(store, for_bob)

    assert await _consume(store, for_alice) == alice.id
    assert await _find(store, for_bob) == bob.id


async def test_an_expired_token_is_neither_found_nor_consumed(store: UowFactory) -> None:
    user = await _user(store)
    token = _token(user, lives=-timedelta(seconds=1))
    await _replace(store, token)

    assert await _find(store, token) is None
    assert await _consume(store, token) is None


async def test_a_consume_that_rolls_back_leaves_the_token(store: UowFactory) -> None:
    user = await _user(store)
    token = _token(user)
    await _replace(store, token)

    async with store() as uow:
        assert await uow.reset_tokens.consume(token.digest, datetime.now(UTC)) == user.id
        # no commit

    assert await _find(store, token) == user.id


async def test_concurrent_consumes_let_one_through(store: UowFactory) -> None:
    user = await _user(store)
    token = _token(user)
    await _replace(store, token)

    results = await asyncio.gather(*(_consume(store, token) for _ in range(5)))

    assert sorted(results, key=lambda r: r is None) == [user.id, None, None, None, None]


async def test_a_token_for_a_vanished_user_is_user_not_found(store: UowFactory) -> None:
    ghost = User(email="ghost@example.com", password_hash="x")
    with pytest.raises(UserNotFound):
        await _replace(store, _token(ghost))


async def test_deleting_the_user_deletes_the_token(store: UowFactory) -> None:
    user = await _user(store)
    token = _token(user)
    await _replace(store, token)
    async with store() as uow:
        await uow.users.delete(user.id)
        await uow.commit()

    assert await _find(store, token) is None


async def test_purge_forgets_expired_tokens_only(store: UowFactory) -> None:
    alive_user, expired_user = await _user(store), await _user(store)
    alive = _token(alive_user)
    expired = _token(expired_user, lives=-timedelta(minutes=1))
    await _replace(store, alive)
    await _replace(store, expired)

    async with store() as uow:
        await uow.reset_tokens.purge(datetime.now(UTC))
        await uow.commit()

    assert await _find(store, alive) == alive_user.id


async def test_purge_deletes_expired_rows(engine: AsyncEngine) -> None:
    store: UowFactory = lambda: SqlAlchemyUnitOfWork(engine)  # noqa: E731
    user = await _user(store)
    await _replace(store, _token(user, lives=-timedelta(minutes=1)))

    async with store() as uow:
        await uow.reset_tokens.purge(datetime.now(UTC))
        await uow.commit()

    async with engine.connect() as connection:
        rows = await connection.execute(
            select(password_reset_tokens).where(password_reset_tokens.c.user_id == user.id)
        )
        assert rows.all() == []
