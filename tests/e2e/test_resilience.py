"""Faults survived: a database restart mid-load, a database that is away, SIGTERM."""

import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx2
import psycopg
import pytest

from tests.e2e.conftest import PASSWORD, new_email
from tests.e2e.servers import ApiServer, api_server, scratch_postgres


def _session(base_url: str) -> tuple[httpx2.Client, str]:
    client = httpx2.Client(base_url=base_url, timeout=15)
    token = client.post("/auth/register", json={"email": new_email(), "password": PASSWORD}).json()[
        "access_token"
    ]
    client.headers["Authorization"] = f"Bearer {token}"
    chat_id: str = client.post("/chats", json={}).json()["id"]
    return client, chat_id


def _post_until(
    stop: threading.Event, client: httpx2.Client, chat_id: str, log: list[tuple[float, int, Any]]
) -> None:
    n = 0
    while not stop.is_set():
        n += 1
        content = f"{chat_id} #{n}"
        try:
            response = client.post(f"/chats/{chat_id}/messages", json={"content": content})
            log.append((time.monotonic(), response.status_code, (content, response.json())))
        except httpx2.TransportError:
            log.append((time.monotonic(), 0, (content, None)))


def test_a_database_restart_mid_load_loses_nothing_acknowledged() -> None:
    with scratch_postgres() as database, api_server(database.url) as api:
        sessions = [_session(api.base_url) for _ in range(6)]
        logs: list[list[tuple[float, int, Any]]] = [[] for _ in sessions]
        stop = threading.Event()
        with ThreadPoolExecutor(len(sessions)) as pool:
            for (client, chat_id), log in zip(sessions, logs, strict=True):
                pool.submit(_post_until, stop, client, chat_id, log)
            time.sleep(1.5)
            database.restart()
            restarted = time.monotonic()
            time.sleep(4)
            stop.set()

        entries = [entry for log in logs for entry in log]
        statuses = {status for _, status, _ in entries}
        assert statuses <= {201, 503}, statuses  # failures are clean 503s, never 500s
        acknowledged = [body for _, status, body in entries if status == 201]
        recovered = [at for at, status, _ in entries if status == 201 and at > restarted]
        assert recovered, "the API never served again after the restart"
        assert min(recovered) - restarted < 5

        with psycopg.connect(database.url) as connection:
            stored_users = {
                row[0]
                for row in connection.execute("SELECT content FROM messages WHERE role = 'user'")
            }
            stored_replies = {
                str(row[0])
                for row in connection.execute("SELECT id FROM messages WHERE role = 'assistant'")
            }
            per_chat = connection.execute(
                "SELECT chat_id, count(*) FILTER (WHERE role = 'user'), "
                "count(*) FILTER (WHERE role = 'assistant') FROM messages GROUP BY chat_id"
            ).fetchall()
        for content, reply in acknowledged:
            assert content in stored_users
            assert reply["id"] in stored_replies
        assert all(users == replies for _, users, replies in per_chat), per_chat


def test_database_away_means_fast_503s_and_recovery_without_restart() -> None:
    with (
        scratch_postgres() as database,
        api_server(
            database.url, DB_CONNECT_TIMEOUT_SECONDS="2", DB_POOL_TIMEOUT_SECONDS="2"
        ) as api,
    ):
        client, chat_id = _session(api.base_url)
        database.stop()

        started = time.monotonic()
        down = client.post(f"/chats/{chat_id}/messages", json={"content": "while away"})
        assert time.monotonic() - started < 10
        assert down.status_code == 503
        assert down.headers["content-type"] == "application/problem+json"
        assert int(down.headers["Retry-After"]) > 0
        assert client.get("/ready").status_code == 503
        assert client.get("/health").status_code == 200

        database.start()
        statuses = [
            client.post(f"/chats/{chat_id}/messages", json={"content": "back"}).status_code
            for _ in range(3)
        ]
        assert statuses[-1] == 201
        assert client.get("/ready").status_code == 200


def test_sigterm_finishes_in_flight_requests_then_exits(database_url: str) -> None:
    api = ApiServer(database_url)
    try:
        api.wait_ready()
        email = new_email()
        client = httpx2.Client(base_url=api.base_url, timeout=30)
        client.post("/auth/register", json={"email": email, "password": PASSWORD})

        def login() -> int:
            body = {"email": email, "password": PASSWORD}
            return client.post("/auth/login", json=body).status_code

        with ThreadPoolExecutor(6) as pool:
            futures = [pool.submit(login) for _ in range(6)]
            time.sleep(0.2)  # Argon2 keeps them in flight
            exit_code = api.terminate()
            results: list[Callable[[], int]] = [f.result for f in futures]
            assert [result() for result in results] == [200] * 6
        # uvicorn re-raises the signal once it has shut down cleanly.
        assert exit_code in (0, -signal.SIGTERM)
        with pytest.raises(httpx2.TransportError):
            httpx2.get(f"{api.base_url}/health", timeout=2)
    finally:
        api.kill()
