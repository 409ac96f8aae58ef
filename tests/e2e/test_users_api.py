"""The caller's own data: profile, streamed export, erasure; and the health probes."""

import json
import uuid
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from tests.e2e.conftest import PASSWORD, make_client


def test_me_shows_my_account_only(client: TestClient, user: dict[str, Any]) -> None:
    me = client.get("/users/me", headers=user["headers"]).json()

    assert set(me) == {"id", "email", "created_at"}
    assert me["email"] == user["email"]


def test_export_contains_everything_i_own_and_nothing_else(
    client: TestClient, register: Any
) -> None:
    me, other = register(), register()
    for title in ("one", "two"):
        chat = client.post("/chats", json={"title": title}, headers=me["headers"]).json()
        client.post(f"/chats/{chat['id']}/messages", json={"content": title}, headers=me["headers"])
    client.post("/chats", json={"title": "not mine"}, headers=other["headers"])

    response = client.get("/users/me/export", headers=me["headers"])

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    document = json.loads(response.text)
    assert document["user"]["email"] == me["email"]
    assert [c["title"] for c in document["chats"]] == ["one", "two"]
    assert [[m["role"] for m in c["messages"]] for c in document["chats"]] == [
        ["user", "assistant"],
        ["user", "assistant"],
    ]


def test_export_of_an_empty_account_is_valid_json(client: TestClient, user: dict[str, Any]) -> None:
    document = client.get("/users/me/export", headers=user["headers"]).json()

    assert document["chats"] == []


def test_deleting_my_account_needs_my_password(client: TestClient, user: dict[str, Any]) -> None:
    response = client.request(
        "DELETE", "/users/me", json={"password": "not my password"}, headers=user["headers"]
    )

    assert response.status_code == 403
    assert client.get("/users/me", headers=user["headers"]).status_code == 200


def test_deleting_my_account_erases_everything_at_once(
    client: TestClient, user: dict[str, Any], chat: dict[str, Any], database_url: str
) -> None:
    client.post(f"/chats/{chat['id']}/messages", json={"content": "x"}, headers=user["headers"])

    response = client.request(
        "DELETE", "/users/me", json={"password": PASSWORD}, headers=user["headers"]
    )

    assert response.status_code == 204
    assert client.get("/chats", headers=user["headers"]).status_code == 401
    with psycopg.connect(database_url) as connection:
        for table in ("users", "chats", "messages"):
            column = "id" if table == "users" else "user_id"
            row = connection.execute(
                f"SELECT count(*) FROM {table} WHERE {column} = %s",
                (chat["user_id"],),
            ).fetchone()
            assert row == (0,), table


def test_health_and_ready(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"


def test_ready_is_503_without_a_database_while_health_stays_up() -> None:
    unreachable = "postgresql://postgres@127.0.0.1:1/nowhere"
    with make_client(unreachable, migrate_on_startup=False, db_connect_timeout_seconds=1) as client:
        assert client.get("/health").status_code == 200
        ready = client.get("/ready")
        assert ready.status_code == 503
        assert ready.headers["Retry-After"]
        token = client.app.state.container.tokens().issue(uuid.uuid4(), uuid.uuid4()).value  # type: ignore[attr-defined]
        down = client.get("/chats", headers={"Authorization": f"Bearer {token}"})
        assert down.status_code == 503
        assert down.headers["content-type"] == "application/problem+json"
        assert int(down.headers["Retry-After"]) > 0
