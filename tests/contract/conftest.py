"""One contract, every storage adapter: each test here runs on PostgreSQL and in memory.

A test takes ``uow`` (a factory of units of work on one adapter's storage) and states
what any adapter must do. To cover a new port, add a ``test_<port>.py`` here that
uses ``uow`` and the ``saved_*`` fixtures; the parametrisation does the rest.
"""

import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from adapters.memory.unit_of_work import InMemoryStore, InMemoryUnitOfWork
from adapters.sqlalchemy.database import ConnectionPool
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from application.ports import UnitOfWork
from domain.chats import Chat
from domain.sessions import Caller
from domain.users import User

UowFactory = Callable[[], UnitOfWork]


@pytest.fixture(scope="session")
async def contract_pool(database_url: str) -> AsyncIterator[ConnectionPool]:
    pool = ConnectionPool(database_url)
    yield pool
    await pool.close()


@pytest.fixture(params=["postgresql", "memory"])
def uow(request: pytest.FixtureRequest) -> UowFactory:
    if request.param == "postgresql":
        pool: ConnectionPool = request.getfixturevalue("contract_pool")
        return lambda: SqlAlchemyUnitOfWork(pool)
    store = InMemoryStore()
    return lambda: InMemoryUnitOfWork(store)


def new_user() -> User:
    return User(email=f"{uuid.uuid4().hex}@example.com", password_hash="$argon2id$fake")


async def save(uow: UowFactory, *entities: User | Chat) -> None:
    async with uow() as work:
        for entity in entities:
            if isinstance(entity, User):
                await work.users.add(entity)
            else:
                await work.chats.add(entity, Caller(entity.user_id))
        await work.commit()


@pytest.fixture
async def saved_user(uow: UowFactory) -> User:
    user = new_user()
    await save(uow, user)
    return user


@pytest.fixture
async def saved_chat(uow: UowFactory, saved_user: User) -> Chat:
    chat = Chat(user_id=saved_user.id, title="contract")
    await save(uow, chat)
    return chat
