"""The pool: waiters served in arrival order and not forever, connections never handed
on in a state the next request could trip over."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
import pytest
from sqlalchemy import Float, bindparam, func, select, update

from adapters.sqlalchemy.database import ConnectionPool, PoolSettings
from adapters.sqlalchemy.statements import precompile
from adapters.sqlalchemy.tables import users
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from domain.errors import ServiceUnavailable
from domain.users import User


def _settings(width: int, checkout_timeout: float = 5.0) -> PoolSettings:
    return PoolSettings(size=width, max_overflow=0, checkout_timeout=checkout_timeout)


@asynccontextmanager
async def _pool(
    database_url: str, width: int, checkout_timeout: float = 5.0
) -> AsyncIterator[ConnectionPool]:
    pool = ConnectionPool(database_url, _settings(width, checkout_timeout))
    try:
        yield pool
    finally:
        await pool.close()


async def test_waiters_get_their_turn_in_arrival_order_and_newcomers_queue_behind(
    database_url: str,
) -> None:
    async with _pool(database_url, width=1) as pool:
        held = await pool.acquire()
        served: list[str] = []

        async def request(name: str) -> None:
            connection = await pool.acquire()
            served.append(name)
            await asyncio.sleep(0)  # hold the connection across a switch, as a query would
            await pool.release(connection)

        first = [asyncio.create_task(request(name)) for name in ("a", "b", "c")]
        await asyncio.sleep(0)  # all three are waiting now
        await pool.release(held)
        late = asyncio.create_task(request("late"))  # arrives as a turn frees: must not jump in
        await asyncio.gather(*first, late)
        assert served == ["a", "b", "c", "late"]
        assert pool.status().checked_out == 0
        assert pool.status().idle == 1  # one connection served all five


async def test_a_wait_longer_than_the_pool_timeout_is_service_unavailable(
    database_url: str,
) -> None:
    async with _pool(database_url, width=1, checkout_timeout=0.05) as pool:
        held = await pool.acquire()
        with pytest.raises(ServiceUnavailable):
            async with SqlAlchemyUnitOfWork(pool):
                pass
        await pool.release(held)
        async with SqlAlchemyUnitOfWork(pool) as work:  # the turn came back
            assert await work.users.exists(uuid.uuid4()) is False


def test_each_event_loop_gets_its_own_connections_and_turns(database_url: str) -> None:
    pool = ConnectionPool(database_url, _settings(width=1))

    async def one_turn() -> None:
        async with SqlAlchemyUnitOfWork(pool) as work:
            assert await work.users.exists(uuid.uuid4()) is False
        held = await pool.acquire()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.01):
                await pool.acquire()
        await pool.release(held)

    asyncio.run(one_turn())
    asyncio.run(one_turn())  # a second loop: no "bound to a different event loop"


async def test_a_request_cancelled_while_connecting_gives_its_turn_back(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    connect = psycopg.AsyncConnection.connect

    async def hang(*_args: Any, **_kwargs: Any) -> None:  # a database that stopped answering
        await asyncio.sleep(3600)

    async with _pool(database_url, width=1, checkout_timeout=0.5) as pool:

        async def use() -> None:
            async with SqlAlchemyUnitOfWork(pool):
                pass

        monkeypatch.setattr(psycopg.AsyncConnection, "connect", hang)
        attempt = asyncio.create_task(use())
        await asyncio.sleep(0.01)  # holding the only turn, stuck in connect
        attempt.cancel()
        with pytest.raises(asyncio.CancelledError):
            await attempt
        monkeypatch.setattr(psycopg.AsyncConnection, "connect", connect)
        await pool.release(await pool.acquire())  # would time out had the turn leaked
        assert pool.status().checked_out == 0


async def test_a_request_cancelled_mid_query_does_not_hand_its_connection_on(
    database_url: str,
) -> None:
    sleep = precompile(select(func.pg_sleep(bindparam("seconds", type_=Float))))
    async with _pool(database_url, width=1) as pool:

        async def slow_query() -> None:
            async with SqlAlchemyUnitOfWork(pool) as work:
                await work._statements.fetch(sleep, {"seconds": 5})

        query = asyncio.create_task(slow_query())
        await asyncio.sleep(0.3)  # the query is running on the pool's only connection
        query.cancel()
        with pytest.raises(asyncio.CancelledError):
            await query
        async with asyncio.timeout(3), SqlAlchemyUnitOfWork(pool) as work:
            # A fresh connection: the old one still owed the sleep's result.
            assert await work.users.exists(uuid.uuid4()) is False


async def test_a_request_cancelled_mid_commit_does_not_hand_its_connection_on(
    database_url: str, saved_user: User
) -> None:
    slow_write = precompile(
        update(users)
        .where(users.c.id == bindparam("user_id"))
        .where(func.pg_sleep(bindparam("seconds", type_=Float)).is_not(None))
        .values(email=users.c.email)
    )
    async with _pool(database_url, width=1) as pool:

        async def slow_commit() -> None:
            async with SqlAlchemyUnitOfWork(pool) as work:
                work._statements.write(slow_write, {"user_id": saved_user.id, "seconds": 5})
                await work.commit()

        commit = asyncio.create_task(slow_commit())
        await asyncio.sleep(0.3)  # BEGIN and the write went out in a pipeline; no answer yet
        commit.cancel()
        with pytest.raises(asyncio.CancelledError):
            await commit
        async with asyncio.timeout(3), SqlAlchemyUnitOfWork(pool) as work:
            assert await work.users.get(saved_user.id) == saved_user


async def test_a_transaction_left_open_is_rolled_back_and_its_connection_reused(
    database_url: str, saved_user: User
) -> None:
    async with _pool(database_url, width=1) as pool:
        async with SqlAlchemyUnitOfWork(pool) as work:
            await work._statements.begin()
            first = work._statements._driver
            await work.users.delete(saved_user.id)
            await work._statements.fetch(precompile(select(func.now())), {})  # sends the delete
        async with SqlAlchemyUnitOfWork(pool) as work:
            assert work._statements._driver is first
            assert await work.users.get(saved_user.id) == saved_user


async def test_a_pool_retired_after_a_disconnect_replaces_every_connection(
    database_url: str,
) -> None:
    async with _pool(database_url, width=3) as pool:
        held = [await pool.acquire() for _ in range(3)]
        before = {connection.driver for connection in held}
        await pool.release(held.pop())
        pool.retire_all()
        for connection in held:
            await pool.release(connection)  # returned after the retirement: closed
        assert pool.status().idle == 1  # the one returned before
        async with SqlAlchemyUnitOfWork(pool) as work:  # the idle one is closed, not lent
            assert work._statements._driver not in before
        assert all(driver.closed for driver in before)


async def test_a_connection_left_in_pipeline_mode_is_closed_not_reused(database_url: str) -> None:
    """A task cancelled while entering ``pipeline()`` leaves its connection in pipeline
    mode, where every later statement returns no rows: it must not be lent again."""
    async with _pool(database_url, width=1) as pool:
        pooled = await pool.acquire()
        pooled.driver.pgconn.enter_pipeline_mode()  # where the cancellation leaves it
        await pool.release(pooled)
        assert pooled.driver.closed
        async with SqlAlchemyUnitOfWork(pool) as work:
            assert work._statements._driver is not pooled.driver
            assert await work.users.exists(uuid.uuid4()) is False
