"""A token outlives its account or its session: every protected route answers it with 401.

The chat and message routes do not look the session up before the use case runs
(``IdentifyCaller``); their statements carry the condition that the session is live,
and ask only when they find nothing. This test holds every protected route to 401,
never data, for a deleted account's token, a logged-out session's and a session ended
from another one, and fails when a new protected route is not in its table.
"""

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.e2e.conftest import PASSWORD

# (method, path) -> JSON body; every route that takes a bearer token.
CALLS: dict[tuple[str, str], dict[str, Any] | None] = {
    ("POST", "/chats"): {"title": "after the end"},
    ("GET", "/chats"): None,
    ("GET", "/chats/{chat_id}"): None,
    ("PATCH", "/chats/{chat_id}"): {"title": "renamed"},
    ("DELETE", "/chats/{chat_id}"): None,
    ("POST", "/chats/{chat_id}/messages"): {"content": "still there?"},
    ("GET", "/chats/{chat_id}/messages"): None,
    ("GET", "/users/me"): None,
    ("GET", "/users/me/export"): None,
    ("DELETE", "/users/me"): {"password": PASSWORD},
    ("PUT", "/users/me/password"): {
        "current_password": PASSWORD,
        "new_password": "n3w pass phrase",
    },
    ("GET", "/users/me/sessions"): None,
    ("DELETE", "/users/me/sessions"): None,
    ("DELETE", "/users/me/sessions/{session_id}"): None,
    ("POST", "/auth/logout"): None,
}


def _protected_routes(client: TestClient) -> set[tuple[str, str]]:
    """Every operation the OpenAPI document marks as needing the bearer token."""
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    return {
        (method.upper(), path)
        for path, operations in paths.items()
        for method, operation in operations.items()
        if operation.get("security")
    }


def test_the_table_names_every_protected_route(client: TestClient) -> None:
    assert set(CALLS) == _protected_routes(client)


ENDINGS = ["account deleted", "logged out", "ended from another session"]


@pytest.fixture(scope="module", params=ENDINGS)
def gone(client: TestClient, request: pytest.FixtureRequest) -> dict[str, Any]:
    """A dead token (its account deleted or its session ended), its former chat, someone
    else's chat, and one of the user's sessions that is still live."""

    def register(email: str) -> dict[str, str]:
        response = client.post("/auth/register", json={"email": email, "password": PASSWORD})
        assert response.status_code == 201, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    def chat_of(headers: dict[str, str]) -> str:
        chat = client.post("/chats", json={"title": "t"}, headers=headers).json()
        client.post(f"/chats/{chat['id']}/messages", json={"content": "x"}, headers=headers)
        chat_id: str = chat["id"]
        return chat_id

    email = f"gone-{uuid.uuid4().hex[:8]}@example.com"
    headers = register(email)
    former = chat_of(headers)
    other = chat_of(register(f"stays-{uuid.uuid4().hex[:8]}@example.com"))
    login = client.post("/auth/login", json={"email": email, "password": PASSWORD})
    elsewhere = {"Authorization": f"Bearer {login.json()['access_token']}"}
    sessions = client.get("/users/me/sessions", headers=elsewhere).json()
    [live] = [s["id"] for s in sessions if s["current"]]
    if request.param == "account deleted":
        ended = client.request("DELETE", "/users/me", json={"password": PASSWORD}, headers=headers)
    elif request.param == "logged out":
        ended = client.post("/auth/logout", headers=headers)
    else:
        ended = client.delete("/users/me/sessions", headers=elsewhere)  # all but that one
    assert ended.status_code == 204
    return {
        "headers": headers,
        "former": former,
        "other": other,
        "missing": str(uuid.uuid4()),
        "live": live,
    }


def _cases() -> list[tuple[str, str, str, str | None]]:
    """(method, path, which chat, Idempotency-Key) worth trying for every route."""
    cases = []
    for method, path in CALLS:
        chats = ["former", "other", "missing"] if "{chat_id}" in path else ["former"]
        keys = [None, "retry-1"] if method == "POST" else [None]
        cases += [(method, path, chat, key) for chat in chats for key in keys]
    return cases


@pytest.mark.parametrize(("method", "path", "chat", "idempotency_key"), _cases())
def test_a_deleted_users_token_gets_401_everywhere(
    client: TestClient,
    gone: dict[str, Any],
    method: str,
    path: str,
    chat: str,
    idempotency_key: str | None,
) -> None:
    headers: dict[str, str] = dict(gone["headers"])
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    send: Callable[..., Any] = client.request

    url = path.format(chat_id=gone[chat], session_id=gone["live"])
    response = send(method, url, json=CALLS[(method, path)], headers=headers)

    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
