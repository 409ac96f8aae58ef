"""The user repository's contract."""

import uuid
from datetime import timedelta

import pytest

from domain.chats import Chat, Message, Role
from domain.errors import EmailAlreadyRegistered
from domain.paging import Order, PageRequest
from domain.users import User
from tests.contract.conftest import UowFactory, new_user, save


async def test_a_taken_email_is_refused_by_the_commit_at_the_latest(
    uow: UowFactory, saved_user: User
) -> None:
    with pytest.raises(EmailAlreadyRegistered):
        async with uow() as work:
            await work.users.add(User(email=saved_user.email, password_hash="x"))
            await work.commit()


async def test_lookups_by_id_and_email(uow: UowFactory, saved_user: User) -> None:
    async with uow() as work:
        assert await work.users.get(saved_user.id) == saved_user
        assert await work.users.get_by_email(saved_user.email) == saved_user
        assert await work.users.exists(saved_user.id)
        assert await work.users.get_by_email("nobody@example.com") is None
        assert not await work.users.exists(new_user().id)


async def test_a_new_password_hash_is_stored(uow: UowFactory, saved_user: User) -> None:
    async with uow() as work:
        await work.users.update_password_hash(saved_user.id, "$argon2id$new")
        await work.commit()

    async with uow() as work:
        found = await work.users.get(saved_user.id)
    assert found is not None
    assert found.password_hash == "$argon2id$new"


async def test_deleting_a_user_takes_everything_they_own(
    uow: UowFactory, saved_user: User, saved_chat: Chat
) -> None:
    message = Message(chat_id=saved_chat.id, user_id=saved_user.id, role=Role.USER, content="x")
    async with uow() as work:
        await work.idempotency.claim(saved_user.id, "key", "hash", in_flight_for=timedelta(1))
        await work.messages.append([message])
        await work.commit()

    async with uow() as work:
        await work.users.delete(saved_user.id)
        await work.commit()

    async with uow() as work:
        assert await work.users.get(saved_user.id) is None
        assert await work.chats.get(saved_chat.id) is None
        assert await work.messages.count_in_chat(saved_chat.id) == 0


async def test_every_user_is_listed_once_in_order_across_pages(uow: UowFactory) -> None:
    ours = [new_user() for _ in range(3)]
    await save(uow, *ours)

    for order in Order:
        seen: list[uuid.UUID] = []
        request = PageRequest(limit=2, order=order)
        while True:
            async with uow() as work:
                page = await work.users.list_all(request)
            seen.extend(u.id for u in page.items)
            if page.next is None:
                break
            request = PageRequest(limit=2, after=page.next, order=order)
        assert len(seen) == len(set(seen))
        expected = sorted(ours, key=lambda u: (u.created_at, u.id), reverse=order is Order.DESC)
        assert [i for i in seen if i in {u.id for u in ours}] == [u.id for u in expected]
