"""Faults survived: a database outage or restart mid-load, a database away, SIGTERM."""

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

# A request's start time (monotonic), its status (0: no answer), what it sent and got.
Entry = tuple[float, int, tuple[str, Any]]

# Requests that start this long after PostgreSQL is back must all succeed.
RECOVERY_SECONDS = 2.0


def _session(base_url: str) -> tuple[httpx2.Client, str]:
    client = httpx2.Client(base_url=base_url, timeout=15)
    token = client.post("/auth/register", json={"email": new_email(), "password": PASSWORD}).json()[
        "access_token"
    ]
    client.headers["Authorization"] = f"Bearer {token}"
    chat_id: str = client.post("/chats", json={}).json()["id"]
    return client, chat_id


def _post_until(
    stop: threading.Event,
    client: httpx2.Client,
    chat_id: str,
    log: list[Entry],
    pause: float = 0.0,
) -> None:
    n = 0
    while not stop.is_set():
        n += 1
        content = f"{chat_id} #{n}"
        started = time.monotonic()
        try:
            response = client.post(f"/chats/{chat_id}/messages", json={"content": content})
            log.append((started, response.status_code, (content, response.json())))
        except httpx2.TransportError:
            log.append((started, 0, (content, None)))
        stop.wait(pause)


def _under_load(
    sessions: list[tuple[httpx2.Client, str]], fault: Callable[[], None], pause: float = 0.0
) -> tuple[list[Entry], float]:
    """Post from every session while ``fault`` runs; the log and when the database was back."""
    logs: list[list[Entry]] = [[] for _ in sessions]
    stop = threading.Event()
    with ThreadPoolExecutor(len(sessions)) as pool:
        for (client, chat_id), log in zip(sessions, logs, strict=True):
            pool.submit(_post_until, stop, client, chat_id, log, pause)
        time.sleep(1.5)
        fault()
        back = time.monotonic()
        time.sleep(RECOVERY_SECONDS + 3)
        stop.set()
    return [entry for log in logs for entry in log], back


def _assert_nothing_acknowledged_was_lost(database_url: str, entries: list[Entry]) -> None:
    statuses = {status for _, status, _ in entries}
    assert statuses <= {201, 503}, statuses  # failures are clean 503s, never 500s
    acknowledged = [body for _, status, body in entries if status == 201]
    with psycopg.connect(database_url) as connection:
        stored_users = {
            row[0] for row in connection.execute("SELECT content FROM messages WHERE role = 'user'")
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
    assert all(users == replies for _, users, replies in per_chat), per_chat  # no half exchange


def _failed_after(entries: list[Entry], moment: float) -> list[Entry]:
    return [entry for entry in entries if entry[0] > moment and entry[1] != 201]


def _served_after(entries: list[Entry], moment: float) -> list[Entry]:
    return [entry for entry in entries if entry[0] > moment and entry[1] == 201]


METRICS_TOKEN = "resilience-scraper-" + "0123456789abcdef" * 2


def _idle_connections(client: httpx2.Client) -> float:
    scraper = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    for line in client.get("/metrics", headers=scraper).text.splitlines():
        if line.startswith("db_pool_idle "):
            return float(line.split()[1])
    raise AssertionError("no db_pool_idle in /metrics")


def test_a_four_second_outage_under_load_recovers_at_once() -> None:
    with scratch_postgres() as database, api_server(database.url) as api:
        sessions = [_session(api.base_url) for _ in range(6)]

        def outage() -> None:
            database.stop()
            time.sleep(4)
            database.start()

        entries, back = _under_load(sessions, outage)

        _assert_nothing_acknowledged_was_lost(database.url, entries)
        assert _served_after(entries, back), "the API never served again"
        assert _failed_after(entries, back + RECOVERY_SECONDS) == []


def test_a_quick_restart_replaces_a_pool_full_of_dead_connections() -> None:
    """The first request that finds a dead connection retires all of them, not just its own.

    Otherwise every idle connection fails one more request, and at a modest request rate
    that goes on long after the database is back.
    """
    with (
        scratch_postgres() as database,
        api_server(database.url, METRICS_TOKEN=METRICS_TOKEN) as api,
    ):
        sessions = [_session(api.base_url) for _ in range(3)]
        client, chat_id = sessions[0]
        with ThreadPoolExecutor(48) as burst:  # open many connections at once
            list(
                burst.map(
                    lambda n: client.post(f"/chats/{chat_id}/messages", json={"content": f"{n}"}),
                    range(96),
                )
            )
        idle = _idle_connections(client)
        assert idle > len(sessions), f"the burst left only {idle:g} connections to go stale"

        entries, back = _under_load(sessions, database.restart, pause=0.5)

        _assert_nothing_acknowledged_was_lost(database.url, entries)
        assert _served_after(entries, back), "the API never served again"
        # At most the requests already in flight when the first one found out.
        assert len(_failed_after(entries, back)) <= len(sessions)
        assert _failed_after(entries, back + RECOVERY_SECONDS) == []


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
