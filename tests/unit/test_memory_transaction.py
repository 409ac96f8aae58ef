"""UnitOfWork.transaction() on the in-memory store, and DeleteUser that relies on it."""

import pytest

from adapters.email_addresses import EmailValidatorEmailRule
from adapters.memory.unit_of_work import InMemoryStore, InMemoryUnitOfWork
from application.admin import DeleteUser
from domain.errors import UserNotFound
from domain.users import User
from tests.unit.conftest import build_app, memory_uow


def _user(email: str = "ada@example.com") -> User:
    return User(email=email, password_hash="hash")


async def test_leaving_a_transaction_without_commit_rolls_it_back() -> None:
    store = InMemoryStore()
    dropped, kept = _user("a@example.com"), _user("b@example.com")
    async with InMemoryUnitOfWork(store) as uow:
        async with uow.transaction():
            await uow.users.add(dropped)
            assert await uow.users.get(dropped.id) == dropped
        assert await uow.users.get(dropped.id) is None  # rolled back, and still usable
        async with uow.transaction():
            await uow.users.add(kept)
            await uow.commit()

    assert set(store.state.users) == {kept.id}


async def test_an_error_inside_a_transaction_rolls_it_back() -> None:
    store = InMemoryStore()
    user = _user()
    with pytest.raises(RuntimeError):
        async with InMemoryUnitOfWork(store) as uow, uow.transaction():
            await uow.users.add(user)
            raise RuntimeError("boom")
    assert store.state.users == {}


async def test_transactions_do_not_nest() -> None:
    async with InMemoryUnitOfWork(InMemoryStore()) as uow, uow.transaction():
        with pytest.raises(RuntimeError):
            async with uow.transaction():
                pass


async def test_delete_user_erases_the_account_it_found() -> None:
    app = build_app()
    user_id = (await app.sign_up("ada@example.com")).user_id
    delete = DeleteUser(memory_uow(app.store), EmailValidatorEmailRule())

    erased = await delete.execute(email="ADA@example.com")

    assert erased.id == user_id
    assert app.store.state.users == {}
    with pytest.raises(UserNotFound):
        await delete.execute(email="ada@example.com")
