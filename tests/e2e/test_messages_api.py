"""Posting and reading messages over HTTP, stored in PostgreSQL."""

from typing import Any

import psycopg
from fastapi.testclient import TestClient


def test_post_stores_the_message_and_returns_the_assistant_reply(
    client: TestClient, user: dict[str, Any], chat: dict[str, Any]
) -> None:
    response = client.post(
        f"/chats/{chat['id']}/messages",
        json={"content": "Remember my cat is Tom"},
        headers=user["headers"],
    )

    assert response.status_code == 201
    reply = response.json()
    assert reply["role"] == "assistant"
    assert reply["content"] == "Message received"
    assert reply["chat_id"] == chat["id"]


def test_list_returns_the_conversation_oldest_first(
    client: TestClient, user: dict[str, Any], chat: dict[str, Any]
) -> None:
    path = f"/chats/{chat['id']}/messages"
    for text in ("one", "two"):
        client.post(path, json={"content": text}, headers=user["headers"])

    listed = client.get(path, headers=user["headers"]).json()

    assert [(m["role"], m["content"]) for m in listed] == [
        ("user", "one"),
        ("assistant", "Message received"),
        ("user", "two"),
        ("assistant", "Message received"),
    ]


def test_a_refused_post_stores_nothing(
    client: TestClient, register: Any, chat: dict[str, Any], user: dict[str, Any], database_url: str
) -> None:
    stranger = register()["headers"]
    path = f"/chats/{chat['id']}/messages"

    assert client.post(path, json={"content": "intrusion"}, headers=stranger).status_code == 404
    assert client.post(path, json={"content": "   "}, headers=user["headers"]).status_code == 422
    assert client.post(path, json={}, headers=user["headers"]).status_code == 422

    with psycopg.connect(database_url.replace("+psycopg", "")) as connection:
        count = connection.execute(
            "SELECT count(*) FROM messages WHERE chat_id = %s", (chat["id"],)
        ).fetchone()
    assert count == (0,)


def test_message_rows_are_owned_and_paired(
    client: TestClient, user: dict[str, Any], chat: dict[str, Any], database_url: str
) -> None:
    client.post(f"/chats/{chat['id']}/messages", json={"content": "hello"}, headers=user["headers"])

    with psycopg.connect(database_url) as connection:
        rows = connection.execute(
            "SELECT role, user_id::text FROM messages WHERE chat_id = %s ORDER BY created_at, id",
            (chat["id"],),
        ).fetchall()
    assert rows == [("user", chat["user_id"]), ("assistant", chat["user_id"])]
