"""Forged, altered and expired bearer tokens never get in."""

import base64
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient

SECRET = "supersecret"  # the app under test runs with the committed .env's secret
ROOT = Path(__file__).resolve().parents[2]


def _claims(user: dict[str, Any], **changes: Any) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(user["token"], options={"verify_signature": False})
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _unsigned(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def _forgeries(user: dict[str, Any]) -> dict[str, str]:
    now = int(time.time())
    return {
        "alg none": _unsigned(_claims(user)),
        "HS512": jwt.encode(_claims(user), SECRET, algorithm="HS512"),
        "wrong issuer": jwt.encode(_claims(user, iss="someone-else"), SECRET, algorithm="HS256"),
        "wrong audience": jwt.encode(_claims(user, aud="other-api"), SECRET, algorithm="HS256"),
        "expired": jwt.encode(
            _claims(user, exp=now - 10, iat=now - 100), SECRET, algorithm="HS256"
        ),
        "other secret": jwt.encode(_claims(user), "x" * 40, algorithm="HS256"),
        "garbage subject": jwt.encode(_claims(user, sub="not-a-uuid"), SECRET, algorithm="HS256"),
        "unknown subject": jwt.encode(
            _claims(user, sub=str(uuid.uuid4())), SECRET, algorithm="HS256"
        ),
        "no jti": jwt.encode(_claims(user, jti=None), SECRET, algorithm="HS256"),
        "no exp": jwt.encode(_claims(user, exp=None), SECRET, algorithm="HS256"),
    }


def test_the_genuine_token_works(client: TestClient, user: dict[str, Any]) -> None:
    assert client.get("/users/me", headers=user["headers"]).status_code == 200


@pytest.mark.parametrize(
    "kind",
    [
        "alg none",
        "HS512",
        "wrong issuer",
        "wrong audience",
        "expired",
        "other secret",
        "garbage subject",
        "unknown subject",
        "no jti",
        "no exp",
    ],
)
def test_forged_tokens_are_refused(client: TestClient, user: dict[str, Any], kind: str) -> None:
    token = _forgeries(user)[kind]

    response = client.get("/users/me", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def _python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _build_app(**env: str) -> subprocess.CompletedProcess[str]:
    """What ``uvicorn --factory entrypoints.http.app:production_app`` does first."""
    return _python("from entrypoints.http.app import production_app; production_app()", **env)


def test_importing_the_app_module_builds_nothing() -> None:
    """No settings read, no logging configured: a test or a tool may import it freely."""
    code = (
        "import logging, entrypoints.http.app; "
        "assert not logging.getLogger().handlers, logging.getLogger().handlers"
    )
    result = _python(code, APP_ENV="production", JWT_SECRET="supersecret")

    assert result.returncode == 0, result.stderr
    assert result.stdout == ""


def test_production_refuses_the_dev_secret_with_one_clear_line() -> None:
    result = _build_app(APP_ENV="production", JWT_SECRET="supersecret")

    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "Refusing to start in production" in result.stderr
    assert "Traceback" not in result.stderr


def test_production_refuses_a_short_secret() -> None:
    result = _build_app(APP_ENV="production", JWT_SECRET="x" * 31)

    assert result.returncode == 1
    assert "JWT_SECRET" in result.stderr


def test_production_starts_with_a_long_secret() -> None:
    assert _build_app(APP_ENV="production", JWT_SECRET="k" * 32).returncode == 0


_MALFORMED = [
    ("POST", "/chats/not-a-uuid/messages", {"content": 5}),
    ("GET", "/chats/not-a-uuid/messages?limit=0", None),
    ("POST", "/chats", {"title": ["not", "a", "title"]}),
]


@pytest.mark.parametrize(("method", "path", "body"), _MALFORMED)
@pytest.mark.parametrize("authorization", ["", "Basic dXNlcjpwYXNz", "Bearer ", "alg none"])
def test_the_token_is_checked_before_anything_else_of_the_request(
    client: TestClient,
    user: dict[str, Any],
    method: str,
    path: str,
    body: Any,
    authorization: str,
) -> None:
    if authorization == "alg none":
        authorization = f"Bearer {_forgeries(user)['alg none']}"
    headers = {"Authorization": authorization} if authorization else {}

    refused = client.request(method, path, json=body, headers=headers)
    with_token = client.request(method, path, json=body, headers=user["headers"])

    assert refused.status_code == 401, refused.text
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert with_token.status_code == 422  # the same request, once the caller is known
