"""The session repository's contract, on PostgreSQL and on the in-memory adapter alike."""

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.memory.unit_of_work import InMemoryStore, InMemoryUnitOfWork
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from application.ports import UnitOfWork
from domain.errors import InvalidToken
from domain.sessions import Caller, Session
from domain.users import User

UowFactory = Callable[[], UnitOfWork]


@pytest.fixture(params=["postgresql", "memory"])
def store(request: pytest.FixtureRequest, engine: AsyncEngine) -> UowFactory:
    if request.param == "postgresql":
        return lambda: SqlAlchemyUnitOfWork(engine)
    memory = InMemoryStore()
    return lambda: InMemoryUnitOfWork(memory)


def _later(days: int = 30) -> datetime:
    return datetime.now(UTC) + timedelta(days=days)


def _hash() -> str:
    return uuid.uuid4().hex * 2  # 64 characters, like a SHA-256 in hex


async def _user(store: UowFactory) -> User:
    user = User(email=f"{uuid.uuid4().hex}@example.com", password_hash="$argon2id$fake")
    async with store() as uow:
        await uow.users.add(user)
        await uow.commit()
    return user


async def _session(store: UowFactory, user: User, refresh_hash: str) -> Session:
    session = Session(user_id=user.id, expires_at=_later(), user_agent="test", client_address="::1")
    async with store() as uow:
        await uow.sessions.add(session, refresh_hash)
        await uow.commit()
    return session


def _caller(session: Session) -> Caller:
    return Caller(session.user_id, session.id)


async def test_a_new_session_is_live_and_listed(store: UowFactory) -> None:
    user = await _user(store)
    session = await _session(store, user, _hash())

    async with store() as uow:
        assert await uow.sessions.is_live(_caller(session))
        assert not await uow.sessions.is_live(Caller(uuid.uuid4(), session.id))
        listed = await uow.sessions.list_live(user.id)
    assert [s.id for s in listed] == [session.id]
    assert listed[0].user_agent == "test"
    assert listed[0].client_address == "::1"


async def test_rotation_swaps_the_token_once(store: UowFactory) -> None:
    user = await _user(store)
    first, second, third = _hash(), _hash(), _hash()
    session = await _session(store, user, first)

    async with store() as uow:
        rotated = await uow.sessions.rotate(first, second, _later(31))
        await uow.commit()
    async with store() as uow:
        again = await uow.sessions.rotate(first, third, _later(31))
        await uow.commit()

    assert rotated is not None
    assert rotated.id == session.id
    assert rotated.expires_at > session.expires_at
    assert again is None
    async with store() as uow:
        assert await uow.sessions.rotate(second, third, _later()) is not None


async def test_a_rotated_token_presented_again_ends_its_session(store: UowFactory) -> None:
    user = await _user(store)
    first, second = _hash(), _hash()
    session = await _session(store, user, first)
    async with store() as uow:
        await uow.sessions.rotate(first, second, _later())
        await uow.commit()

    async with store() as uow:
        assert await uow.sessions.revoke_rotated(first)
        await uow.commit()

    async with store() as uow:
        assert not await uow.sessions.is_live(_caller(session))
        assert await uow.sessions.rotate(second, _hash(), _later()) is None
        assert not await uow.sessions.revoke_rotated(_hash())  # never issued: no effect


async def test_an_expired_session_is_neither_live_nor_refreshable(store: UowFactory) -> None:
    user = await _user(store)
    token = _hash()
    session = Session(user_id=user.id, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    async with store() as uow:
        await uow.sessions.add(session, token)
        await uow.commit()

    async with store() as uow:
        assert not await uow.sessions.is_live(_caller(session))
        assert await uow.sessions.rotate(token, _hash(), _later()) is None
        assert await uow.sessions.list_live(user.id) == []


async def test_revoke_one_and_revoke_all_but_one(store: UowFactory) -> None:
    user, stranger = await _user(store), await _user(store)
    kept, ended, other = [await _session(store, user, _hash()) for _ in range(3)]
    foreign = await _session(store, stranger, _hash())

    async with store() as uow:
        assert not await uow.sessions.revoke(foreign.id, user.id)
        assert await uow.sessions.revoke(ended.id, user.id)
        await uow.commit()
    async with store() as uow:
        assert not await uow.sessions.revoke(ended.id, user.id)  # already over
        await uow.sessions.revoke_all(user.id, except_session=kept.id)
        await uow.commit()

    async with store() as uow:
        assert [s.id for s in await uow.sessions.list_live(user.id)] == [kept.id]
        assert not await uow.sessions.is_live(_caller(other))
        assert await uow.sessions.is_live(_caller(foreign))
        await uow.sessions.revoke_all(user.id)
        await uow.commit()
    async with store() as uow:
        assert await uow.sessions.list_live(user.id) == []


async def test_deleting_the_user_ends_their_sessions(store: UowFactory) -> None:
    user = await _user(store)
    session = await _session(store, user, _hash())

    async with store() as uow:
        await uow.users.delete(user.id)
        await uow.commit()

    async with store() as uow:
        assert not await uow.sessions.is_live(_caller(session))


async def test_a_session_for_a_vanished_user_is_an_invalid_token(store: UowFactory) -> None:
    ghost = User(email="ghost@example.com", password_hash="x")
    with pytest.raises(InvalidToken):
        async with store() as uow:
            await uow.sessions.add(Session(user_id=ghost.id, expires_at=_later()), _hash())
            await uow.commit()


async def test_purge_forgets_sessions_long_over(store: UowFactory) -> None:
    user = await _user(store)
    old = Session(user_id=user.id, expires_at=datetime.now(UTC) - timedelta(days=10))
    async with store() as uow:
        await uow.sessions.add(old, _hash())
        await uow.commit()
    live = await _session(store, user, _hash())

    async with store() as uow:
        await uow.sessions.purge(datetime.now(UTC) - timedelta(days=7))
        await uow.commit()

    async with store() as uow:
        assert await uow.sessions.is_live(_caller(live))
        assert not await uow.sessions.revoke_rotated(_hash())


async def test_concurrent_rotations_with_one_token_let_one_through(engine: AsyncEngine) -> None:
    store: UowFactory = lambda: SqlAlchemyUnitOfWork(engine)  # noqa: E731
    user = await _user(store)
    token = _hash()
    await _session(store, user, token)

    async def rotate() -> Session | None:
        async with store() as uow:
            rotated = await uow.sessions.rotate(token, _hash(), _later())
            await uow.commit()
            return rotated

    results = await asyncio.gather(*(rotate() for _ in range(8)))

    assert sum(r is not None for r in results) == 1
