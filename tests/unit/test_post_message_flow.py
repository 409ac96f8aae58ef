"""PostMessage's flow on the in-memory store: streamed replies, failures, keys in flight."""

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from application.messages import PostMessage
from domain.chats import Chat, Message, Role, TextLimits
from domain.errors import AssistantUnavailable, ChatNotFound, IdempotencyKeyInFlight
from domain.sessions import Caller
from tests.unit.conftest import App, build_app, memory_uow


class ScriptedAssistant:
    """Yields its chunks; waits on ``gate`` after the first; fails at ``fail_at``."""

    def __init__(
        self, chunks: list[str], gate: asyncio.Event | None = None, fail_at: int | None = None
    ) -> None:
        self.chunks = chunks
        self.gate = gate
        self.fail_at = fail_at

    async def reply(self, chat: Chat, message: Message) -> AsyncIterator[str]:
        for index, chunk in enumerate(self.chunks):
            if index == self.fail_at:
                raise AssistantUnavailable()
            yield chunk
            if self.gate is not None:
                await self.gate.wait()


def _post(app: App, assistant: ScriptedAssistant, **kwargs: timedelta) -> PostMessage:
    return PostMessage(memory_uow(app.store), assistant, TextLimits(), **kwargs)


async def _chat(app: App) -> Chat:
    caller = await app.sign_up()
    return await app.create_chat.execute(caller=caller, title="talk")


async def test_chunks_come_in_order_and_the_stored_reply_joins_them() -> None:
    app = build_app()
    chat = await _chat(app)
    post = _post(app, ScriptedAssistant(["Hel", "lo", "!"]))

    exchange = await post.start(caller=Caller(chat.user_id), chat_id=chat.id, content="Hi")
    chunks = [chunk async for chunk in exchange.chunks()]
    answer = await exchange.answer()

    assert chunks == ["Hel", "lo", "!"]
    assert answer.content == "Hello!"
    assert app.store.state.messages[answer.id].content == "Hello!"
    stored = sorted(app.store.state.messages.values(), key=lambda m: m.created_at)
    assert [m.role for m in stored] == [Role.USER, Role.ASSISTANT]


async def test_nothing_is_stored_until_the_reply_is_complete() -> None:
    app = build_app()
    chat = await _chat(app)
    gate = asyncio.Event()
    post = _post(app, ScriptedAssistant(["a", "b"], gate=gate))

    exchange = await post.start(caller=Caller(chat.user_id), chat_id=chat.id, content="Hi")
    chunks = exchange.chunks()
    assert await anext(chunks) == "a"
    assert app.store.state.messages == {}

    gate.set()
    answer = await exchange.answer()
    assert answer.content == "ab"
    assert len(app.store.state.messages) == 2


async def test_a_listener_that_goes_away_loses_nothing() -> None:
    app = build_app()
    chat = await _chat(app)
    gate = asyncio.Event()
    post = _post(app, ScriptedAssistant(["a", "b"], gate=gate))
    exchange = await post.start(caller=Caller(chat.user_id), chat_id=chat.id, content="Hi")

    async def listen() -> None:
        async for _ in exchange.chunks():
            await exchange.answer()

    listener = asyncio.create_task(listen())
    await asyncio.sleep(0)
    listener.cancel()  # the client disconnected mid-stream
    gate.set()

    answer = await exchange.answer()
    assert app.store.state.messages[answer.id].content == "ab"


async def test_an_assistant_failing_mid_reply_stores_nothing_and_releases_the_key() -> None:
    app = build_app()
    chat = await _chat(app)
    failing = _post(app, ScriptedAssistant(["a", "b"], fail_at=1))

    exchange = await failing.start(
        caller=Caller(chat.user_id), chat_id=chat.id, content="Hi", idempotency_key="k"
    )
    assert [chunk async for chunk in exchange.chunks()] == ["a"]
    with pytest.raises(AssistantUnavailable):
        await exchange.answer()
    assert app.store.state.messages == {}

    retried = await app.post_message.execute(
        caller=Caller(chat.user_id), chat_id=chat.id, content="Hi", idempotency_key="k"
    )
    assert retried.content == "Message received"


async def test_a_key_in_flight_is_refused_until_its_request_ends() -> None:
    app = build_app()
    chat = await _chat(app)
    gate = asyncio.Event()
    post = _post(app, ScriptedAssistant(["a"], gate=gate))
    first = await post.start(
        caller=Caller(chat.user_id), chat_id=chat.id, content="Hi", idempotency_key="k"
    )

    with pytest.raises(IdempotencyKeyInFlight):
        await post.execute(
            caller=Caller(chat.user_id), chat_id=chat.id, content="Hi", idempotency_key="k"
        )

    gate.set()
    answer = await first.answer()
    again = await post.execute(
        caller=Caller(chat.user_id), chat_id=chat.id, content="Hi", idempotency_key="k"
    )
    assert again.id == answer.id
    assert len(app.store.state.messages) == 2


async def test_a_key_left_in_flight_too_long_can_be_used_again() -> None:
    app = build_app()
    chat = await _chat(app)
    gate = asyncio.Event()
    stuck = _post(app, ScriptedAssistant(["a"], gate=gate), in_flight_for=timedelta(0))
    left = await stuck.start(
        caller=Caller(chat.user_id), chat_id=chat.id, content="Hi", idempotency_key="k"
    )
    retry = _post(app, ScriptedAssistant(["b"]), in_flight_for=timedelta(0))

    answer = await retry.execute(
        caller=Caller(chat.user_id), chat_id=chat.id, content="Hi", idempotency_key="k"
    )

    assert answer.content == "b"
    gate.set()  # let the abandoned one end, so the test leaves nothing running
    await left.answer()


async def test_a_chat_deleted_while_the_assistant_answers_stores_nothing() -> None:
    app = build_app()
    chat = await _chat(app)
    gate = asyncio.Event()
    post = _post(app, ScriptedAssistant(["a"], gate=gate))
    exchange = await post.start(caller=Caller(chat.user_id), chat_id=chat.id, content="Hi")

    await app.delete_chat.execute(caller=Caller(chat.user_id), chat_id=chat.id)
    gate.set()

    with pytest.raises(ChatNotFound):
        await exchange.answer()
    assert app.store.state.messages == {}


async def test_a_replayed_exchange_has_no_chunks_only_the_stored_answer() -> None:
    app = build_app()
    chat = await _chat(app)
    first = await app.post_message.execute(
        caller=Caller(chat.user_id), chat_id=chat.id, content="Hi", idempotency_key="k"
    )

    replay = await app.post_message.start(
        caller=Caller(chat.user_id), chat_id=chat.id, content="Hi", idempotency_key="k"
    )

    assert [chunk async for chunk in replay.chunks()] == []
    assert (await replay.answer()).id == first.id


async def test_finishing_waits_for_replies_nobody_listens_to_any_more() -> None:
    app = build_app()
    chat = await _chat(app)
    gate = asyncio.Event()
    post = _post(app, ScriptedAssistant(["a", "b"], gate=gate))
    await post.start(caller=Caller(chat.user_id), chat_id=chat.id, content="Hi")  # nobody listens

    asyncio.get_running_loop().call_soon(gate.set)
    async with asyncio.timeout(10):
        await post.finish_replies()

    assert sorted(m.content for m in app.store.state.messages.values()) == ["Hi", "ab"]
