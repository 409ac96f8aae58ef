"""Every error is a problem document with a ``detail``; every 422 says where in ``errors``."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.e2e.conftest import new_email


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["detail"].strip()
    return body


def _only_error(body: dict[str, Any]) -> dict[str, Any]:
    [error] = body["errors"]
    assert set(error) == {"loc", "msg", "type"}
    assert error["msg"] == body["detail"]
    return dict(error)


def test_an_unknown_route_is_404_with_a_detail(client: TestClient) -> None:
    body = _problem(client.get("/no/such/route"), 404)

    assert body["instance"] == "/no/such/route"


def test_a_method_the_path_does_not_serve_is_405_with_a_detail_and_allow(
    client: TestClient,
) -> None:
    response = client.put("/chats")

    _problem(response, 405)
    assert response.headers["Allow"] == "GET, POST"


def test_an_unknown_chat_is_404_with_the_domain_detail(
    client: TestClient, user: dict[str, Any]
) -> None:
    response = client.get("/chats/00000000-0000-4000-8000-000000000000", headers=user["headers"])

    assert _problem(response, 404)["detail"] == "Chat not found."


def test_a_common_password_is_422_naming_the_password(client: TestClient) -> None:
    response = client.post("/auth/register", json={"email": new_email(), "password": "iloveyou1"})

    error = _only_error(_problem(response, 422))
    assert error["loc"] == ["body", "password"]
    assert error["type"] == "invalid-input"
    assert "too common" in error["msg"]


def test_content_too_long_is_422_naming_the_content(
    client: TestClient, user: dict[str, Any], chat: dict[str, Any]
) -> None:
    response = client.post(
        f"/chats/{chat['id']}/messages", json={"content": "x" * 32_001}, headers=user["headers"]
    )

    error = _only_error(_problem(response, 422))
    assert error == {"loc": ["body", "content"], "msg": error["msg"], "type": "invalid-input"}


@pytest.mark.parametrize("title", ["t" * 201, "nul \x00 inside"])
def test_a_bad_title_is_422_naming_the_title(
    client: TestClient, user: dict[str, Any], chat: dict[str, Any], title: str
) -> None:
    response = client.patch(f"/chats/{chat['id']}", json={"title": title}, headers=user["headers"])

    body = _problem(response, 422)
    assert body["errors"]
    assert all(e["loc"][:2] == ["body", "title"] for e in body["errors"])


def test_a_reused_idempotency_key_is_422_naming_the_header(
    client: TestClient, user: dict[str, Any]
) -> None:
    headers = {**user["headers"], "Idempotency-Key": "problems-reused"}
    assert client.post("/chats", json={"title": "one"}, headers=headers).status_code == 201

    response = client.post("/chats", json={"title": "two"}, headers=headers)

    error = _only_error(_problem(response, 422))
    assert error["loc"] == ["header", "Idempotency-Key"]
    assert error["type"] == "idempotency-key-reused"


def test_a_malformed_body_is_422_with_errors_from_the_schema(client: TestClient) -> None:
    response = client.post("/auth/register", json={"email": "not an email"})

    body = _problem(response, 422)
    assert {tuple(e["loc"]) for e in body["errors"]} == {("body", "email"), ("body", "password")}
