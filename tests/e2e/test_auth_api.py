"""Registration, login and the bearer-token gate, over HTTP on PostgreSQL."""

import time
from typing import Any

import jwt
from fastapi.testclient import TestClient

from tests.e2e.conftest import PASSWORD, bearer, new_email


def test_register_returns_a_working_bearer_token(client: TestClient) -> None:
    response = client.post("/auth/register", json={"email": new_email(), "password": PASSWORD})

    assert response.status_code == 201
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 10080 * 60
    assert set(body) == {
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "refresh_expires_in",
    }
    assert body["refresh_expires_in"] == 30 * 24 * 3600
    assert client.get("/users/me", headers=bearer(body["access_token"])).status_code == 200


def test_register_twice_with_the_same_email_in_any_case_is_409(client: TestClient) -> None:
    email = new_email()
    assert (
        client.post("/auth/register", json={"email": email, "password": PASSWORD}).status_code
        == 201
    )

    again = client.post("/auth/register", json={"email": email.upper(), "password": PASSWORD})

    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"


def test_email_is_stored_normalised(client: TestClient) -> None:
    email = new_email()
    token = client.post(
        "/auth/register", json={"email": f"  {email.upper()} ", "password": PASSWORD}
    ).json()["access_token"]

    assert client.get("/users/me", headers=bearer(token)).json()["email"] == email


def test_login_with_the_right_password_in_any_email_case(
    client: TestClient, user: dict[str, Any]
) -> None:
    response = client.post(
        "/auth/login", json={"email": user["email"].upper(), "password": PASSWORD}
    )

    assert response.status_code == 200
    assert client.get("/chats", headers=bearer(response.json()["access_token"])).status_code == 200


def test_wrong_password_and_unknown_email_get_the_same_401(
    client: TestClient, user: dict[str, Any]
) -> None:
    wrong = client.post(
        "/auth/login", json={"email": user["email"], "password": "not the password"}
    )
    unknown = client.post("/auth/login", json={"email": new_email(), "password": PASSWORD})

    assert wrong.status_code == unknown.status_code == 401
    assert _without_request_id(wrong.json()) == _without_request_id(unknown.json())


def _without_request_id(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "request_id"}


def test_register_rejects_bad_input_with_422(client: TestClient) -> None:
    cases: list[dict[str, Any]] = [
        {"email": "not-an-email", "password": PASSWORD},
        {"email": new_email(), "password": "short"},
        {"email": new_email()},
        {"email": new_email(), "password": 12345678901},
    ]
    for body in cases:
        response = client.post("/auth/register", json=body)
        assert response.status_code == 422, body
        assert response.json()["errors"], body


def test_no_response_carries_a_password_or_its_hash(
    client: TestClient, user: dict[str, Any]
) -> None:
    for path in ("/users/me", "/users/me/export"):
        text = client.get(path, headers=user["headers"]).text
        assert "password" not in text
        assert "$argon2" not in text


def _protected_status(client: TestClient, headers: dict[str, str]) -> tuple[int, str]:
    response = client.get("/chats", headers=headers)
    return response.status_code, response.headers.get("www-authenticate", "")


def test_protected_routes_refuse_missing_and_malformed_tokens(client: TestClient) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer not.a.jwt"},
    ):
        status, challenge = _protected_status(client, headers)
        assert status == 401, headers
        assert challenge.startswith("Bearer"), headers


def test_expired_and_foreign_tokens_are_401(client: TestClient, user: dict[str, Any]) -> None:
    claims = jwt.decode(user["token"], options={"verify_signature": False})
    expired = {**claims, "iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600}
    forged = jwt.encode(claims, "another secret that is long enough!!", algorithm="HS256")

    for token in (jwt.encode(expired, "supersecret", algorithm="HS256"), forged):
        status, challenge = _protected_status(client, bearer(token))
        assert (status, challenge) == (401, 'Bearer error="invalid_token"')


def test_token_of_a_deleted_user_stops_working(client: TestClient, user: dict[str, Any]) -> None:
    response = client.request(
        "DELETE", "/users/me", json={"password": PASSWORD}, headers=user["headers"]
    )
    assert response.status_code == 204

    assert _protected_status(client, user["headers"])[0] == 401
