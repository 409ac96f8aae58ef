"""The real app on the run's throwaway PostgreSQL database, driven over HTTP."""

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from entrypoints.container import Container
from entrypoints.http.app import create_app
from entrypoints.settings import Settings
from tests.conftest import RUN_DATABASE_URL, RUN_MIGRATION_DATABASE_URL

PASSWORD = "a perfectly fine passphrase"

# Throttling is exercised by its own tests; here one client address registers a lot.
NO_LIMITS: dict[str, Any] = {
    "login_max_failures_per_email": 0,
    "login_max_failures_per_client": 0,
    "register_max_per_client": 0,
    "password_reset_max_per_email": 0,
    "password_reset_max_per_client": 0,
}


def make_app(database_url: str, **overrides: Any) -> FastAPI:
    if database_url == RUN_DATABASE_URL:
        # Migrations on the direct connection, as a deployment behind a pooler has them.
        overrides.setdefault("migration_database_url", RUN_MIGRATION_DATABASE_URL)
    settings = Settings(database_url=database_url, **{**NO_LIMITS, **overrides})
    return create_app(Container(settings=settings))


def make_client(database_url: str, peer: str = "testclient", **overrides: Any) -> TestClient:
    return TestClient(
        make_app(database_url, **overrides), raise_server_exceptions=False, client=(peer, 50000)
    )


@pytest.fixture(scope="session")
def client(database_url: str) -> Iterator[TestClient]:
    with make_client(database_url) as test_client:
        yield test_client


def new_email() -> str:
    return f"user-{uuid.uuid4().hex[:10]}@example.com"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def register(client: TestClient) -> Callable[..., dict[str, Any]]:
    """Register a fresh user; returns ``{"email", "token", "headers"...}``."""

    def _register(email: str | None = None, password: str = PASSWORD) -> dict[str, Any]:
        email = email or new_email()
        response = client.post("/auth/register", json={"email": email, "password": password})
        assert response.status_code == 201, response.text
        token: str = response.json()["access_token"]
        return {"email": email, "token": token, "headers": bearer(token)}

    return _register


@pytest.fixture
def user(register: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    created: dict[str, Any] = register()
    return created


@pytest.fixture
def chat(client: TestClient, user: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/chats", json={"title": "Trip"}, headers=user["headers"])
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created
