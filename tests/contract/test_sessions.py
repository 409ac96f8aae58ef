"""The session repository's contract, on every storage adapter (tests/contract)."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from adapters.sqlalchemy.database import ConnectionPool
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from domain.errors import InvalidToken
from domain.sessions import Caller, Session
from domain.users import User
from tests.contract.conftest import UowFactory, new_user, save


def _later(days: int = 30) -> datetime:
    return datetime.now(UTC) + timedelta(days=days)


def _hash() -> str:
    return uuid.uuid4().hex * 2  # 64 characters, like a SHA-256 in hex


async def _user(uow: UowFactory) -> User:
    user = new_user()
    await save(uow, user)
    return user


async def _session(uow: UowFactory, user: User, refresh_hash: str) -> Session:
    session = Session(user_id=user.id, expires_at=_later(), user_agent="test", client_address="::1")
    async with uow() as work:
        await work.sessions.add(session, refresh_hash)
        await work.commit()
    return session


def _caller(session: Session) -> Caller:
    return Caller(session.user_id, session.id)


async def test_a_new_session_is_live_and_listed(uow: UowFactory) -> None:
    user = await _user(uow)
    session = await _session(uow, user, _hash())

    async with uow() as work:
        assert await work.sessions.is_live(_caller(session))
        assert not await work.sessions.is_live(Caller(uuid.uuid4(), session.id))
        listed = await work.sessions.list_live(user.id)
    assert [s.id for s in listed] == [session.id]
    assert listed[0].user_agent == "test"
    assert listed[0].client_address == "::1"


async def test_rotation_swaps_the_token_once(uow: UowFactory) -> None:
    user = await _user(uow)
    first, second, third = _hash(), _hash(), _hash()
    session = await _session(uow, user, first)

    async with uow() as work:
        rotated = await work.sessions.rotate(first, second, _later(31))
        await work.commit()
    async with uow() as work:
        again = await work.sessions.rotate(first, third, _later(31))
        await work.commit()

    assert rotated is not None
    assert rotated.id == session.id
    assert rotated.expires_at > session.expires_at
    assert again is None
    async with uow() as work:
        assert await work.sessions.rotate(second, third, _later()) is not None


async def test_a_rotated_token_presented_again_ends_its_session(uow: UowFactory) -> None:
    user = await _user(uow)
    first, second = _hash(), _hash()
    session = await _session(uow, user, first)
    async with uow() as work:
        await work.sessions.rotate(first, second, _later())
        await work.commit()

    async with uow() as work:
        assert await work.sessions.revoke_rotated(first)
        await work.commit()

    async with uow() as work:
        assert not await work.sessions.is_live(_caller(session))
        assert await work.sessions.rotate(second, _hash(), _later()) is None
        assert not await work.sessions.revoke_rotated(_hash())  # never issued: no effect


async def test_an_expired_session_is_neither_live_nor_refreshable(uow: UowFactory) -> None:
    user = await _user(uow)
    token = _hash()
    session = Session(user_id=user.id, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    async with uow() as work:
        await work.sessions.add(session, token)
        await work.commit()

    async with uow() as work:
        assert not await work.sessions.is_live(_caller(session))
        assert await work.sessions.rotate(token, _hash(), _later()) is None
        assert await work.sessions.list_live(user.id) == []


async def test_revoke_one_and_revoke_all_but_one(uow: UowFactory) -> None:
    user, stranger = await _user(uow), await _user(uow)
    kept, ended, other = [await _session(uow, user, _hash()) for _ in range(3)]
    foreign = await _session(uow, stranger, _hash())

    async with uow() as work:
        assert not await work.sessions.revoke(foreign.id, user.id)
        assert await work.sessions.revoke(ended.id, user.id)
        await work.commit()
    async with uow() as work:
        assert not await work.sessions.revoke(ended.id, user.id)  # already over
        await work.sessions.revoke_all(user.id, except_session=kept.id)
        await work.commit()

    async with uow() as work:
        assert [s.id for s in await work.sessions.list_live(user.id)] == [kept.id]
        assert not await work.sessions.is_live(_caller(other))
        assert await work.sessions.is_live(_caller(foreign))
        await work.sessions.revoke_all(user.id)
        await work.commit()
    async with uow() as work:
        assert await work.sessions.list_live(user.id) == []


async def test_deleting_the_user_ends_their_sessions(uow: UowFactory) -> None:
    user = await _user(uow)
    session = await _session(uow, user, _hash())

    async with uow() as work:
        await work.users.delete(user.id)
        await work.commit()

    async with uow() as work:
        assert not await work.sessions.is_live(_caller(session))


async def test_a_session_for_a_vanished_user_is_an_invalid_token(uow: UowFactory) -> None:
    ghost = User(email="ghost@example.com", password_hash="x")
    with pytest.raises(InvalidToken):
        async with uow() as work:
            await work.sessions.add(Session(user_id=ghost.id, expires_at=_later()), _hash())
            await work.commit()


async def test_purge_forgets_sessions_long_over(uow: UowFactory) -> None:
    user = await _user(uow)
    old = Session(user_id=user.id, expires_at=datetime.now(UTC) - timedelta(days=10))
    async with uow() as work:
        await work.sessions.add(old, _hash())
        await work.commit()
    live = await _session(uow, user, _hash())

    async with uow() as work:
        await work.sessions.purge(datetime.now(UTC) - timedelta(days=7))
        await work.commit()

    async with uow() as work:
        assert await work.sessions.is_live(_caller(live))
        assert not await work.sessions.revoke_rotated(_hash())


async def test_concurrent_rotations_with_one_token_let_one_through(
    contract_pool: ConnectionPool,
) -> None:
    uow: UowFactory = lambda: SqlAlchemyUnitOfWork(contract_pool)  # noqa: E731
    user = await _user(uow)
    token = _hash()
    await _session(uow, user, token)

    async def rotate() -> Session | None:
        async with uow() as work:
            rotated = await work.sessions.rotate(token, _hash(), _later())
            await work.commit()
            return rotated

    results = await asyncio.gather(*(rotate() for _ in range(8)))

    assert sum(r is not None for r in results) == 1
