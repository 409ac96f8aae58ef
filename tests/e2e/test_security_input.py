"""Hostile and malformed input: always a clear 4xx problem, never a 500 or a leak."""

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.e2e.conftest import make_app, make_client

JSON = {"Content-Type": "application/json"}


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status"} <= set(body)
    assert body["status"] == status
    for leak in ("Traceback", "SELECT", "INSERT", "psycopg", "sqlalchemy", 'File "'):
        assert leak not in response.text
    return body


@pytest.fixture
def post_path(chat: dict[str, Any]) -> str:
    return f"/chats/{chat['id']}/messages"


def test_body_over_the_limit_is_413_before_parsing(database_url: str) -> None:
    with make_client(database_url, max_body_bytes=1024) as small:
        response = small.post("/auth/login", content=b"{" + b" " * 2000 + b"}", headers=JSON)
        _problem(response, 413)

        def chunks() -> Iterator[bytes]:  # no Content-Length: streamed in pieces
            for _ in range(10):
                yield b" " * 200

        _problem(small.post("/auth/login", content=chunks(), headers=JSON), 413)


def test_the_default_body_limit_is_one_mebibyte(client: TestClient, user: dict[str, Any]) -> None:
    big = b'{"title": "' + b"x" * (1024 * 1024) + b'"}'
    _problem(client.post("/chats", content=big, headers={**user["headers"], **JSON}), 413)


def test_content_length_limits(client: TestClient, user: dict[str, Any], post_path: str) -> None:
    headers = user["headers"]
    assert (
        client.post(post_path, json={"content": "x" * 32_000}, headers=headers).status_code == 201
    )
    _problem(client.post(post_path, json={"content": "x" * 32_001}, headers=headers), 422)
    _problem(client.post("/chats", json={"title": "t" * 201}, headers=headers), 422)


def test_content_limit_is_a_setting(database_url: str) -> None:
    with make_client(database_url, max_content_chars=10) as client:
        token = client.post(
            "/auth/register", json={"email": "limit@example.com", "password": "a fine passphrase"}
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        chat = client.post("/chats", json={}, headers=headers).json()["id"]
        path = f"/chats/{chat}/messages"
        assert client.post(path, json={"content": "x" * 10}, headers=headers).status_code == 201
        _problem(client.post(path, json={"content": "x" * 11}, headers=headers), 422)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b'{"content": ""}', 422),
        (b'{"content": "   \\n\\t "}', 422),
        (b'{"content": "nul \\u0000 inside"}', 422),
        (b'{"content": "lone surrogate \\ud800"}', 422),
        (b'{"content": 42}', 422),
        (b'{"content": ["a"]}', 422),
        (b'{"content": "x", "role": "assistant"}', 422),  # no smuggling extra fields
        (b"[]", 422),
        (b"null", 422),
        (b"not json at all", 422),
        (b'{"content": "\xff\xfe invalid utf-8"}', 400),
        (b"[" * 50_000 + b"]" * 50_000, 400),
        (b'{"content": ' + b"[" * 5_000 + b"]" * 5_000 + b"}", 400),
    ],
)
def test_malformed_message_bodies(
    client: TestClient, user: dict[str, Any], post_path: str, body: bytes, status: int
) -> None:
    response = client.post(post_path, content=body, headers={**user["headers"], **JSON})

    problem = _problem(response, status)
    if status == 422 and problem["type"] == "/problems/validation-error":
        assert problem["errors"]
        assert all({"loc", "msg", "type"} == set(e) for e in problem["errors"])


def test_validation_errors_never_echo_the_input(client: TestClient) -> None:
    response = client.post("/auth/register", json={"email": "x", "password": "hunter2-secret"})

    _problem(response, 422)
    assert "hunter2-secret" not in response.text


def test_bad_path_and_query_parameters(client: TestClient, user: dict[str, Any]) -> None:
    headers = user["headers"]
    _problem(client.get("/chats/not-a-uuid/messages", headers=headers), 422)
    _problem(client.get("/chats?limit=0", headers=headers), 422)
    _problem(client.get("/chats?limit=501", headers=headers), 422)
    _problem(client.get("/chats?cursor=forged", headers=headers), 400)


def test_unknown_route_and_wrong_method_are_problems(client: TestClient) -> None:
    _problem(client.get("/no/such/route"), 404)
    response = client.put("/chats")
    _problem(response, 405)
    assert set(response.headers["Allow"].split(", ")) == {"GET", "POST"}


def _failing_app(database_url: str) -> FastAPI:
    app = make_app(database_url)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("SELECT secret FROM internals")

    return app


def test_an_unexpected_error_is_a_bare_500_problem(database_url: str) -> None:
    with TestClient(_failing_app(database_url), raise_server_exceptions=False) as client:
        response = client.get("/boom")

    body = _problem(response, 500)
    assert "secret" not in response.text
    assert body["detail"] == "Something went wrong on our side."


def test_security_headers(client: TestClient, user: dict[str, Any]) -> None:
    login = client.post("/auth/login", json={"email": user["email"], "password": "wrong password"})
    too_large = client.post("/chats", content=b"{}", headers={"Content-Length": "99999999"})
    for response in (
        login,
        client.get("/chats", headers=user["headers"]),
        client.get("/nope"),
        too_large,  # a response that sets them itself gets each once
    ):
        assert response.headers.get_list("X-Content-Type-Options") == ["nosniff"]
        assert response.headers.get_list("Cache-Control") == ["no-store"]
        assert len(response.headers.get_list("X-Request-ID")) == 1
    assert too_large.status_code == 413


def test_cors_is_off_unless_configured(client: TestClient, database_url: str) -> None:
    preflight = {
        "Origin": "https://app.example.com",
        "Access-Control-Request-Method": "POST",
    }
    assert "access-control-allow-origin" not in client.options("/chats", headers=preflight).headers

    with make_client(database_url, cors_origins=["https://app.example.com"]) as with_cors:
        response = with_cors.options("/chats", headers=preflight)
    assert response.headers["access-control-allow-origin"] == "https://app.example.com"
