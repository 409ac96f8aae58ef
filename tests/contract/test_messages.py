"""The message repository's contract."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from domain.chats import Chat, Message, Role
from domain.errors import ChatNotFound, InvalidToken
from domain.paging import Order, PageRequest
from domain.sessions import Caller
from domain.users import User
from tests.contract.conftest import UowFactory


def _message(chat: Chat, content: str = "x", **fields: object) -> Message:
    return Message(chat_id=chat.id, user_id=chat.user_id, role=Role.USER, content=content, **fields)  # type: ignore[arg-type]


async def test_a_message_for_a_vanished_chat_is_chat_not_found(
    uow: UowFactory, saved_user: User
) -> None:
    orphan = Message(chat_id=uuid.uuid4(), user_id=saved_user.id, role=Role.USER, content="x")
    with pytest.raises(ChatNotFound):
        async with uow() as work:
            await work.messages.append([orphan])
            await work.commit()


async def test_a_message_from_a_vanished_user_is_an_invalid_token(
    uow: UowFactory, saved_chat: Chat
) -> None:
    orphan = Message(chat_id=saved_chat.id, user_id=uuid.uuid4(), role=Role.USER, content="x")
    with pytest.raises(InvalidToken):
        async with uow() as work:
            await work.messages.append([orphan])
            await work.commit()


async def test_a_failed_batch_stores_none_of_its_messages_and_leaves_the_chat(
    uow: UowFactory, saved_chat: Chat
) -> None:
    good = _message(saved_chat, created_at=saved_chat.updated_at + timedelta(minutes=1))
    orphan = Message(chat_id=saved_chat.id, user_id=uuid.uuid4(), role=Role.USER, content="x")
    with pytest.raises(InvalidToken):
        async with uow() as work:
            await work.messages.append([good, orphan])
            await work.commit()

    async with uow() as work:
        assert await work.messages.count_in_chat(saved_chat.id) == 0
        chat = await work.chats.get(saved_chat.id)
    assert chat is not None
    assert chat.updated_at == saved_chat.updated_at


async def test_one_append_is_for_one_chat(
    uow: UowFactory, saved_user: User, saved_chat: Chat
) -> None:
    elsewhere = Message(chat_id=uuid.uuid4(), user_id=saved_user.id, role=Role.USER, content="x")
    async with uow() as work:
        with pytest.raises(ValueError, match="messages of one chat"):
            await work.messages.append([_message(saved_chat), elsewhere])


async def test_messages_come_back_field_for_field(uow: UowFactory, saved_chat: Chat) -> None:
    question = _message(saved_chat, "Grüße 🦊")
    answer = Message(
        chat_id=saved_chat.id, user_id=saved_chat.user_id, role=Role.ASSISTANT, content="Hi"
    )
    async with uow() as work:
        await work.messages.append([question, answer])
        await work.commit()

    async with uow() as work:
        page = await work.messages.list_in_chat(saved_chat.id, PageRequest())
        assert await work.messages.count_in_chat(saved_chat.id) == 2

    fields = [(m.id, m.chat_id, m.user_id, m.role, m.content, m.created_at) for m in page.items]
    assert fields == [
        (m.id, m.chat_id, m.user_id, m.role, m.content, m.created_at) for m in (question, answer)
    ]


async def test_with_an_owner_a_chat_of_someone_else_lists_nothing(
    uow: UowFactory, saved_chat: Chat
) -> None:
    async with uow() as work:
        await work.messages.append([_message(saved_chat)])
        await work.commit()

    async with uow() as work:
        theirs = await work.messages.list_in_chat(
            saved_chat.id, PageRequest(), owner=Caller(uuid.uuid4())
        )
        mine = await work.messages.list_in_chat(
            saved_chat.id, PageRequest(), owner=Caller(saved_chat.user_id)
        )
    assert (theirs.items, theirs.next) == ([], None)
    assert len(mine.items) == 1


async def test_keyset_paging_never_skips_or_repeats_rows_with_equal_timestamps(
    uow: UowFactory, saved_chat: Chat
) -> None:
    same_instant = datetime(2026, 1, 1, tzinfo=UTC)
    messages = [
        _message(
            saved_chat,
            str(n),
            created_at=same_instant if n % 2 else same_instant + timedelta(seconds=n),
        )
        for n in range(11)
    ]
    async with uow() as work:
        await work.messages.append(messages)
        await work.commit()

    for order in Order:
        seen: list[uuid.UUID] = []
        request = PageRequest(limit=4, order=order)
        while True:
            async with uow() as work:
                page = await work.messages.list_in_chat(saved_chat.id, request)
            seen.extend(m.id for m in page.items)
            if page.next is None:
                break
            request = PageRequest(limit=4, after=page.next, order=order)
        expected = sorted(messages, key=lambda m: (m.created_at, m.id), reverse=order is Order.DESC)
        assert seen == [m.id for m in expected]
