"""CreateChat, ListChats, GetChat, RenameChat and DeleteChat on the in-memory store."""

import pytest

from domain.chats import Chat, TextLimits
from domain.errors import ChatNotFound, IdempotencyKeyReused, InvalidInput, InvalidToken
from domain.ids import new_id
from domain.paging import Order, PageRequest, Position
from domain.sessions import Caller
from tests.unit.conftest import App, build_app


async def _all_chats(app: App, user_id: Caller, limit: int) -> list[list[Chat]]:
    """Every page of the user's chats, following ``next`` until it runs out."""
    pages: list[list[Chat]] = []
    after: Position | None = None
    for _ in range(100):  # a bound, so a cursor that never advances fails instead of hanging
        page = await app.list_chats.execute(
            caller=user_id, page=PageRequest(limit=limit, after=after)
        )
        pages.append(page.items)
        if page.next is None:
            return pages
        assert page.next == Position(page.items[-1].updated_at, page.items[-1].id)
        after = page.next
    raise AssertionError("paging did not end")


# --- CreateChat --------------------------------------------------------------


@pytest.mark.parametrize("title", [None, "", "   "])
async def test_create_chat_gets_the_default_title(app: App, title: str | None) -> None:
    user_id = await app.sign_up()
    chat = await app.create_chat.execute(caller=user_id, title=title)
    assert chat.title == "New chat"
    assert app.store.state.chats[chat.id].title == "New chat"


async def test_create_chat_trims_and_stores_the_title(app: App) -> None:
    user_id = await app.sign_up()
    chat = await app.create_chat.execute(caller=user_id, title="  Trip to Rome ")
    assert chat.user_id == user_id.user_id
    assert chat.title == "Trip to Rome"
    assert app.store.state.chats[chat.id].title == "Trip to Rome"


async def test_create_chat_refuses_a_title_over_the_limit() -> None:
    app = build_app(limits=TextLimits(max_title_chars=5))
    user_id = await app.sign_up()
    with pytest.raises(InvalidInput):
        await app.create_chat.execute(caller=user_id, title="toolong")
    assert app.store.state.chats == {}


async def test_create_chat_replay_returns_the_first_chat(app: App) -> None:
    user_id = await app.sign_up()
    first = await app.create_chat.execute(caller=user_id, title="Plans", idempotency_key="k1")
    again = await app.create_chat.execute(caller=user_id, title="Plans", idempotency_key="k1")
    assert again.id == first.id
    assert again.title == first.title
    assert list(app.store.state.chats) == [first.id]


async def test_create_chat_key_reused_with_another_title_is_refused(app: App) -> None:
    user_id = await app.sign_up()
    await app.create_chat.execute(caller=user_id, title="Plans", idempotency_key="k1")
    with pytest.raises(IdempotencyKeyReused):
        await app.create_chat.execute(caller=user_id, title="Other", idempotency_key="k1")
    assert len(app.store.state.chats) == 1


async def test_idempotency_keys_are_per_user(app: App) -> None:
    alice = await app.sign_up("alice@example.com")
    bob = await app.sign_up("bob@example.com")
    a = await app.create_chat.execute(caller=alice, title="Plans", idempotency_key="k1")
    b = await app.create_chat.execute(caller=bob, title="Plans", idempotency_key="k1")
    assert a.id != b.id
    assert b.user_id == bob.user_id


# --- ListChats ---------------------------------------------------------------


async def test_list_chats_newest_activity_first(app: App) -> None:
    user_id = await app.sign_up()
    first = await app.create_chat.execute(caller=user_id, title="first")
    second = await app.create_chat.execute(caller=user_id, title="second")
    third = await app.create_chat.execute(caller=user_id, title="third")
    page = await app.list_chats.execute(caller=user_id, page=PageRequest())
    assert [c.id for c in page.items] == [third.id, second.id, first.id]
    assert page.next is None
    await app.post_message.execute(caller=user_id, chat_id=first.id, content="bump")
    page = await app.list_chats.execute(caller=user_id, page=PageRequest())
    assert [c.id for c in page.items] == [first.id, third.id, second.id]


async def test_list_chats_ignores_the_requested_order(app: App) -> None:
    user_id = await app.sign_up()
    older = await app.create_chat.execute(caller=user_id, title="older")
    newer = await app.create_chat.execute(caller=user_id, title="newer")
    page = await app.list_chats.execute(caller=user_id, page=PageRequest(order=Order.ASC))
    assert [c.id for c in page.items] == [newer.id, older.id]


async def test_list_chats_shows_only_own_chats(app: App) -> None:
    alice = await app.sign_up("alice@example.com")
    bob = await app.sign_up("bob@example.com")
    mine = await app.create_chat.execute(caller=alice, title="mine")
    await app.create_chat.execute(caller=bob, title="theirs")
    page = await app.list_chats.execute(caller=alice, page=PageRequest())
    assert [c.id for c in page.items] == [mine.id]
    carol = await app.sign_up("carol@example.com")
    empty = await app.list_chats.execute(caller=carol, page=PageRequest())
    assert empty.items == []
    assert empty.next is None


async def test_a_caller_whose_account_is_gone_gets_invalid_token(app: App) -> None:
    """The callers come from the token alone: the use cases confirm the user exists."""
    alice = await app.sign_up("alice@example.com")
    chat = await app.create_chat.execute(caller=alice, title="alice's")
    gone = Caller(new_id(), new_id())
    with pytest.raises(InvalidToken):
        await app.list_chats.execute(caller=gone, page=PageRequest())
    for chat_id in (chat.id, new_id()):  # someone else's chat, a missing one: still 401
        with pytest.raises(InvalidToken):
            await app.get_chat.execute(caller=gone, chat_id=chat_id)
        with pytest.raises(InvalidToken):
            await app.rename_chat.execute(caller=gone, chat_id=chat_id, title="x")
        with pytest.raises(InvalidToken):
            await app.delete_chat.execute(caller=gone, chat_id=chat_id)
    with pytest.raises(InvalidToken):
        await app.create_chat.execute(caller=gone, title="orphan")
    assert set(app.store.state.chats) == {chat.id}


@pytest.mark.parametrize("limit", [1, 2, 3, 7, 10, 11])
async def test_paging_walks_every_chat_exactly_once(app: App, limit: int) -> None:
    user_id = await app.sign_up()
    other = await app.sign_up("bob@example.com")
    created = [await app.create_chat.execute(caller=user_id, title=f"c{i}") for i in range(10)]
    await app.create_chat.execute(caller=other, title="not mine")
    pages = await _all_chats(app, user_id, limit)
    seen = [c.id for page in pages for c in page]
    assert seen == [c.id for c in reversed(created)]
    assert all(len(page) <= limit for page in pages)
    assert len(pages) == max(1, -(-10 // limit))


# --- GetChat / RenameChat / DeleteChat ---------------------------------------


async def test_get_chat_returns_own_chat(app: App) -> None:
    user_id = await app.sign_up()
    chat = await app.create_chat.execute(caller=user_id, title="mine")
    got = await app.get_chat.execute(caller=user_id, chat_id=chat.id)
    assert (got.id, got.title, got.user_id) == (chat.id, "mine", user_id.user_id)


async def test_get_missing_chat_is_not_found(app: App) -> None:
    user_id = await app.sign_up()
    with pytest.raises(ChatNotFound):
        await app.get_chat.execute(caller=user_id, chat_id=new_id())


async def test_another_users_chat_is_not_found_for_get_rename_delete(app: App) -> None:
    alice = await app.sign_up("alice@example.com")
    bob = await app.sign_up("bob@example.com")
    chat = await app.create_chat.execute(caller=alice, title="private")
    with pytest.raises(ChatNotFound):
        await app.get_chat.execute(caller=bob, chat_id=chat.id)
    with pytest.raises(ChatNotFound):
        await app.rename_chat.execute(caller=bob, chat_id=chat.id, title="mine now")
    with pytest.raises(ChatNotFound):
        await app.delete_chat.execute(caller=bob, chat_id=chat.id)
    stored = app.store.state.chats[chat.id]
    assert (stored.title, stored.user_id) == ("private", alice.user_id)


async def test_rename_chat_applies_the_title_rules(app: App) -> None:
    user_id = await app.sign_up()
    chat = await app.create_chat.execute(caller=user_id, title="old")
    renamed = await app.rename_chat.execute(caller=user_id, chat_id=chat.id, title="  new  ")
    assert renamed.title == "new"
    assert app.store.state.chats[chat.id].title == "new"
    reset = await app.rename_chat.execute(caller=user_id, chat_id=chat.id, title=" ")
    assert reset.title == "New chat"
    with pytest.raises(InvalidInput):
        await app.rename_chat.execute(caller=user_id, chat_id=chat.id, title="x" * 201)
    assert app.store.state.chats[chat.id].title == "New chat"


async def test_rename_missing_chat_is_not_found(app: App) -> None:
    user_id = await app.sign_up()
    with pytest.raises(ChatNotFound):
        await app.rename_chat.execute(caller=user_id, chat_id=new_id(), title="x")


async def test_delete_chat_removes_it_and_its_messages_only(app: App) -> None:
    user_id = await app.sign_up()
    doomed = await app.create_chat.execute(caller=user_id, title="doomed")
    kept = await app.create_chat.execute(caller=user_id, title="kept")
    await app.post_message.execute(caller=user_id, chat_id=doomed.id, content="bye")
    await app.post_message.execute(caller=user_id, chat_id=kept.id, content="hi")
    assert len(app.store.state.messages) == 4
    await app.delete_chat.execute(caller=user_id, chat_id=doomed.id)
    assert doomed.id not in app.store.state.chats
    assert kept.id in app.store.state.chats
    remaining = app.store.state.messages.values()
    assert {m.chat_id for m in remaining} == {kept.id}
    assert len(remaining) == 2
    with pytest.raises(ChatNotFound):
        await app.get_chat.execute(caller=user_id, chat_id=doomed.id)
    with pytest.raises(ChatNotFound):
        await app.delete_chat.execute(caller=user_id, chat_id=doomed.id)
