"""PostMessage and ListMessages on the in-memory store."""

from dataclasses import replace
from datetime import timedelta
from uuid import UUID

import pytest

from domain.chats import Message, Role, TextLimits
from domain.errors import ChatNotFound, IdempotencyKeyReused, InvalidInput, InvalidToken
from domain.ids import new_id
from domain.paging import Order, PageRequest, Position
from domain.sessions import Caller
from tests.unit.conftest import App, build_app


async def _chat_with_messages(app: App, count: int) -> tuple[Caller, UUID, list[Message]]:
    """A user, one of their chats, and ``count`` exchanges in it (2 messages each)."""
    user_id = await app.sign_up()
    chat = await app.create_chat.execute(caller=user_id, title="talk")
    for i in range(count):
        await app.post_message.execute(caller=user_id, chat_id=chat.id, content=f"q{i}")
    stored = sorted(
        (m for m in app.store.state.messages.values() if m.chat_id == chat.id),
        key=lambda m: (m.created_at, m.id),
    )
    return user_id, chat.id, stored


async def _walk(app: App, user_id: Caller, chat_id: UUID, limit: int, order: Order) -> list[UUID]:
    seen: list[UUID] = []
    after: Position | None = None
    for _ in range(100):  # a bound, so a cursor that never advances fails instead of hanging
        page = await app.list_messages.execute(
            caller=user_id,
            chat_id=chat_id,
            page=PageRequest(limit=limit, after=after, order=order),
        )
        assert len(page.items) <= limit
        seen += [m.id for m in page.items]
        if page.next is None:
            return seen
        after = page.next
    raise AssertionError("paging did not end")


# --- PostMessage -------------------------------------------------------------


async def test_reply_is_the_placeholder_from_the_assistant(app: App) -> None:
    user_id = await app.sign_up()
    chat = await app.create_chat.execute(caller=user_id, title=None)
    reply = await app.post_message.execute(caller=user_id, chat_id=chat.id, content="Hello")
    assert reply.content == "Message received"
    assert reply.role is Role.ASSISTANT
    assert reply.chat_id == chat.id
    assert reply.user_id == user_id.user_id


async def test_both_messages_are_stored_user_then_assistant(app: App) -> None:
    user_id = await app.sign_up()
    chat = await app.create_chat.execute(caller=user_id, title=None)
    reply = await app.post_message.execute(caller=user_id, chat_id=chat.id, content="Hello")
    page = await app.list_messages.execute(caller=user_id, chat_id=chat.id, page=PageRequest())
    assert [(m.role, m.content) for m in page.items] == [
        (Role.USER, "Hello"),
        (Role.ASSISTANT, "Message received"),
    ]
    question, answer = page.items
    assert answer.id == reply.id
    assert question.created_at <= answer.created_at
    assert question.id < answer.id
    assert len(app.store.state.messages) == 2


async def test_posting_to_another_users_chat_is_not_found_and_stores_nothing(app: App) -> None:
    alice = await app.sign_up("alice@example.com")
    bob = await app.sign_up("bob@example.com")
    chat = await app.create_chat.execute(caller=alice, title="private")
    before = app.store.state.chats[chat.id].updated_at
    with pytest.raises(ChatNotFound):
        await app.post_message.execute(caller=bob, chat_id=chat.id, content="hi")
    with pytest.raises(ChatNotFound):
        await app.post_message.execute(
            caller=bob, chat_id=chat.id, content="hi", idempotency_key="k"
        )
    assert app.store.state.messages == {}
    assert app.store.state.idempotency == {}
    assert app.store.state.chats[chat.id].updated_at == before


async def test_a_caller_whose_account_is_gone_gets_invalid_token(app: App) -> None:
    """The callers come from the token alone: the use cases confirm the user exists."""
    _, chat_id, _ = await _chat_with_messages(app, 1)
    gone = Caller(new_id(), new_id())
    for target in (chat_id, new_id()):
        with pytest.raises(InvalidToken):
            await app.post_message.execute(caller=gone, chat_id=target, content="hi")
        with pytest.raises(InvalidToken):
            await app.list_messages.execute(caller=gone, chat_id=target, page=PageRequest())
    assert len(app.store.state.messages) == 2


async def test_posting_to_a_missing_chat_is_not_found(app: App) -> None:
    user_id = await app.sign_up()
    with pytest.raises(ChatNotFound):
        await app.post_message.execute(caller=user_id, chat_id=new_id(), content="hi")
    assert app.store.state.messages == {}


@pytest.mark.parametrize("content", ["", "   ", "\n", "nul\x00here"])
async def test_invalid_content_is_refused_and_stores_nothing(app: App, content: str) -> None:
    user_id = await app.sign_up()
    chat = await app.create_chat.execute(caller=user_id, title=None)
    with pytest.raises(InvalidInput):
        await app.post_message.execute(caller=user_id, chat_id=chat.id, content=content)
    assert app.store.state.messages == {}


async def test_content_over_the_limit_is_refused() -> None:
    app = build_app(limits=TextLimits(max_content_chars=10))
    user_id = await app.sign_up()
    chat = await app.create_chat.execute(caller=user_id, title=None)
    await app.post_message.execute(caller=user_id, chat_id=chat.id, content="x" * 10)
    with pytest.raises(InvalidInput):
        await app.post_message.execute(caller=user_id, chat_id=chat.id, content="x" * 11)
    assert len(app.store.state.messages) == 2


async def test_posting_moves_the_chats_updated_at_to_the_reply(app: App) -> None:
    user_id = await app.sign_up()
    chat = await app.create_chat.execute(caller=user_id, title=None)
    before = chat.updated_at - timedelta(minutes=5)  # no reliance on the clock's resolution
    app.store.state.chats[chat.id] = replace(chat, updated_at=before)
    reply = await app.post_message.execute(caller=user_id, chat_id=chat.id, content="Hello")
    after = app.store.state.chats[chat.id]
    assert after.updated_at > before
    assert after.updated_at == reply.created_at
    assert after.created_at == chat.created_at


async def test_replay_with_the_same_key_returns_the_same_reply(app: App) -> None:
    user_id = await app.sign_up()
    chat = await app.create_chat.execute(caller=user_id, title=None)
    first = await app.post_message.execute(
        caller=user_id, chat_id=chat.id, content="Hello", idempotency_key="key-1"
    )
    stored = dict(app.store.state.messages)
    updated_at = app.store.state.chats[chat.id].updated_at
    again = await app.post_message.execute(
        caller=user_id, chat_id=chat.id, content="Hello", idempotency_key="key-1"
    )
    assert again.id == first.id
    assert (again.content, again.role, again.created_at) == (
        first.content,
        first.role,
        first.created_at,
    )
    assert app.store.state.messages == stored
    assert app.store.state.chats[chat.id].updated_at == updated_at


async def test_same_key_with_other_content_is_refused(app: App) -> None:
    user_id = await app.sign_up()
    chat = await app.create_chat.execute(caller=user_id, title=None)
    await app.post_message.execute(
        caller=user_id, chat_id=chat.id, content="Hello", idempotency_key="key-1"
    )
    with pytest.raises(IdempotencyKeyReused):
        await app.post_message.execute(
            caller=user_id, chat_id=chat.id, content="Goodbye", idempotency_key="key-1"
        )
    assert len(app.store.state.messages) == 2


async def test_same_key_in_another_chat_is_refused(app: App) -> None:
    user_id = await app.sign_up()
    one = await app.create_chat.execute(caller=user_id, title="one")
    two = await app.create_chat.execute(caller=user_id, title="two")
    await app.post_message.execute(
        caller=user_id, chat_id=one.id, content="Hello", idempotency_key="key-1"
    )
    with pytest.raises(IdempotencyKeyReused):
        await app.post_message.execute(
            caller=user_id, chat_id=two.id, content="Hello", idempotency_key="key-1"
        )
    assert {m.chat_id for m in app.store.state.messages.values()} == {one.id}


async def test_without_a_key_each_post_is_new(app: App) -> None:
    user_id = await app.sign_up()
    chat = await app.create_chat.execute(caller=user_id, title=None)
    first = await app.post_message.execute(caller=user_id, chat_id=chat.id, content="Hello")
    second = await app.post_message.execute(caller=user_id, chat_id=chat.id, content="Hello")
    assert first.id != second.id
    assert len(app.store.state.messages) == 4


# --- ListMessages ------------------------------------------------------------


async def test_list_messages_ascending_is_oldest_first(app: App) -> None:
    user_id, chat_id, stored = await _chat_with_messages(app, 3)
    page = await app.list_messages.execute(caller=user_id, chat_id=chat_id, page=PageRequest())
    assert [m.id for m in page.items] == [m.id for m in stored]
    assert [m.content for m in page.items] == [
        "q0",
        "Message received",
        "q1",
        "Message received",
        "q2",
        "Message received",
    ]
    assert page.next is None


async def test_list_messages_descending_is_newest_first(app: App) -> None:
    user_id, chat_id, stored = await _chat_with_messages(app, 3)
    page = await app.list_messages.execute(
        caller=user_id, chat_id=chat_id, page=PageRequest(order=Order.DESC)
    )
    assert [m.id for m in page.items] == [m.id for m in reversed(stored)]


@pytest.mark.parametrize("order", [Order.ASC, Order.DESC])
@pytest.mark.parametrize("limit", [1, 3, 4, 9, 10])
async def test_message_paging_walks_every_message_exactly_once(
    app: App, order: Order, limit: int
) -> None:
    user_id, chat_id, stored = await _chat_with_messages(app, 5)
    expected = [m.id for m in stored]
    if order is Order.DESC:
        expected.reverse()
    assert await _walk(app, user_id, chat_id, limit, order) == expected


async def test_first_page_announces_the_next_position(app: App) -> None:
    user_id, chat_id, stored = await _chat_with_messages(app, 2)
    page = await app.list_messages.execute(
        caller=user_id, chat_id=chat_id, page=PageRequest(limit=3)
    )
    assert [m.id for m in page.items] == [m.id for m in stored[:3]]
    assert page.next == Position(stored[2].created_at, stored[2].id)


async def test_an_empty_chat_of_ones_own_is_an_empty_page(app: App) -> None:
    user_id = await app.sign_up()
    chat = await app.create_chat.execute(caller=user_id, title="quiet")
    page = await app.list_messages.execute(caller=user_id, chat_id=chat.id, page=PageRequest())
    assert (page.items, page.next) == ([], None)


async def test_messages_of_another_users_chat_are_not_found(app: App) -> None:
    _, chat_id, _ = await _chat_with_messages(app, 1)
    bob = await app.sign_up("bob@example.com")
    with pytest.raises(ChatNotFound):
        await app.list_messages.execute(caller=bob, chat_id=chat_id, page=PageRequest())


async def test_list_messages_only_shows_that_chat(app: App) -> None:
    user_id, chat_id, stored = await _chat_with_messages(app, 1)
    other = await app.create_chat.execute(caller=user_id, title="other")
    await app.post_message.execute(caller=user_id, chat_id=other.id, content="elsewhere")
    page = await app.list_messages.execute(caller=user_id, chat_id=chat_id, page=PageRequest())
    assert [m.id for m in page.items] == [m.id for m in stored]
