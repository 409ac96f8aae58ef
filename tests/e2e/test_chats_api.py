"""Chats over HTTP: creation, listing, management, and isolation between users."""

from typing import Any

from fastapi.testclient import TestClient


def test_create_chat_returns_201_with_the_chat(client: TestClient, user: dict[str, Any]) -> None:
    response = client.post("/chats", json={"title": "  Holiday plans "}, headers=user["headers"])

    assert response.status_code == 201
    body = response.json()
    assert body["title"] == "Holiday plans"
    assert set(body) == {"id", "user_id", "title", "created_at", "updated_at"}


def test_missing_or_blank_title_gets_a_default(client: TestClient, user: dict[str, Any]) -> None:
    for body in ({}, {"title": None}, {"title": "   "}):
        response = client.post("/chats", json=body, headers=user["headers"])
        assert response.status_code == 201
        assert response.json()["title"] == "New chat"


def test_title_over_200_characters_is_422(client: TestClient, user: dict[str, Any]) -> None:
    response = client.post("/chats", json={"title": "x" * 201}, headers=user["headers"])

    assert response.status_code == 422


def test_list_shows_only_my_chats_most_recently_active_first(
    client: TestClient, register: Any
) -> None:
    me, other = register(), register()
    first = client.post("/chats", json={"title": "first"}, headers=me["headers"]).json()
    second = client.post("/chats", json={"title": "second"}, headers=me["headers"]).json()
    client.post("/chats", json={"title": "not mine"}, headers=other["headers"])

    assert [c["id"] for c in client.get("/chats", headers=me["headers"]).json()] == [
        second["id"],
        first["id"],
    ]
    # Talking in the older chat makes it the most recent.
    client.post(f"/chats/{first['id']}/messages", json={"content": "hi"}, headers=me["headers"])
    listed = client.get("/chats", headers=me["headers"]).json()
    assert [c["id"] for c in listed] == [first["id"], second["id"]]
    assert listed[0]["updated_at"] > first["updated_at"]


def test_get_rename_and_delete_a_chat(
    client: TestClient, user: dict[str, Any], chat: dict[str, Any]
) -> None:
    path = f"/chats/{chat['id']}"
    assert client.get(path, headers=user["headers"]).json() == chat

    renamed = client.patch(path, json={"title": "Renamed"}, headers=user["headers"])
    assert renamed.status_code == 200
    assert renamed.json()["title"] == "Renamed"

    client.post(f"{path}/messages", json={"content": "hello"}, headers=user["headers"])
    assert client.delete(path, headers=user["headers"]).status_code == 204
    assert client.get(path, headers=user["headers"]).status_code == 404
    assert client.get(f"{path}/messages", headers=user["headers"]).status_code == 404


def test_someone_elses_chat_is_404_for_every_route(
    client: TestClient, register: Any, chat: dict[str, Any]
) -> None:
    stranger = register()["headers"]
    path = f"/chats/{chat['id']}"

    assert client.get(path, headers=stranger).status_code == 404
    assert client.patch(path, json={"title": "mine now"}, headers=stranger).status_code == 404
    assert client.delete(path, headers=stranger).status_code == 404
    assert client.get(f"{path}/messages", headers=stranger).status_code == 404
    posted = client.post(f"{path}/messages", json={"content": "hi"}, headers=stranger)
    assert posted.status_code == 404
    assert posted.headers["content-type"] == "application/problem+json"


def test_missing_chat_and_invalid_uuid(client: TestClient, user: dict[str, Any]) -> None:
    missing = "01a20aa8-0000-7000-8000-000000000000"
    assert client.get(f"/chats/{missing}", headers=user["headers"]).status_code == 404
    assert client.get("/chats/not-a-uuid", headers=user["headers"]).status_code == 422
