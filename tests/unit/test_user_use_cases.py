"""GetProfile, ExportUserData and DeleteAccount on the in-memory store."""

from uuid import UUID

import pytest

from application.users import ExportUserData
from domain.chats import Chat, Message, Role
from domain.errors import InvalidToken, UserNotFound, WrongPassword
from domain.ids import new_id
from domain.sessions import Caller
from domain.users import User
from tests.unit.conftest import PASSWORD, App, memory_uow


async def _export(app: App, user_id: UUID) -> list[User | Chat | Message]:
    return [item async for item in app.export_user_data.execute(user_id=user_id)]


# --- GetProfile --------------------------------------------------------------


async def test_get_profile_returns_the_user(app: App) -> None:
    user_id = (await app.sign_up(" Alice@Example.com")).user_id
    user = await app.get_profile.execute(user_id=user_id)
    assert user.id == user_id
    assert user.email == "alice@example.com"


async def test_get_profile_of_a_missing_user_is_not_found(app: App) -> None:
    with pytest.raises(UserNotFound):
        await app.get_profile.execute(user_id=new_id())


# --- ExportUserData ----------------------------------------------------------


async def test_export_yields_the_user_then_each_chat_followed_by_its_messages(app: App) -> None:
    user_id = (await app.sign_up()).user_id
    first = await app.create_chat.execute(caller=Caller(user_id), title="first")
    second = await app.create_chat.execute(caller=Caller(user_id), title="second")
    empty = await app.create_chat.execute(caller=Caller(user_id), title="empty")
    await app.post_message.execute(caller=Caller(user_id), chat_id=second.id, content="s1")
    await app.post_message.execute(caller=Caller(user_id), chat_id=first.id, content="f1")
    await app.post_message.execute(caller=Caller(user_id), chat_id=first.id, content="f2")
    # Someone else's data never appears.
    bob = (await app.sign_up("bob@example.com")).user_id
    bobs = await app.create_chat.execute(caller=Caller(bob), title="bob's")
    await app.post_message.execute(caller=Caller(bob), chat_id=bobs.id, content="secret")

    items = await _export(app, user_id)

    def describe(item: User | Chat | Message) -> tuple[str, str]:
        if isinstance(item, User):
            return ("user", item.email)
        if isinstance(item, Chat):
            return ("chat", item.title)
        return (item.role.value, item.content)

    assert [describe(i) for i in items] == [
        ("user", "alice@example.com"),
        ("chat", "first"),  # chats oldest first, by creation not activity
        ("user", "f1"),
        ("assistant", "Message received"),
        ("user", "f2"),
        ("assistant", "Message received"),
        ("chat", "second"),
        ("user", "s1"),
        ("assistant", "Message received"),
        ("chat", "empty"),
    ]
    assert items[0].id == user_id
    chats = [i for i in items if isinstance(i, Chat)]
    assert [c.id for c in chats] == [first.id, second.id, empty.id]
    messages = [i for i in items if isinstance(i, Message)]
    assert all(m.user_id == user_id for m in messages)
    assert [m.role for m in messages[:2]] == [Role.USER, Role.ASSISTANT]


async def test_export_in_small_pages_yields_everything_once_in_order(app: App) -> None:
    user_id = (await app.sign_up()).user_id
    for title in ("a", "b", "c"):
        chat = await app.create_chat.execute(caller=Caller(user_id), title=title)
        for n in range(3):
            await app.post_message.execute(
                caller=Caller(user_id), chat_id=chat.id, content=f"{title}{n}"
            )
    whole = await _export(app, user_id)

    paged = ExportUserData(memory_uow(app.store), page_size=2)
    items = [item async for item in paged.execute(user_id=user_id)]

    assert [item.id for item in items] == [item.id for item in whole]
    assert len(items) == 1 + 3 + 3 * 6


async def test_export_holds_no_unit_of_work_while_its_reader_waits(app: App) -> None:
    user_id = (await app.sign_up()).user_id
    chat = await app.create_chat.execute(caller=Caller(user_id), title="a")
    await app.post_message.execute(caller=Caller(user_id), chat_id=chat.id, content="hi")
    items = app.export_user_data.execute(user_id=user_id)

    await anext(items)  # the user
    await anext(items)  # the chat
    # The in-memory store is locked while a unit of work is open: it is not.
    assert not app.store.lock.locked()
    await app.post_message.execute(caller=Caller(user_id), chat_id=chat.id, content="meanwhile")
    rest = [item async for item in items]
    assert len(rest) >= 2


async def test_export_of_a_user_with_nothing_yields_only_the_user(app: App) -> None:
    user_id = (await app.sign_up()).user_id
    items = await _export(app, user_id)
    assert len(items) == 1
    assert isinstance(items[0], User)
    assert items[0].id == user_id


async def test_export_of_a_missing_user_is_not_found(app: App) -> None:
    with pytest.raises(UserNotFound):
        await _export(app, new_id())


# --- DeleteAccount -----------------------------------------------------------


async def _populated(app: App) -> tuple[UUID, UUID, str]:
    """Alice with a chat and messages, Bob with his own; returns Alice's id, Bob's id, token."""
    issued = await app.register.execute(email="alice@example.com", password=PASSWORD)
    alice = app.tokens.caller(issued.access.value).user_id
    chat = await app.create_chat.execute(caller=Caller(alice), title="mine", idempotency_key="k")
    await app.post_message.execute(caller=Caller(alice), chat_id=chat.id, content="hi")
    bob = (await app.sign_up("bob@example.com")).user_id
    bobs = await app.create_chat.execute(caller=Caller(bob), title="bob's")
    await app.post_message.execute(caller=Caller(bob), chat_id=bobs.id, content="hey")
    return alice, bob, issued.access.value


async def test_delete_account_with_the_wrong_password_deletes_nothing(app: App) -> None:
    alice, _, token = await _populated(app)
    state = app.store.state
    before = (dict(state.users), dict(state.chats), dict(state.messages))
    with pytest.raises(WrongPassword):
        await app.delete_account.execute(user_id=alice, password="not my password")
    state = app.store.state
    assert (state.users, state.chats, state.messages) == before
    assert (await app.authenticate.execute(token=token)).user_id == alice


async def test_delete_account_removes_the_user_and_everything_they_own(app: App) -> None:
    alice, bob, token = await _populated(app)
    await app.delete_account.execute(user_id=alice, password=PASSWORD)
    state = app.store.state
    assert set(state.users) == {bob}
    assert {c.user_id for c in state.chats.values()} == {bob}
    assert {m.user_id for m in state.messages.values()} == {bob}
    assert len(state.messages) == 2
    assert all(user_id != alice for user_id, _ in state.idempotency)
    with pytest.raises(InvalidToken):
        await app.authenticate.execute(token=token)
    with pytest.raises(UserNotFound):
        await app.get_profile.execute(user_id=alice)


async def test_the_email_is_free_again_after_deletion(app: App) -> None:
    alice, _, _ = await _populated(app)
    await app.delete_account.execute(user_id=alice, password=PASSWORD)
    again = (await app.sign_up("alice@example.com")).user_id
    assert again != alice


async def test_delete_missing_account_is_not_found(app: App) -> None:
    with pytest.raises(UserNotFound):
        await app.delete_account.execute(user_id=new_id(), password=PASSWORD)
