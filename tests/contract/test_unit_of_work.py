"""What every unit of work does with a commit, without one, and on an error."""

import pytest

from domain.users import User
from tests.contract.conftest import UowFactory, new_user


async def test_commit_persists_and_leaving_without_commit_rolls_back(uow: UowFactory) -> None:
    kept, dropped = new_user(), new_user()
    async with uow() as work:
        await work.users.add(kept)
        await work.commit()
    async with uow() as work:
        await work.users.add(dropped)

    async with uow() as work:
        assert await work.users.get(kept.id) == kept
        assert await work.users.get(dropped.id) is None


async def test_an_exception_rolls_back(uow: UowFactory) -> None:
    user = new_user()
    with pytest.raises(RuntimeError):
        async with uow() as work:
            await work.users.add(user)
            raise RuntimeError("boom")

    async with uow() as work:
        assert not await work.users.exists(user.id)


async def test_a_unit_of_work_reads_its_own_writes_before_the_commit(uow: UowFactory) -> None:
    user = new_user()
    async with uow() as work:
        await work.users.add(user)
        assert await work.users.get(user.id) == user
        assert await work.users.get_by_email(user.email) == user


async def test_what_a_commit_published_is_seen_field_for_field(uow: UowFactory) -> None:
    user = new_user()
    async with uow() as work:
        await work.users.add(user)
        await work.commit()

    async with uow() as work:
        found = await work.users.get(user.id)
    assert isinstance(found, User)
    assert (found.email, found.password_hash, found.created_at) == (
        user.email,
        user.password_hash,
        user.created_at,
    )
