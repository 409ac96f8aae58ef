"""The OpenAPI document names the spec's schemas and documents every parameter and header."""

from typing import Any

from fastapi.testclient import TestClient


def _operation(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    operation: dict[str, Any] = document["paths"][path][method]
    return operation


def _parameters(operation: dict[str, Any]) -> set[tuple[str, str]]:
    return {(p["in"], p["name"]) for p in operation.get("parameters", [])}


def test_the_spec_schema_names_are_published(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]

    for name in (
        "UserCreate",
        "UserLogin",
        "TokenResponse",
        "ChatCreate",
        "ChatResponse",
        "MessageCreate",
        "MessageResponse",
        "Problem",
        "RefreshRequest",
        "PasswordChange",
        "SessionResponse",
    ):
        assert name in schemas, name
    assert not any("password_hash" in str(schema) for schema in schemas.values())


def test_parameters_headers_and_codes_are_documented(client: TestClient) -> None:
    document = client.get("/openapi.json").json()

    for path in ("/chats", "/chats/{chat_id}/messages"):
        post = _operation(document, "post", path)
        assert ("header", "Idempotency-Key") in _parameters(post)
        assert {"201", "401", "413", "422"} <= set(post["responses"])
        get = _operation(document, "get", path)
        assert {("query", "limit"), ("query", "cursor")} <= _parameters(get)
        assert "Link" in get["responses"]["200"]["headers"]
        assert {"400", "401", "422"} <= set(get["responses"])
    messages = _operation(document, "get", "/chats/{chat_id}/messages")
    assert ("query", "order") in _parameters(messages)
    assert "404" in messages["responses"]
    assert "429" in _operation(document, "post", "/auth/login")["responses"]
    assert "409" in _operation(document, "post", "/auth/register")["responses"]
    assert "403" in _operation(document, "delete", "/users/me")["responses"]
    # Sessions and passwords.
    assert {"200", "401", "422"} <= set(_operation(document, "post", "/auth/refresh")["responses"])
    assert {"204", "401"} <= set(_operation(document, "post", "/auth/logout")["responses"])
    assert {"204", "401", "403", "422"} <= set(
        _operation(document, "put", "/users/me/password")["responses"]
    )
    assert {"200", "401"} <= set(_operation(document, "get", "/users/me/sessions")["responses"])
    assert {"204", "401"} <= set(_operation(document, "delete", "/users/me/sessions")["responses"])
    revoke = _operation(document, "delete", "/users/me/sessions/{session_id}")
    assert {"204", "401", "404"} <= set(revoke["responses"])
    login = _operation(document, "post", "/auth/login")["responses"]["200"]
    token = login["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    fields = document["components"]["schemas"][token]["properties"]
    assert {"refresh_token", "refresh_expires_in"} <= set(fields)


def test_every_route_that_needs_a_token_says_so_and_only_those(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert document["components"]["securitySchemes"] == {
        "HTTPBearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "The access token from /auth/login.",
        }
    }
    public = {
        "/auth/register",
        "/auth/login",
        "/auth/refresh",
        "/auth/password-reset",
        "/auth/password-reset/confirm",
        "/health",
        "/ready",
    }
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            expected: list[dict[str, list[str]]] = [] if path in public else [{"HTTPBearer": []}]
            assert operation.get("security", []) == expected, (method, path)


def test_the_password_reset_routes_document_bodies_and_answers(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]

    ask = _operation(document, "post", "/auth/password-reset")
    assert {"202", "422", "429", "503"} <= set(ask["responses"])
    assert ask["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/PasswordResetRequest"
    )
    accepted = ask["responses"]["202"]["content"]["application/json"]["schema"]
    assert accepted["$ref"].endswith("/PasswordResetAccepted")

    confirm = _operation(document, "post", "/auth/password-reset/confirm")
    assert {"204", "400", "422"} <= set(confirm["responses"])
    assert "content" not in confirm["responses"]["204"]
    assert confirm["responses"]["400"]["content"]["application/problem+json"]
    assert set(schemas["PasswordResetConfirm"]["required"]) == {"token", "new_password"}
    assert schemas["PasswordResetRequest"]["required"] == ["email"]
