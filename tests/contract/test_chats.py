"""The chat repository's contract."""

import uuid
from datetime import datetime, timedelta

import pytest

from domain.chats import Chat, Message, Role
from domain.errors import InvalidToken
from domain.paging import PageRequest
from domain.sessions import Caller
from domain.users import User
from tests.contract.conftest import UowFactory, new_user, save


async def test_a_chat_for_a_vanished_user_is_an_invalid_token(uow: UowFactory) -> None:
    with pytest.raises(InvalidToken):
        async with uow() as work:
            ghost = uuid.uuid4()
            await work.chats.add(Chat(user_id=ghost, title="orphan"), Caller(ghost))
            await work.commit()


async def test_only_the_owner_gets_a_chat_but_the_operator_view_gets_any(
    uow: UowFactory, saved_chat: Chat
) -> None:
    stranger = uuid.uuid4()
    async with uow() as work:
        assert await work.chats.get_owned(saved_chat.id, Caller(saved_chat.user_id)) == saved_chat
        assert await work.chats.get_owned(saved_chat.id, Caller(stranger)) is None
        assert await work.chats.get(saved_chat.id) == saved_chat
        assert await work.chats.get(uuid.uuid4()) is None


async def test_renaming_is_for_the_owner_only(uow: UowFactory, saved_chat: Chat) -> None:
    async with uow() as work:
        assert await work.chats.rename(saved_chat.id, Caller(uuid.uuid4()), "stolen") is None
        renamed = await work.chats.rename(saved_chat.id, Caller(saved_chat.user_id), "Renamed")
        await work.commit()
    assert renamed is not None
    assert renamed.title == "Renamed"

    async with uow() as work:
        found = await work.chats.get(saved_chat.id)
    assert found is not None
    assert found.title == "Renamed"


def _said_at(chat: Chat, at: datetime) -> Message:
    return Message(
        chat_id=chat.id, user_id=chat.user_id, role=Role.USER, content="x", created_at=at
    )


async def test_messages_move_updated_at_forward_only(uow: UowFactory, saved_chat: Chat) -> None:
    later = saved_chat.updated_at + timedelta(minutes=5)
    async with uow() as work:
        await work.messages.append([_said_at(saved_chat, later)])
        await work.commit()
    async with uow() as work:
        await work.messages.append([_said_at(saved_chat, later - timedelta(minutes=10))])
        await work.commit()

    async with uow() as work:
        chat = await work.chats.get_owned(saved_chat.id, Caller(saved_chat.user_id))
    assert chat is not None
    assert chat.updated_at == later


async def test_the_owners_chats_most_recently_active_first(
    uow: UowFactory, saved_user: User
) -> None:
    other = new_user()
    chats = [Chat(user_id=saved_user.id, title=str(n)) for n in range(3)]
    await save(uow, other, *chats, Chat(user_id=other.id, title="other"))
    async with uow() as work:
        await work.messages.append([_said_at(chats[0], chats[2].updated_at + timedelta(minutes=1))])
        await work.commit()

    async with uow() as work:
        first = await work.chats.list_owned(Caller(saved_user.id), PageRequest(limit=2))
        assert first.next is not None
        rest = await work.chats.list_owned(
            Caller(saved_user.id), PageRequest(limit=2, after=first.next)
        )
        oldest = await work.chats.list_owned_oldest_first(saved_user.id, PageRequest(limit=10))
        counts = await work.chats.count_by_user([saved_user.id, other.id, uuid.uuid4()])

    newest_first = [chats[0], *sorted(chats[1:], key=lambda c: (c.updated_at, c.id))[::-1]]
    assert [c.id for c in [*first.items, *rest.items]] == [c.id for c in newest_first]
    assert rest.next is None
    assert [c.id for c in oldest.items] == [
        c.id for c in sorted(chats, key=lambda c: (c.created_at, c.id))
    ]
    assert counts.get(saved_user.id) == 3
    assert counts.get(other.id) == 1


async def test_deleting_a_chat_takes_its_messages_and_is_for_the_owner_only(
    uow: UowFactory, saved_user: User, saved_chat: Chat
) -> None:
    message = Message(chat_id=saved_chat.id, user_id=saved_user.id, role=Role.USER, content="x")
    async with uow() as work:
        await work.messages.append([message])
        await work.commit()

    async with uow() as work:
        assert not await work.chats.delete_owned(saved_chat.id, Caller(uuid.uuid4()))
        assert await work.chats.delete_owned(saved_chat.id, Caller(saved_user.id))
        await work.commit()

    async with uow() as work:
        assert await work.chats.get(saved_chat.id) is None
        assert await work.messages.count_in_chat(saved_chat.id) == 0
        assert not await work.chats.delete_owned(saved_chat.id, Caller(saved_user.id))
