"""Sessions end to end: refresh rotation, replay detection, logout, the session list,
password change; on the real app and PostgreSQL, and across two server processes."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx2
import jwt
import psycopg
import pytest
from fastapi.testclient import TestClient

from entrypoints.container import stop
from tests.e2e.conftest import PASSWORD, bearer, make_app, new_email
from tests.e2e.servers import api_server

NEW_PASSWORD = "another fine passphrase"


def _sign_in(client: TestClient, email: str, agent: str = "test-agent/1.0") -> dict[str, Any]:
    response = client.post(
        "/auth/login", json={"email": email, "password": PASSWORD}, headers={"User-Agent": agent}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _account(client: TestClient) -> tuple[str, dict[str, Any]]:
    email = new_email()
    response = client.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    return email, response.json()


def _refresh(client: TestClient, token: str) -> httpx2.Response:
    response: httpx2.Response = client.post("/auth/refresh", json={"refresh_token": token})
    return response


def _works(client: TestClient, tokens: dict[str, Any]) -> bool:
    """Whether the access token still opens a chat route (200) rather than 401."""
    status = client.get("/chats", headers=bearer(tokens["access_token"])).status_code
    assert status in (200, 401), status
    return status == 200


def _assert_401(response: httpx2.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


# --- refresh -----------------------------------------------------------------


def test_refresh_rotates_both_tokens(client: TestClient) -> None:
    _, first = _account(client)

    second = _refresh(client, first["refresh_token"])

    assert second.status_code == 200, second.text
    body = second.json()
    assert set(body) == {
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "refresh_expires_in",
    }
    assert body["refresh_token"] != first["refresh_token"]
    assert body["access_token"] != first["access_token"]
    assert body["refresh_expires_in"] == 30 * 24 * 3600
    assert _works(client, body)
    third = _refresh(client, body["refresh_token"])  # the new one works, once
    assert third.status_code == 200, third.text
    assert _works(client, third.json())


def test_a_replayed_refresh_token_ends_the_whole_session(client: TestClient) -> None:
    _, first = _account(client)
    newest = _refresh(client, first["refresh_token"]).json()
    other_email, other = _account(client)  # someone else's session is untouched

    _assert_401(_refresh(client, first["refresh_token"]))  # the rotated-away one, again

    assert not _works(client, newest)  # the newest access token died with the session
    _assert_401(_refresh(client, newest["refresh_token"]))  # and so did the newest refresh
    assert not _works(client, first)
    assert _works(client, other)
    assert _refresh(client, other["refresh_token"]).status_code == 200
    assert other_email


@pytest.mark.parametrize(
    "token",
    ["", "x", "not-a-token-we-issued", "a" * 129, "a" * 4096, "é" * 43],
    ids=["empty", "short", "unknown", "too long", "very long", "non-ascii"],
)
def test_malformed_or_unknown_refresh_tokens_get_401(client: TestClient, token: str) -> None:
    _assert_401(_refresh(client, token))


def test_an_access_token_is_not_a_refresh_token_nor_the_reverse(client: TestClient) -> None:
    _, tokens = _account(client)

    _assert_401(_refresh(client, tokens["access_token"]))
    _assert_401(client.get("/chats", headers=bearer(tokens["refresh_token"])))
    _assert_401(client.get("/users/me", headers=bearer(tokens["refresh_token"])))
    assert _works(client, tokens)  # neither attempt harmed the session
    assert _refresh(client, tokens["refresh_token"]).status_code == 200


def test_a_refresh_body_without_the_token_is_422(client: TestClient) -> None:
    assert client.post("/auth/refresh", json={}).status_code == 422
    assert client.post("/auth/refresh", json={"refresh_token": 5}).status_code == 422


def test_an_expired_session_refuses_its_tokens(client: TestClient, database_url: str) -> None:
    _, tokens = _account(client)
    session_id = _current_session(client, tokens)["id"]
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(
            "UPDATE sessions SET expires_at = now() - interval '1 second' WHERE id = %s",
            (session_id,),
        )

    assert not _works(client, tokens)
    _assert_401(_refresh(client, tokens["refresh_token"]))


def test_a_token_from_before_sessions_gets_401(client: TestClient) -> None:
    """Tokens issued before this version carry no session (``sid``): sign in again."""
    _, tokens = _account(client)
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    del claims["sid"]
    secret = client.app.state.container.settings().jwt_secret.get_secret_value()  # type: ignore[attr-defined]
    old = jwt.encode(claims, secret, algorithm="HS256")

    for path in ("/chats", "/users/me"):
        _assert_401(client.get(path, headers=bearer(old)))


@pytest.fixture
async def api(database_url: str) -> AsyncIterator[httpx2.AsyncClient]:
    app = make_app(database_url, migrate_on_startup=False)
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://api") as client:
        yield client
    await stop(app.state.container)


async def test_concurrent_refreshes_with_one_token_let_at_most_one_through(
    api: httpx2.AsyncClient,
) -> None:
    registered = await api.post("/auth/register", json={"email": new_email(), "password": PASSWORD})
    token = registered.json()["refresh_token"]
    start = asyncio.Event()

    async def refresh() -> httpx2.Response:
        await start.wait()  # all of them released at once
        return await api.post("/auth/refresh", json={"refresh_token": token})

    pending = [asyncio.create_task(refresh()) for _ in range(10)]
    await asyncio.sleep(0)
    start.set()
    responses = await asyncio.gather(*pending)

    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) <= 1, statuses
    assert set(statuses) <= {200, 401}, statuses
    assert 401 in statuses


# --- logout ------------------------------------------------------------------


def test_logout_kills_the_access_and_refresh_tokens_at_once(client: TestClient) -> None:
    email, first = _account(client)
    second = _sign_in(client, email)
    chat = client.post("/chats", json={}, headers=bearer(first["access_token"])).json()

    response = client.post("/auth/logout", headers=bearer(first["access_token"]))

    assert response.status_code == 204
    headers = bearer(first["access_token"])
    _assert_401(client.get("/chats", headers=headers))
    _assert_401(client.get(f"/chats/{chat['id']}", headers=headers))
    _assert_401(client.get(f"/chats/{chat['id']}/messages", headers=headers))
    _assert_401(
        client.post(f"/chats/{chat['id']}/messages", json={"content": "x"}, headers=headers)
    )
    _assert_401(client.post("/chats", json={}, headers=headers))
    _assert_401(client.get("/users/me", headers=headers))
    _assert_401(_refresh(client, first["refresh_token"]))
    _assert_401(client.post("/auth/logout", headers=headers))  # already over
    assert _works(client, second)  # the other device stays signed in
    assert (
        client.get(f"/chats/{chat['id']}", headers=bearer(second["access_token"])).status_code
        == 200
    )


def test_logout_without_a_token_is_401(client: TestClient) -> None:
    _assert_401(client.post("/auth/logout"))


def test_logout_in_one_worker_is_seen_by_another_at_once(database_url: str) -> None:
    with api_server(database_url) as one, api_server(database_url) as two:
        a = httpx2.Client(base_url=one.base_url, timeout=15)
        b = httpx2.Client(base_url=two.base_url, timeout=15)
        tokens = a.post("/auth/register", json={"email": new_email(), "password": PASSWORD}).json()
        headers = bearer(tokens["access_token"])
        chat = b.post("/chats", json={}, headers=headers).json()
        assert b.get(f"/chats/{chat['id']}/messages", headers=headers).status_code == 200

        assert a.post("/auth/logout", headers=headers).status_code == 204

        assert b.get(f"/chats/{chat['id']}/messages", headers=headers).status_code == 401
        assert b.get("/chats", headers=headers).status_code == 401
        assert (
            b.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code
            == 401
        )


# --- the session list ----------------------------------------------------------


def _sessions(client: TestClient, tokens: dict[str, Any]) -> list[dict[str, Any]]:
    response = client.get("/users/me/sessions", headers=bearer(tokens["access_token"]))
    assert response.status_code == 200, response.text
    listed: list[dict[str, Any]] = response.json()
    return listed


def _current_session(client: TestClient, tokens: dict[str, Any]) -> dict[str, Any]:
    [current] = [s for s in _sessions(client, tokens) if s["current"]]
    return current


def test_the_session_list_shows_devices_without_token_material(client: TestClient) -> None:
    email, first = _account(client)
    time.sleep(0.01)
    phone = _sign_in(client, email, agent="phone-app/2.0")
    stranger_email, _ = _account(client)

    listed = _sessions(client, first)

    assert [s["current"] for s in listed] == [False, True]  # most recently used first
    assert listed[0]["user_agent"] == "phone-app/2.0"
    assert listed[0]["client_address"] == "testclient"
    for session in listed:
        assert set(session) == {
            "id",
            "created_at",
            "last_used_at",
            "user_agent",
            "client_address",
            "current",
        }
        text = str(session)
        assert first["refresh_token"] not in text
        assert phone["refresh_token"] not in text
    assert _current_session(client, phone)["id"] == listed[0]["id"]
    assert stranger_email


def test_a_refresh_moves_the_session_to_the_top(client: TestClient) -> None:
    email, first = _account(client)
    second = _sign_in(client, email)
    assert _sessions(client, second)[0]["current"]

    renewed = _refresh(client, first["refresh_token"]).json()

    listed = _sessions(client, renewed)
    assert listed[0]["current"]
    assert listed[0]["last_used_at"] > listed[0]["created_at"]


def test_ending_one_session_by_id(client: TestClient) -> None:
    email, first = _account(client)
    lost_phone = _sign_in(client, email)
    phone_id = _current_session(client, lost_phone)["id"]
    _, stranger = _account(client)
    stranger_session = _current_session(client, stranger)["id"]
    headers = bearer(first["access_token"])

    assert client.delete(f"/users/me/sessions/{phone_id}", headers=headers).status_code == 204

    assert not _works(client, lost_phone)
    _assert_401(_refresh(client, lost_phone["refresh_token"]))
    assert _works(client, first)
    assert [s["id"] for s in _sessions(client, first)] != [phone_id]
    # Already over, someone else's, missing: all 404, and nothing happens to them.
    for target in (phone_id, stranger_session, str(uuid.uuid4())):
        response = client.delete(f"/users/me/sessions/{target}", headers=headers)
        assert response.status_code == 404, response.text
    assert _works(client, stranger)
    assert client.delete("/users/me/sessions/not-a-uuid", headers=headers).status_code == 422


def test_ending_every_other_session(client: TestClient) -> None:
    email, first = _account(client)
    others = [_sign_in(client, email) for _ in range(2)]
    _, stranger = _account(client)

    response = client.delete("/users/me/sessions", headers=bearer(first["access_token"]))

    assert response.status_code == 204
    assert all(not _works(client, tokens) for tokens in others)
    assert _works(client, first)
    assert _works(client, stranger)
    assert [s["current"] for s in _sessions(client, first)] == [True]


# --- password change -------------------------------------------------------------


def _change(client: TestClient, tokens: dict[str, Any], current: str, new: str) -> httpx2.Response:
    body = {"current_password": current, "new_password": new}
    response: httpx2.Response = client.put(
        "/users/me/password", json=body, headers=bearer(tokens["access_token"])
    )
    return response


def test_a_password_change_ends_the_other_sessions_but_not_this_one(client: TestClient) -> None:
    email, here = _account(client)
    elsewhere = _sign_in(client, email)

    assert _change(client, here, PASSWORD, NEW_PASSWORD).status_code == 204

    assert _works(client, here)
    assert _refresh(client, here["refresh_token"]).status_code == 200
    assert not _works(client, elsewhere)
    _assert_401(_refresh(client, elsewhere["refresh_token"]))
    old = client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert old.status_code == 401
    new = client.post("/auth/login", json={"email": email, "password": NEW_PASSWORD})
    assert new.status_code == 200


def test_a_wrong_current_password_is_403_and_changes_nothing(client: TestClient) -> None:
    email, here = _account(client)
    elsewhere = _sign_in(client, email)

    response = _change(client, here, "not my password", NEW_PASSWORD)

    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert _works(client, elsewhere)
    assert (
        client.post("/auth/login", json={"email": email, "password": PASSWORD}).status_code == 200
    )


@pytest.mark.parametrize("new", ["short", "password", "x" * 129])
def test_a_new_password_the_policy_refuses_is_422(client: TestClient, new: str) -> None:
    email, here = _account(client)

    assert _change(client, here, PASSWORD, new).status_code == 422

    assert (
        client.post("/auth/login", json={"email": email, "password": PASSWORD}).status_code == 200
    )


def test_register_and_login_answer_with_a_session(client: TestClient) -> None:
    email, registered = _account(client)
    logged_in: Callable[[], dict[str, Any]] = lambda: _sign_in(client, email)  # noqa: E731
    second = logged_in()

    assert registered["refresh_token"] != second["refresh_token"]
    assert len(_sessions(client, second)) == 2
    assert second["refresh_expires_in"] == 30 * 24 * 3600
