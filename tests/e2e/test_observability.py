"""Request ids, structured access logs without secrets, and Prometheus metrics."""

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from entrypoints.logs import JsonFormatter
from tests.e2e.conftest import PASSWORD, bearer, make_client, new_email

SECRET_PASSWORD = "unmistakable passphrase 7731"
SECRET_CONTENT = "my bank PIN is 4921, remember it"


def test_request_id_is_generated_or_echoed(client: TestClient) -> None:
    generated = client.get("/health").headers["X-Request-ID"]
    assert len(generated) >= 16

    echoed = client.get("/health", headers={"X-Request-ID": "trace-abc.123"})
    assert echoed.headers["X-Request-ID"] == "trace-abc.123"

    hostile = client.get("/health", headers={"X-Request-ID": "bad id\twith\nstuff" * 20})
    assert hostile.headers["X-Request-ID"] != "bad id\twith\nstuff" * 20


def test_error_bodies_carry_the_request_id(client: TestClient) -> None:
    response = client.get("/chats", headers={"X-Request-ID": "req-42"})

    assert response.status_code == 401
    assert response.json()["request_id"] == "req-42"


def test_a_full_session_logs_one_line_per_request_and_no_secrets(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    email = new_email()
    token = client.post(
        "/auth/register", json={"email": email, "password": SECRET_PASSWORD}
    ).json()["access_token"]
    client.post("/auth/login", json={"email": email, "password": SECRET_PASSWORD})
    client.post("/auth/login", json={"email": email, "password": SECRET_PASSWORD + "x"})
    headers = {"Authorization": f"Bearer {token}"}
    chat = client.post("/chats", json={"title": "private"}, headers=headers).json()
    client.post(f"/chats/{chat['id']}/messages", json={"content": SECRET_CONTENT}, headers=headers)
    client.get(f"/chats/{chat['id']}/messages", headers=headers)
    client.post(f"/chats/{chat['id']}/messages", json={"content": ""}, headers=headers)

    formatter = JsonFormatter()
    lines = [formatter.format(record) for record in caplog.records]
    everything = "\n".join(lines)
    for secret in (SECRET_PASSWORD, token, token.split(".")[2], SECRET_CONTENT):
        assert secret not in everything

    access = [json.loads(line) for line in lines if '"memory_agent.access"' in line]
    assert len(access) == 7
    post = next(a for a in access if a["route"] == "/chats/{chat_id}/messages")
    assert post["method"] == "POST"
    assert post["status"] == 201
    assert post["user_id"] == chat["user_id"]
    assert post["duration_ms"] >= 0
    assert post["request_id"]
    assert chat["id"] not in post["route"]


def _metric(text: str, name: str, **labels: str) -> float:
    """The sample's value, or 0 when the series does not exist yet."""
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


METRICS_TOKEN = "a-scraper-token-" + "0123456789abcdef" * 2
SCRAPER = {"Authorization": f"Bearer {METRICS_TOKEN}"}


@pytest.fixture(scope="module")
def metered(database_url: str) -> Iterator[TestClient]:
    with make_client(database_url, metrics_token=METRICS_TOKEN) as metered_client:
        yield metered_client


def test_metrics_count_requests_by_route_and_status(metered: TestClient) -> None:
    client = metered
    registered = client.post("/auth/register", json={"email": new_email(), "password": PASSWORD})
    headers = bearer(registered.json()["access_token"])
    before = client.get("/metrics", headers=SCRAPER).text
    start = _metric(before, "http_requests_total", route="/chats", status="200", method="GET")

    client.get("/chats", headers=headers)
    client.get("/chats", headers=headers)
    after = client.get("/metrics", headers=SCRAPER)

    assert after.status_code == 200
    count = _metric(after.text, "http_requests_total", route="/chats", status="200", method="GET")
    assert count == start + 2
    assert _metric(after.text, "http_request_duration_seconds_count", route="/chats") >= 2
    assert "db_pool_checked_out" in after.text
    assert "db_pool_size" in after.text


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong", f"bearer {METRICS_TOKEN}x", METRICS_TOKEN, f"Basic {METRICS_TOKEN}"],
)
def test_metrics_want_the_token(metered: TestClient, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = metered.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "http_requests_total" not in response.text


def test_metrics_do_not_exist_without_a_token(client: TestClient) -> None:
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer anything"}).status_code == 404


@pytest.mark.parametrize(
    ("overrides", "served"),
    [
        ({"app_env": "production"}, False),
        ({"app_env": "production", "docs_enabled": True}, True),
        ({"app_env": "development"}, True),
        ({"app_env": "development", "docs_enabled": False}, False),
    ],
)
def test_docs_are_off_in_production_unless_enabled(
    database_url: str, overrides: dict[str, Any], served: bool
) -> None:
    secret = {"jwt_secret": "a-production-grade-secret-" + "0123456789abcdef" * 2}
    with make_client(database_url, migrate_on_startup=False, **secret, **overrides) as client:
        statuses = {path: client.get(path).status_code for path in DOCS}
    assert statuses == dict.fromkeys(DOCS, 200 if served else 404)


DOCS = ("/docs", "/redoc", "/openapi.json")


def test_ready_logs_nothing_per_call(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    client.get("/ready")  # anything said once, at the first call, is not per call
    with caplog.at_level(logging.DEBUG):
        for _ in range(3):
            assert client.get("/ready").status_code == 200
    said = [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.INFO]
    assert [line for line in said if line.startswith("alembic")] == []
