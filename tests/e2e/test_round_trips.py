"""How often each route talks to PostgreSQL. A route that starts doing extra queries fails here.

The count is taken on the wire: libpq traces every protocol message of every pooled
connection the app checks out (including the reset when it goes back to the pool),
and a round trip is one batch of client messages followed by the server's answers.
So a BEGIN or COMMIT of its own counts, a statement counts, and a psycopg pipeline
(several statements, one Sync) counts once.

The counts are exact on purpose: when a change makes a route cheaper, lower the
number here in the same commit; when a change makes it dearer, this test asks
whether that was meant.
"""

import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from adapters.sqlalchemy.database import ConnectionPool, PooledConnection
from tests.e2e.conftest import PASSWORD, bearer, make_client, new_email

_MESSAGE = re.compile(r"^(?=[FB]\t)", re.MULTILINE)


@dataclass
class RoundTrips:
    """What one connection (or several) said to the server, read from libpq's trace."""

    total: int = 0
    statements: list[str] = field(default_factory=list)  # what psycopg sent, in order

    def add(self, trace: str) -> None:
        previous = "B"
        # One message per entry; SQL may span lines, so split on the direction markers.
        for message in _MESSAGE.split(trace)[1:]:
            direction = message.partition("\t")[0]
            if direction == "F" and previous == "B":
                self.total += 1  # the client speaks again after an answer: a new round trip
            previous = direction

    def __repr__(self) -> str:
        return f"{self.total} round trips for: " + " | ".join(self.statements)


@contextmanager
def counting(pool: ConnectionPool) -> Iterator[RoundTrips]:
    """Count the round trips of every connection ``pool`` lends out in the block."""
    trips = RoundTrips()
    open_traces: dict[int, tuple[psycopg.AsyncConnection[Any], int | None, IO[bytes]]] = {}
    acquire, release = pool.acquire, pool.release

    async def checkout() -> PooledConnection:
        pooled = await acquire()
        driver = pooled.driver
        # psycopg prepares a statement on its 5th run on a connection, in a round trip of
        # its own: a one-off per connection, left out so the count is the steady state.
        threshold, driver.prepare_threshold = driver.prepare_threshold, None
        sink = tempfile.TemporaryFile()  # noqa: SIM115 (closed at checkin, by _finish)
        driver.pgconn.trace(sink.fileno())
        driver.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)
        open_traces[id(pooled)] = (driver, threshold, sink)
        return pooled

    async def checkin(pooled: PooledConnection) -> None:
        await release(pooled)  # the reset on the way back counts too
        traced = open_traces.pop(id(pooled), None)
        if traced is not None:
            _finish(*traced)

    def _finish(
        driver: psycopg.AsyncConnection[Any], threshold: int | None, sink: IO[bytes]
    ) -> None:
        if not driver.closed:
            driver.pgconn.untrace()  # flushes libpq's buffer into the file
        driver.prepare_threshold = threshold
        sink.seek(0)
        trips.add(sink.read().decode("utf-8", errors="replace"))
        sink.close()

    # Statements go to the cursor one at a time, or many rows at once: note both.
    execute, executemany = psycopg.AsyncCursor.execute, psycopg.AsyncCursor.executemany

    def noting(send: Any) -> Any:
        async def noted(cursor: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
            sql = query.decode() if isinstance(query, bytes) else str(query)
            trips.statements.append(" ".join(sql.split())[:60])
            return await send(cursor, query, *args, **kwargs)

        return noted

    pool.acquire, pool.release = checkout, checkin  # type: ignore[method-assign]
    psycopg.AsyncCursor.execute = noting(execute)  # type: ignore[method-assign]
    psycopg.AsyncCursor.executemany = noting(executemany)  # type: ignore[method-assign]
    try:
        yield trips
    finally:
        psycopg.AsyncCursor.execute = execute  # type: ignore[method-assign]
        psycopg.AsyncCursor.executemany = executemany  # type: ignore[method-assign]
        del pool.acquire, pool.release  # the class's methods again
        for traced in open_traces.values():
            _finish(*traced)


@pytest.fixture(scope="module", params=["throttling off", "throttling on"])
def api(request: pytest.FixtureRequest, database_url: str) -> Iterator[TestClient]:
    """The real app on the run's database, throttling off (as ``make bench``) or as shipped."""
    limits: dict[str, Any] = {}
    if request.param == "throttling on":
        limits = {
            "login_max_failures_per_email": 5,
            "login_max_failures_per_client": 50,
            "register_max_per_client": 1000,
        }
    with make_client(database_url, migrate_on_startup=False, **limits) as client:
        yield client


def _pool(client: TestClient) -> ConnectionPool:
    pool: ConnectionPool = client.app.state.container.storage().pool  # type: ignore[attr-defined]
    return pool


@dataclass
class Account:
    email: str
    headers: dict[str, str]
    chat_id: str
    refresh_token: str


@pytest.fixture
def account(api: TestClient) -> Account:
    email = new_email()
    registered = api.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert registered.status_code == 201, registered.text
    headers = bearer(registered.json()["access_token"])
    chat = api.post("/chats", json={"title": "Round trips"}, headers=headers)
    assert chat.status_code == 201, chat.text
    posted = api.post(
        f"/chats/{chat.json()['id']}/messages", json={"content": "hello"}, headers=headers
    )
    assert posted.status_code == 201, posted.text
    return Account(
        email=email,
        headers=headers,
        chat_id=chat.json()["id"],
        refresh_token=registered.json()["refresh_token"],
    )


def _request(api: TestClient, account: Account, route: str) -> tuple[int, RoundTrips]:
    chat = f"/chats/{account.chat_id}"
    calls: dict[str, Callable[[], Any]] = {
        "POST /auth/register": lambda: api.post(
            "/auth/register", json={"email": new_email(), "password": PASSWORD}
        ),
        "POST /auth/login": lambda: api.post(
            "/auth/login", json={"email": account.email, "password": PASSWORD}
        ),
        "POST /chats": lambda: api.post("/chats", json={"title": "x"}, headers=account.headers),
        "GET /chats": lambda: api.get("/chats", headers=account.headers),
        "POST /chats/{id}/messages": lambda: api.post(
            f"{chat}/messages", json={"content": "counted"}, headers=account.headers
        ),
        "GET /chats/{id}/messages": lambda: api.get(
            f"{chat}/messages?limit=50", headers=account.headers
        ),
        "GET /users/me": lambda: api.get("/users/me", headers=account.headers),
        "POST /auth/refresh": lambda: api.post(
            "/auth/refresh", json={"refresh_token": account.refresh_token}
        ),
        "POST /auth/logout": lambda: api.post("/auth/logout", headers=account.headers),
        "GET /users/me/sessions": lambda: api.get("/users/me/sessions", headers=account.headers),
    }
    with counting(_pool(api)) as trips:
        response = calls[route]()
    return response.status_code, trips


# route: (status, round trips with throttling off, with throttling on). Before the unit of
# work went autocommit-until-a-write with pipelined commits, the same count read 8, 5, 7,
# 7, 9, 8 and 7 (11 and 5 throttled): BEGIN, ROLLBACK and DEALLOCATE ALL each cost one.
# The chat and message routes then stopped looking the user up before the use case
# (IdentifyCaller): one fewer each. GET /users/me keeps that lookup. A page of messages
# then became one statement (the ownership check is a condition of the page's query).
# Throttles then counted each attempt before hashing (one upsert that answers the count)
# instead of reading the counters first: no read of the counters left, and a login that
# succeeds gives its reserved attempts back in one pipelined commit.
# Sessions: the chat and message routes check the session inside the statements they
# already ran (no change); a login stores its session (one more: the pipelined insert),
# a registration stores it with the account (no change). A refresh is one statement.
EXPECTED: dict[str, tuple[int, int, int]] = {
    "POST /auth/register": (201, 2, 3),
    "POST /auth/login": (200, 2, 4),
    "POST /auth/refresh": (200, 1, 1),
    "POST /auth/logout": (204, 1, 1),
    "GET /users/me/sessions": (200, 2, 2),
    "POST /chats": (201, 1, 1),
    "GET /chats": (200, 1, 1),
    "POST /chats/{id}/messages": (201, 2, 2),
    "GET /chats/{id}/messages": (200, 1, 1),
    "GET /users/me": (200, 2, 2),
}


@pytest.mark.parametrize("route", list(EXPECTED))
def test_each_route_makes_exactly_its_round_trips(
    api: TestClient, account: Account, route: str, request: pytest.FixtureRequest
) -> None:
    status, off, on = EXPECTED[route]
    throttled = request.node.callspec.params["api"] == "throttling on"

    got_status, trips = _request(api, account, route)

    assert got_status == status
    assert trips.total == (on if throttled else off), trips


def test_a_foreign_chat_is_refused_before_anything_is_written(
    api: TestClient, account: Account
) -> None:
    """Someone else's chat: the owner check misses and nothing goes to the database after it."""
    stranger = api.post("/auth/register", json={"email": new_email(), "password": PASSWORD})
    headers = bearer(stranger.json()["access_token"])

    with counting(_pool(api)) as trips:
        response = api.post(
            f"/chats/{account.chat_id}/messages", json={"content": "x"}, headers=headers
        )

    assert response.status_code == 404
    assert not any(sql.startswith(("INSERT", "UPDATE", "COMMIT")) for sql in trips.statements)
