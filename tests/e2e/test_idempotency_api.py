"""Idempotency-Key on the two creating routes: retries are safe, reuse is refused."""

import asyncio
from typing import Any

import httpx2
import psycopg
import pytest
from fastapi.testclient import TestClient

from entrypoints.container import stop
from tests.e2e.conftest import PASSWORD, make_app, new_email


def _count(database_url: str, sql: str, *params: Any) -> int:
    with psycopg.connect(database_url) as connection:
        row = connection.execute(sql, params).fetchone()
    assert row is not None
    return int(row[0])


def test_retrying_a_post_returns_the_first_reply_and_stores_nothing(
    client: TestClient, user: dict[str, Any], chat: dict[str, Any], database_url: str
) -> None:
    path = f"/chats/{chat['id']}/messages"
    headers = {**user["headers"], "Idempotency-Key": "retry-1"}

    first = client.post(path, json={"content": "only once"}, headers=headers)
    again = client.post(path, json={"content": "only once"}, headers=headers)

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    count = "SELECT count(*) FROM messages WHERE chat_id = %s"
    assert _count(database_url, count, chat["id"]) == 2


def test_retrying_a_chat_creation_returns_the_same_chat(
    client: TestClient, user: dict[str, Any], database_url: str
) -> None:
    headers = {**user["headers"], "Idempotency-Key": "new-chat-1"}

    first = client.post("/chats", json={"title": "Once"}, headers=headers)
    again = client.post("/chats", json={"title": "Once"}, headers=headers)

    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert len(client.get("/chats", headers=user["headers"]).json()) == 1


def test_the_same_key_with_another_body_is_422(
    client: TestClient, user: dict[str, Any], chat: dict[str, Any]
) -> None:
    path = f"/chats/{chat['id']}/messages"
    headers = {**user["headers"], "Idempotency-Key": "reused"}
    assert client.post(path, json={"content": "first"}, headers=headers).status_code == 201

    response = client.post(path, json={"content": "second"}, headers=headers)

    assert response.status_code == 422
    assert response.json()["type"] == "/problems/idempotency-key-reused"


def test_keys_belong_to_one_user(client: TestClient, register: Any) -> None:
    alice, bob = register(), register()
    key = {"Idempotency-Key": "shared-name"}

    a = client.post("/chats", json={"title": "A"}, headers={**alice["headers"], **key})
    b = client.post("/chats", json={"title": "A"}, headers={**bob["headers"], **key})

    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]


def test_a_refused_request_does_not_burn_its_key(
    client: TestClient, register: Any, chat: dict[str, Any], user: dict[str, Any]
) -> None:
    path = f"/chats/{chat['id']}/messages"
    stranger = {**register()["headers"], "Idempotency-Key": "k"}
    assert client.post(path, json={"content": "x"}, headers=stranger).status_code == 404

    owner = {**user["headers"], "Idempotency-Key": "k"}
    assert client.post(path, json={"content": "x"}, headers=owner).status_code == 201


async def test_concurrent_requests_with_one_key_write_once(database_url: str) -> None:
    app = make_app(database_url, migrate_on_startup=False)
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://api") as api:
        token = (
            await api.post("/auth/register", json={"email": new_email(), "password": PASSWORD})
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        chat = (await api.post("/chats", json={}, headers=headers)).json()
        keyed = {**headers, "Idempotency-Key": "burst"}

        responses = await asyncio.gather(
            *(
                api.post(f"/chats/{chat['id']}/messages", json={"content": "hi"}, headers=keyed)
                for _ in range(8)
            )
        )
    await stop(app.state.container)

    # The first claims the key; one arriving while it runs is told to retry (409), one
    # arriving after it gets the stored reply.
    created = [r for r in responses if r.status_code == 201]
    assert {r.status_code for r in responses} <= {201, 409}
    assert created
    assert len({r.json()["id"] for r in created}) == 1
    count = "SELECT count(*) FROM messages WHERE chat_id = %s"
    assert _count(database_url, count, chat["id"]) == 2


@pytest.mark.parametrize("key", ["", "k" * 256])
def test_a_key_empty_or_too_long_is_422_on_both_routes_and_nothing_is_stored(
    client: TestClient, user: dict[str, Any], chat: dict[str, Any], database_url: str, key: str
) -> None:
    headers = {**user["headers"], "Idempotency-Key": key}
    posted = client.post(f"/chats/{chat['id']}/messages", json={"content": "x"}, headers=headers)
    created = client.post("/chats", json={"title": "x"}, headers=headers)

    for refused in (posted, created):
        assert refused.status_code == 422, refused.text
        [error] = refused.json()["errors"]
        assert error["loc"] == ["header", "Idempotency-Key"]
    # The route that reads the header itself says exactly what FastAPI says for the other.
    assert posted.json()["errors"] == created.json()["errors"]
    count = "SELECT count(*) FROM messages WHERE chat_id = %s"
    assert _count(database_url, count, chat["id"]) == 0


def test_the_longest_key_is_accepted(
    client: TestClient, user: dict[str, Any], chat: dict[str, Any]
) -> None:
    headers = {**user["headers"], "Idempotency-Key": "k" * 255}
    posted = client.post(f"/chats/{chat['id']}/messages", json={"content": "x"}, headers=headers)
    assert posted.status_code == 201, posted.text
