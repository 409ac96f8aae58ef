"""The reset token repository's contract, on every storage adapter (tests/contract)."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from adapters.sqlalchemy.database import ConnectionPool
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from domain.errors import UserNotFound
from domain.password_resets import ResetToken, new_reset_secret, reset_digest
from domain.users import User
from tests.contract.conftest import UowFactory, new_user, save


async def _user(uow: UowFactory) -> User:
    user = new_user()
    await save(uow, user)
    return user


def _token(user: User, *, lives: timedelta = timedelta(minutes=30)) -> ResetToken:
    now = datetime.now(UTC)
    return ResetToken(user.id, reset_digest(new_reset_secret()), now, now + lives)


async def _replace(uow: UowFactory, token: ResetToken) -> None:
    async with uow() as work:
        await work.reset_tokens.replace(token)
        await work.commit()


async def _find(uow: UowFactory, token: ResetToken) -> uuid.UUID | None:
    async with uow() as work:
        return await work.reset_tokens.find(token.digest, datetime.now(UTC))


async def _consume(uow: UowFactory, token: ResetToken) -> uuid.UUID | None:
    async with uow() as work:
        user_id = await work.reset_tokens.consume(token.digest, datetime.now(UTC))
        await work.commit()
        return user_id


async def test_a_token_is_found_until_consumed_once(uow: UowFactory) -> None:
    user = await _user(uow)
    token = _token(user)
    await _replace(uow, token)

    assert await _find(uow, token) == user.id
    assert await _find(uow, token) == user.id  # finding does not spend it
    assert await _consume(uow, token) == user.id
    assert await _consume(uow, token) is None
    assert await _find(uow, token) is None


async def test_a_newer_token_replaces_the_older(uow: UowFactory) -> None:
    user = await _user(uow)
    older, newer = _token(user), _token(user)
    await _replace(uow, older)
    await _replace(uow, newer)

    assert await _find(uow, older) is None
    assert await _consume(uow, older) is None
    assert await _consume(uow, newer) == user.id


async def test_tokens_of_different_users_do_not_touch(uow: UowFactory) -> None:
    alice, bob = await _user(uow), await _user(uow)
    for_alice, for_bob = _token(alice), _token(bob)
    await _replace(uow, for_alice)
    await _replace(uow, for_bob)

    assert await _consume(uow, for_alice) == alice.id
    assert await _find(uow, for_bob) == bob.id


async def test_an_expired_token_is_neither_found_nor_consumed(uow: UowFactory) -> None:
    user = await _user(uow)
    token = _token(user, lives=-timedelta(seconds=1))
    await _replace(uow, token)

    assert await _find(uow, token) is None
    assert await _consume(uow, token) is None


async def test_a_consume_that_rolls_back_leaves_the_token(uow: UowFactory) -> None:
    user = await _user(uow)
    token = _token(user)
    await _replace(uow, token)

    async with uow() as work:
        assert await work.reset_tokens.consume(token.digest, datetime.now(UTC)) == user.id
        # no commit

    assert await _find(uow, token) == user.id


async def test_concurrent_consumes_let_one_through(uow: UowFactory) -> None:
    user = await _user(uow)
    token = _token(user)
    await _replace(uow, token)

    results = await asyncio.gather(*(_consume(uow, token) for _ in range(5)))

    assert sorted(results, key=lambda r: r is None) == [user.id, None, None, None, None]


async def test_a_token_for_a_vanished_user_is_user_not_found(uow: UowFactory) -> None:
    ghost = User(email="ghost@example.com", password_hash="x")
    with pytest.raises(UserNotFound):
        await _replace(uow, _token(ghost))


async def test_deleting_the_user_deletes_the_token(uow: UowFactory) -> None:
    user = await _user(uow)
    token = _token(user)
    await _replace(uow, token)
    async with uow() as work:
        await work.users.delete(user.id)
        await work.commit()

    assert await _find(uow, token) is None


async def test_purge_forgets_expired_tokens_only(uow: UowFactory) -> None:
    alive_user, expired_user = await _user(uow), await _user(uow)
    alive = _token(alive_user)
    expired = _token(expired_user, lives=-timedelta(minutes=1))
    await _replace(uow, alive)
    await _replace(uow, expired)

    async with uow() as work:
        await work.reset_tokens.purge(datetime.now(UTC))
        await work.commit()

    assert await _find(uow, alive) == alive_user.id


async def test_purge_deletes_expired_rows(contract_pool: ConnectionPool, database_url: str) -> None:
    uow: UowFactory = lambda: SqlAlchemyUnitOfWork(contract_pool)  # noqa: E731
    user = await _user(uow)
    await _replace(uow, _token(user, lives=-timedelta(minutes=1)))

    async with uow() as work:
        await work.reset_tokens.purge(datetime.now(UTC))
        await work.commit()

    with psycopg.connect(database_url) as connection:
        rows = connection.execute(
            "SELECT * FROM password_reset_tokens WHERE user_id = %s", [user.id]
        ).fetchall()
        assert rows == []
