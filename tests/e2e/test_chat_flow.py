"""The chat flow with a real model in mind: no connection held while it answers, keys in
flight, streamed replies. The container's ``assistant`` is overridden by scripted ones."""

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx2
import psycopg
import pytest
import uvicorn
from dependency_injector import providers
from fastapi import FastAPI

from application.snapshots import fingerprint
from domain.chats import Chat, Message
from domain.errors import AssistantUnavailable
from entrypoints.container import Container, stop
from entrypoints.http.app import create_app
from entrypoints.settings import Settings
from tests.e2e.conftest import NO_LIMITS, PASSWORD, new_email
from tests.e2e.servers import free_port

SSE = {"Accept": "text/event-stream"}


class ScriptedAssistant:
    """Yields ``chunks``, sleeping ``delay`` before each; waits for ``gate`` after the first;
    raises ``AssistantUnavailable`` instead of the chunk at ``fail_at``."""

    def __init__(
        self,
        chunks: list[str],
        *,
        delay: float = 0,
        gate: asyncio.Event | None = None,
        fail_at: int | None = None,
    ) -> None:
        self.chunks, self.delay, self.gate, self.fail_at = chunks, delay, gate, fail_at
        self.started = asyncio.Event()

    async def reply(self, chat: Chat, message: Message) -> AsyncIterator[str]:
        self.started.set()
        for index, chunk in enumerate(self.chunks):
            await asyncio.sleep(self.delay)
            if index == self.fail_at:
                raise AssistantUnavailable()
            yield chunk
            if self.gate is not None:
                await self.gate.wait()


def _app(database_url: str, assistant: ScriptedAssistant, **settings: Any) -> FastAPI:
    values = {**NO_LIMITS, "migrate_on_startup": False, **settings}
    container = Container(settings=Settings(database_url=database_url, **values))
    container.assistant.override(providers.Object(assistant))
    return create_app(container)


@contextlib.asynccontextmanager
async def _client(app: FastAPI) -> AsyncIterator[httpx2.AsyncClient]:
    transport = httpx2.ASGITransport(app=app)
    try:
        async with httpx2.AsyncClient(transport=transport, base_url="http://api") as client:
            yield client
    finally:
        await stop(app.state.container)


@dataclass
class Owner:
    headers: dict[str, str]
    chat_id: str

    @property
    def messages(self) -> str:
        return f"/chats/{self.chat_id}/messages"


async def _owner(api: httpx2.AsyncClient) -> Owner:
    registered = await api.post("/auth/register", json={"email": new_email(), "password": PASSWORD})
    headers = {"Authorization": f"Bearer {registered.json()['access_token']}"}
    chat = await api.post("/chats", json={"title": "flow"}, headers=headers)
    return Owner(headers, chat.json()["id"])


def _stored(database_url: str, chat_id: str) -> list[tuple[str, str]]:
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(
            "SELECT role, content FROM messages WHERE chat_id = %s ORDER BY created_at",
            (chat_id,),
        ).fetchall()
    return [(role, content) for role, content in rows]


def _events(body: str) -> list[tuple[str, Any]]:
    """``(event, data as JSON)`` for each event of a text/event-stream body."""
    events = []
    for block in body.replace("\r\n", "\n").split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in block.split("\n") if line and not line.startswith(":")
        )
        if fields:
            events.append((fields["event"], json.loads(fields["data"])))
    return events


# --- No connection held while the assistant answers ---------------------------------


async def test_forty_slow_replies_on_a_pool_of_five_all_succeed_while_chats_stay_listable(
    database_url: str,
) -> None:
    """A 1 s assistant, 5 connections, a 3 s pool timeout: holding a connection through the
    reply would need 8 s of pool time for 40 posts and fail most of them with 503."""
    app = _app(
        database_url,
        ScriptedAssistant(["slow reply"], delay=1.0),
        db_pool_size=5,
        db_pool_timeout_seconds=3,
    )
    async with _client(app) as api:
        owners = [await _owner(api) for _ in range(4)]
        reader = await _owner(api)
        posting = asyncio.gather(
            *(
                api.post(
                    owners[n % 4].messages, json={"content": f"q{n}"}, headers=owners[n % 4].headers
                )
                for n in range(40)
            )
        )
        listings: list[int] = []
        while not posting.done():
            listings.append((await api.get("/chats", headers=reader.headers)).status_code)
            await asyncio.sleep(0.05)
        posts = await posting

    assert [r.status_code for r in posts] == [201] * 40
    assert listings
    assert set(listings) == {200}
    for owner in owners:
        assert len(_stored(database_url, owner.chat_id)) == 20


# --- Idempotency keys in flight -------------------------------------------------------


async def test_a_key_in_flight_gets_409_with_retry_after_then_the_stored_reply(
    database_url: str,
) -> None:
    gate = asyncio.Event()
    assistant = ScriptedAssistant(["first ", "answer"], gate=gate)
    async with _client(_app(database_url, assistant)) as api:
        owner = await _owner(api)
        keyed = {**owner.headers, "Idempotency-Key": "in-flight"}
        first = asyncio.create_task(api.post(owner.messages, json={"content": "hi"}, headers=keyed))
        await assistant.started.wait()

        second = await api.post(owner.messages, json={"content": "hi"}, headers=keyed)
        gate.set()
        done = await first
        later = await api.post(owner.messages, json={"content": "hi"}, headers=keyed)

    assert second.status_code == 409
    assert second.headers["content-type"] == "application/problem+json"
    assert second.json()["type"] == "/problems/idempotency-key-in-flight"
    assert int(second.headers["Retry-After"]) >= 1
    assert done.status_code == later.status_code == 201
    assert later.json() == done.json()
    assert _stored(database_url, owner.chat_id) == [("user", "hi"), ("assistant", "first answer")]


async def _user_id(api: httpx2.AsyncClient, headers: dict[str, str]) -> str:
    me: str = (await api.get("/users/me", headers=headers)).json()["id"]
    return me


def _abandon_key(database_url: str, user_id: str, key: str, request_hash: str, age: str) -> None:
    """What a request killed mid-way leaves behind: its key in flight, claimed ``age`` ago."""
    with psycopg.connect(database_url) as connection:
        connection.execute(
            "INSERT INTO idempotency_keys (user_id, key, request_hash, created_at) "
            "VALUES (%s, %s, %s, now() - %s::interval)",
            (user_id, key, request_hash, age),
        )


async def test_a_key_left_in_flight_by_a_dead_request_expires_and_can_be_retried(
    database_url: str,
) -> None:
    app = _app(database_url, ScriptedAssistant(["back"]), idempotency_in_flight_seconds=30)
    async with _client(app) as api:
        owner = await _owner(api)
        user_id = await _user_id(api, owner.headers)
        request_hash = fingerprint("post_message", owner.chat_id, "hi")
        _abandon_key(database_url, user_id, "recent", request_hash, "5 seconds")
        _abandon_key(database_url, user_id, "expired", request_hash, "31 seconds")

        recent = await api.post(
            owner.messages,
            json={"content": "hi"},
            headers={**owner.headers, "Idempotency-Key": "recent"},
        )
        expired = await api.post(
            owner.messages,
            json={"content": "hi"},
            headers={**owner.headers, "Idempotency-Key": "expired"},
        )

    assert recent.status_code == 409
    assert expired.status_code == 201
    assert expired.json()["content"] == "back"


async def test_creating_a_chat_with_a_key_in_flight_is_409_too(database_url: str) -> None:
    async with _client(_app(database_url, ScriptedAssistant(["x"]))) as api:
        owner = await _owner(api)
        user_id = await _user_id(api, owner.headers)
        _abandon_key(
            database_url, user_id, "chat-key", fingerprint("create_chat", "Plans"), "1 second"
        )

        response = await api.post(
            "/chats",
            json={"title": "Plans"},
            headers={**owner.headers, "Idempotency-Key": "chat-key"},
        )

    assert response.status_code == 409
    assert response.json()["type"] == "/problems/idempotency-key-in-flight"
    assert "Retry-After" in response.headers


# --- Streamed replies -----------------------------------------------------------------


async def test_a_streamed_reply_is_deltas_then_done_with_the_stored_message(
    database_url: str,
) -> None:
    async with _client(_app(database_url, ScriptedAssistant(["Hel", "lo", " there"]))) as api:
        owner = await _owner(api)
        response = await api.post(
            owner.messages, json={"content": "hi"}, headers={**owner.headers, **SSE}
        )
        listed = (await api.get(owner.messages, headers=owner.headers)).json()

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = _events(response.text)
    assert events[:-1] == [
        ("delta", {"content": "Hel"}),
        ("delta", {"content": "lo"}),
        ("delta", {"content": " there"}),
    ]
    name, done = events[-1]
    assert name == "done"
    assert done == listed[-1]
    assert done["content"] == "Hello there"
    assert done["role"] == "assistant"


def test_the_placeholder_streams_one_chunk(
    client: Any, chat: dict[str, Any], user: dict[str, Any]
) -> None:
    response = client.post(
        f"/chats/{chat['id']}/messages", json={"content": "hi"}, headers={**user["headers"], **SSE}
    )

    events = _events(response.text)
    assert [name for name, _ in events] == ["delta", "done"]
    assert events[0][1] == {"content": "Message received"}
    assert events[1][1]["content"] == "Message received"


def test_json_stays_the_default(client: Any, chat: dict[str, Any], user: dict[str, Any]) -> None:
    response = client.post(
        f"/chats/{chat['id']}/messages", json={"content": "hi"}, headers=user["headers"]
    )

    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"
    assert response.json()["content"] == "Message received"


@pytest.mark.parametrize(
    ("case", "status"),
    [("no token", 401), ("foreign chat", 404), ("too large", 413), ("empty", 422)],
)
def test_errors_before_the_stream_are_problem_documents(
    client: Any,
    register: Callable[[], dict[str, Any]],
    chat: dict[str, Any],
    user: dict[str, Any],
    case: str,
    status: int,
) -> None:
    path = f"/chats/{chat['id']}/messages"
    headers = {**user["headers"], **SSE}
    body: dict[str, Any] = {"content": "hi"}
    if case == "no token":
        headers = dict(SSE)
    elif case == "foreign chat":
        headers = {**register()["headers"], **SSE}
    elif case == "too large":
        body = {"content": "x" * 2_000_000}
    elif case == "empty":
        body = {"content": "   "}

    response = client.post(path, json=body, headers=headers)

    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == status


async def test_an_assistant_failing_mid_stream_sends_an_error_event_and_stores_nothing(
    database_url: str,
) -> None:
    async with _client(_app(database_url, ScriptedAssistant(["par", "tial"], fail_at=1))) as api:
        owner = await _owner(api)
        keyed = {**owner.headers, **SSE, "Idempotency-Key": "fails"}
        streamed = await api.post(owner.messages, json={"content": "hi"}, headers=keyed)
        as_json = await api.post(owner.messages, json={"content": "hi"}, headers=owner.headers)

    assert streamed.status_code == 200
    events = _events(streamed.text)
    assert events[0] == ("delta", {"content": "par"})
    name, problem = events[-1]
    assert (name, problem["status"], problem["type"]) == (
        "error",
        503,
        "/problems/assistant-unavailable",
    )
    assert len(events) == 2
    assert as_json.status_code == 503
    assert as_json.headers["content-type"] == "application/problem+json"
    assert _stored(database_url, owner.chat_id) == []


async def test_a_failed_request_releases_its_key(database_url: str) -> None:
    failing = ScriptedAssistant(["x"], fail_at=0)
    async with _client(_app(database_url, failing)) as api:
        owner = await _owner(api)
        keyed = {**owner.headers, "Idempotency-Key": "retry-me"}
        assert (
            await api.post(owner.messages, json={"content": "hi"}, headers=keyed)
        ).status_code == 503
        failing.fail_at = None
        retried = await api.post(owner.messages, json={"content": "hi"}, headers=keyed)

    assert retried.status_code == 201
    assert _stored(database_url, owner.chat_id) == [("user", "hi"), ("assistant", "x")]


async def test_an_idempotent_retry_replays_the_reply_as_json_or_as_one_done_event(
    database_url: str,
) -> None:
    async with _client(_app(database_url, ScriptedAssistant(["a", "b"]))) as api:
        owner = await _owner(api)
        keyed = {**owner.headers, "Idempotency-Key": "replay"}
        streamed = await api.post(owner.messages, json={"content": "hi"}, headers={**keyed, **SSE})
        as_json = await api.post(owner.messages, json={"content": "hi"}, headers=keyed)
        as_events = await api.post(owner.messages, json={"content": "hi"}, headers={**keyed, **SSE})

    done = _events(streamed.text)[-1]
    assert done[0] == "done"
    assert as_json.status_code == 201
    assert as_json.json() == done[1]
    assert _events(as_events.text) == [done]
    assert len(_stored(database_url, owner.chat_id)) == 2


async def test_a_chat_deleted_while_the_assistant_answers_is_404_and_nothing_is_stored(
    database_url: str,
) -> None:
    gate = asyncio.Event()
    assistant = ScriptedAssistant(["late"], gate=gate)
    async with _client(_app(database_url, assistant)) as api:
        owner = await _owner(api)
        posting = asyncio.create_task(
            api.post(owner.messages, json={"content": "hi"}, headers=owner.headers)
        )
        await assistant.started.wait()
        deleted = await api.delete(f"/chats/{owner.chat_id}", headers=owner.headers)
        gate.set()
        response = await posting

    assert deleted.status_code == 204
    assert response.status_code == 404
    assert _stored(database_url, owner.chat_id) == []


async def _serve(app: FastAPI) -> tuple[uvicorn.Server, "asyncio.Task[None]", str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            await task
        await asyncio.sleep(0.02)
    return server, task, f"http://127.0.0.1:{port}"


async def _eventually(check: Callable[[], Awaitable[bool]], attempts: int = 200) -> bool:
    for _ in range(attempts):
        if await check():
            return True
        await asyncio.sleep(0.05)
    return False


async def test_a_client_that_disconnects_mid_stream_loses_nothing(database_url: str) -> None:
    """Over a real socket, under uvicorn: the client hangs up after the first chunk."""
    gate = asyncio.Event()
    app = _app(database_url, ScriptedAssistant(["first, ", "then the rest"], gate=gate))
    server, serving, base_url = await _serve(app)
    try:
        async with httpx2.AsyncClient(base_url=base_url, timeout=10) as api:
            owner = await _owner(api)
            headers = {**owner.headers, **SSE}
            async with api.stream(
                "POST", owner.messages, json={"content": "hi"}, headers=headers
            ) as response:
                async for line in response.aiter_lines():
                    if line.startswith("data:"):
                        break  # the first delta arrived; hang up
        gate.set()

        async def stored() -> bool:
            return len(_stored(database_url, owner.chat_id)) == 2

        assert await _eventually(stored)
        assert _stored(database_url, owner.chat_id) == [
            ("user", "hi"),
            ("assistant", "first, then the rest"),
        ]
    finally:
        server.should_exit = True
        await serving


async def test_a_database_away_before_the_stream_is_an_ordinary_503(database_url: str) -> None:
    # Nothing listens on port 1: the ownership check cannot get a connection.
    app = _app(
        "postgresql://postgres@127.0.0.1:1/nowhere",
        ScriptedAssistant(["never"]),
        db_connect_timeout_seconds=1,
    )
    token = app.state.container.tokens().issue(uuid.uuid4(), uuid.uuid4()).value
    headers = {"Authorization": f"Bearer {token}", **SSE}
    async with _client(app) as api:
        response = await api.post(
            f"/chats/{uuid.uuid4()}/messages", json={"content": "hi"}, headers=headers
        )

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert "Retry-After" in response.headers
