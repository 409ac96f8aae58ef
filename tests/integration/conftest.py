"""SQLAlchemy adapters against the run's throwaway PostgreSQL database."""

import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from adapters.sqlalchemy.database import ConnectionPool
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from domain.chats import Chat
from domain.sessions import Caller
from domain.users import User


@pytest.fixture(scope="session")
async def pool(database_url: str) -> AsyncIterator[ConnectionPool]:
    pool = ConnectionPool(database_url)
    yield pool
    await pool.close()


@pytest.fixture
def uow(pool: ConnectionPool) -> Callable[[], SqlAlchemyUnitOfWork]:
    return lambda: SqlAlchemyUnitOfWork(pool)


@pytest.fixture
async def saved_user(uow: Callable[[], SqlAlchemyUnitOfWork]) -> User:
    user = User(email=f"{uuid.uuid4().hex}@example.com", password_hash="$argon2id$fake")
    async with uow() as work:
        await work.users.add(user)
        await work.commit()
    return user


@pytest.fixture
async def saved_chat(uow: Callable[[], SqlAlchemyUnitOfWork], saved_user: User) -> Chat:
    chat = Chat(user_id=saved_user.id, title="integration")
    async with uow() as work:
        await work.chats.add(chat, Caller(saved_user.id))
        await work.commit()
    return chat
