"""Reading a page is an index range scan, whatever the chat's length."""

import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from psycopg import sql

from adapters.sqlalchemy.database import ConnectionPool, PoolSettings, connect_arguments
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from domain.chats import Chat
from domain.paging import Order, PageRequest
from domain.sessions import Caller
from domain.users import User

MESSAGES = 200_000
OTHER_CHATS = 10_000
OTHER_SESSIONS = 10_000


@pytest.fixture(scope="module")
async def long_chat(database_url: str) -> Chat:
    """A chat with 200,000 messages among 10,000 chats and sessions, with fresh statistics.

    The planner's choice depends on the tables' sizes and statistics, so the test
    sets up both itself: whatever ran before on this database (a few chats, stale
    statistics) must not decide the plan. On a table of a few rows a sequential
    scan is the right plan; on a production-sized one it is not.
    """
    user = User(email=f"{uuid.uuid4().hex}@example.com", password_hash="x")
    chat, other = Chat(user_id=user.id, title="long"), Chat(user_id=user.id, title="other")
    # Loading the data is not what is under test; on a busy machine it may take
    # longer than the application's statement timeout, so its own connection has none.
    arguments = connect_arguments(database_url, PoolSettings(statement_timeout_ms=0))
    connect = psycopg.AsyncConnection.connect(**arguments)
    async with await connect as connection, connection.transaction():
        await connection.execute(
            "INSERT INTO users VALUES (%(id)s, %(email)s, 'x', now())",
            {"id": user.id, "email": user.email},
        )
        for c in (chat, other):
            await connection.execute(
                "INSERT INTO chats VALUES (%(id)s, %(user_id)s, 't', now(), now())",
                {"id": c.id, "user_id": user.id},
            )
        await connection.execute(
            "INSERT INTO chats SELECT gen_random_uuid(), %(user_id)s, 'filler', now(), now() "
            "FROM generate_series(1, %(count)s)",
            {"user_id": user.id, "count": OTHER_CHATS},
        )
        await connection.execute(
            "INSERT INTO sessions (id, user_id, refresh_hash, created_at, "
            "last_used_at, expires_at) SELECT gen_random_uuid(), %(user_id)s, "
            "md5(n::text) || md5('s' || n), now(), now(), now() + interval '1 day' "
            "FROM generate_series(1, %(count)s) AS n",
            {"user_id": user.id, "count": OTHER_SESSIONS},
        )
        await connection.execute(
            "INSERT INTO messages (id, chat_id, user_id, role, content, created_at) "
            "SELECT gen_random_uuid(), CASE WHEN n %% 10 = 0 THEN %(other)s ELSE %(chat)s END, "
            "%(user_id)s, 'user', 'm' || n, now() - n * interval '1 ms' "
            "FROM generate_series(1, %(count)s) AS n",
            {"chat": chat.id, "other": other.id, "user_id": user.id, "count": MESSAGES},
        )
        # Every table the page's query touches gets statistics of the data above.
        for table in ("users", "sessions", "chats", "messages"):
            await connection.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))
    return chat


async def _plan_of_page(
    pool: ConnectionPool,
    run: Callable[[SqlAlchemyUnitOfWork], Any],
    monkeypatch: pytest.MonkeyPatch,
) -> Any:
    """Capture the SQL a repository call sends, then EXPLAIN exactly that.

    Captured where every statement goes, SQLAlchemy's or precompiled: psycopg's cursor.
    """
    captured: list[tuple[str, Any]] = []
    execute = psycopg.AsyncCursor.execute

    async def capture(cursor: Any, query: Any, params: Any = None, **kwargs: Any) -> Any:
        sql = query.decode() if isinstance(query, bytes) else str(query)
        if sql.lstrip().upper().startswith("SELECT") and "messages" in sql:
            captured.append((sql, params))
        return await execute(cursor, query, params, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(psycopg.AsyncCursor, "execute", capture)
        async with SqlAlchemyUnitOfWork(pool) as uow:
            await run(uow)
    statement, params = captured[-1]
    async with pool.connection() as connection:
        await connection.cursor.execute(f"EXPLAIN (FORMAT JSON) {statement}".encode(), params)
        row = await connection.cursor.fetchone()
        assert row is not None
        return row[0][0]["Plan"]


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(n for child in plan.get("Plans", []) for n in _nodes(child))]


@pytest.mark.parametrize("owned", [False, True], ids=["any chat", "owner checked"])
@pytest.mark.parametrize("order", list(Order))
async def test_a_page_of_messages_is_an_index_scan_without_sorting(
    pool: ConnectionPool,
    long_chat: Chat,
    order: Order,
    owned: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The owner as a request's caller: the page also carries the live-session condition.
    owner = Caller(long_chat.user_id, uuid.uuid4()) if owned else None

    async def first_then_next(uow: SqlAlchemyUnitOfWork) -> None:
        first = await uow.messages.list_in_chat(long_chat.id, PageRequest(limit=50, order=order))
        await uow.messages.list_in_chat(
            long_chat.id, PageRequest(limit=50, after=first.next, order=order), owner=owner
        )

    plan = await _plan_of_page(pool, first_then_next, monkeypatch)

    nodes = _nodes(plan)
    assert any(
        n.get("Index Name") == "ix_messages_chat_id_created_at_id"
        and n["Node Type"] in {"Index Scan", "Index Scan Backward"}
        for n in nodes
    ), nodes
    assert not any(n["Node Type"] in {"Sort", "Seq Scan"} for n in nodes)
    assert plan["Node Type"] == "Limit"
    assert plan["Plan Rows"] <= 51
