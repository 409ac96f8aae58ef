"""Two API processes on one database: what one instance knows, the other knows too.

A deployment runs N identical instances behind a load balancer, and a client's retry
or next request may land on any of them. So nothing another instance must see may live
in one process: idempotency records, throttle counts and revocations are in PostgreSQL.
(Under ``make topology-test`` both instances go through PgBouncer.)
"""

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx2
import psycopg
import pytest

from tests.e2e.conftest import PASSWORD, bearer, new_email
from tests.e2e.servers import api_server

MAX_FAILURES = 3


@pytest.fixture(scope="module")
def instances(database_url: str, migration_database_url: str) -> Iterator[list[httpx2.Client]]:
    env = {
        "MIGRATION_DATABASE_URL": migration_database_url,
        "LOGIN_MAX_FAILURES_PER_EMAIL": str(MAX_FAILURES),
    }
    with ExitStack() as stack:
        servers = [stack.enter_context(api_server(database_url, **env)) for _ in range(2)]
        clients = [
            stack.enter_context(httpx2.Client(base_url=server.base_url, timeout=30))
            for server in servers
        ]
        yield clients


def _register(api: httpx2.Client) -> tuple[str, dict[str, str]]:
    email = new_email()
    response = api.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    return email, bearer(response.json()["access_token"])


def _login(api: httpx2.Client, email: str, password: str = PASSWORD) -> httpx2.Response:
    return api.post("/auth/login", json={"email": email, "password": password})


def test_the_instances_are_two_processes(instances: list[httpx2.Client]) -> None:
    first, second = instances
    assert first.base_url != second.base_url
    assert first.get("/ready").status_code == second.get("/ready").status_code == 200


def test_a_retry_on_the_other_instance_returns_the_first_reply(
    instances: list[httpx2.Client], database_url: str
) -> None:
    first, second = instances
    _, headers = _register(first)
    chat_id = first.post("/chats", json={}, headers=headers).json()["id"]
    retry: dict[str, Any] = {
        "url": f"/chats/{chat_id}/messages",
        "json": {"content": "asked once"},
        "headers": {**headers, "Idempotency-Key": "lost-reply-1"},
    }

    original = first.post(**retry)
    retried = second.post(**retry)

    assert original.status_code == retried.status_code == 201
    assert retried.json() == original.json()
    with psycopg.connect(database_url) as connection:
        stored = connection.execute(
            "SELECT count(*) FROM messages WHERE chat_id = %s", (chat_id,)
        ).fetchone()
    assert stored == (2,)  # one question, one answer


def test_the_login_throttle_counts_failures_made_on_both(
    instances: list[httpx2.Client],
) -> None:
    first, second = instances
    email, _ = _register(first)
    turns = (first, second, first)  # MAX_FAILURES in all, on both instances
    failures = [_login(api, email, "wrong password").status_code for api in turns]
    assert failures == [401] * MAX_FAILURES

    assert _login(second, email).status_code == 429
    assert _login(first, email).status_code == 429


def test_an_account_deleted_on_one_instance_is_gone_on_the_other(
    instances: list[httpx2.Client],
) -> None:
    first, second = instances
    _, headers = _register(first)
    assert second.get("/users/me", headers=headers).status_code == 200  # now known to both

    deleted = first.request("DELETE", "/users/me", json={"password": PASSWORD}, headers=headers)

    assert deleted.status_code == 204
    assert second.get("/users/me", headers=headers).status_code == 401
    assert second.get("/chats", headers=headers).status_code == 401
