"""Requests waiting for a database connection are served in arrival order, and not forever."""

import asyncio
import uuid

import pytest
from sqlalchemy import Float, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sqlalchemy.database import ConnectionQueue, PoolSettings, create_engine
from adapters.sqlalchemy.statements import precompile
from adapters.sqlalchemy.tables import users
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from domain.errors import ServiceUnavailable
from domain.users import User


def _queue(width: int, timeout: float = 5.0) -> ConnectionQueue:
    return ConnectionQueue(PoolSettings(size=width, max_overflow=0, checkout_timeout=timeout))


async def test_waiters_get_their_turn_in_arrival_order_and_newcomers_queue_behind() -> None:
    queue = _queue(width=1)
    held = await queue.enter()
    served: list[str] = []

    async def request(name: str) -> None:
        turn = await queue.enter()
        served.append(name)
        await asyncio.sleep(0)  # hold the connection across a switch, as a query would
        queue.leave(turn)

    first = [asyncio.create_task(request(name)) for name in ("a", "b", "c")]
    await asyncio.sleep(0)  # all three are waiting now
    queue.leave(held)
    late = asyncio.create_task(request("late"))  # arrives as a turn frees: must not jump in
    await asyncio.gather(*first, late)
    assert served == ["a", "b", "c", "late"]


async def test_a_wait_longer_than_the_pool_timeout_is_service_unavailable(
    engine: AsyncEngine,
) -> None:
    queue = _queue(width=1, timeout=0.05)
    held = await queue.enter()
    try:
        with pytest.raises(ServiceUnavailable):
            async with SqlAlchemyUnitOfWork(engine, queue):
                pass
    finally:
        queue.leave(held)
    async with SqlAlchemyUnitOfWork(engine, queue) as work:  # the turn came back
        assert await work.users.exists(uuid.uuid4()) is False


def test_each_event_loop_gets_its_own_turns() -> None:
    queue = _queue(width=1)

    async def one_turn() -> None:
        queue.leave(await queue.enter())
        held = await queue.enter()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.01):
                await queue.enter()
        queue.leave(held)

    asyncio.run(one_turn())
    asyncio.run(one_turn())  # a second loop: no "bound to a different event loop"


class _HangingEngine:
    """An engine whose connect never finishes, as with a database that stopped answering."""

    async def raw_connection(self) -> None:
        await asyncio.sleep(3600)


async def test_a_request_cancelled_while_connecting_gives_its_turn_back() -> None:
    queue = _queue(width=1, timeout=0.5)

    async def use() -> None:
        async with SqlAlchemyUnitOfWork(_HangingEngine(), queue):  # type: ignore[arg-type]
            pass

    attempt = asyncio.create_task(use())
    await asyncio.sleep(0.01)  # holding the only turn, stuck in connect
    attempt.cancel()
    with pytest.raises(asyncio.CancelledError):
        await attempt
    queue.leave(await queue.enter())  # would time out had the turn leaked


async def test_a_request_cancelled_mid_query_does_not_hand_its_connection_on(
    database_url: str,
) -> None:
    engine = create_engine(database_url, PoolSettings(size=1, max_overflow=0))
    sleep = precompile(select(func.pg_sleep(bindparam("seconds", type_=Float))))
    try:

        async def slow_query() -> None:
            async with SqlAlchemyUnitOfWork(engine) as work:
                await work._statements.fetch(sleep, {"seconds": 5})

        query = asyncio.create_task(slow_query())
        await asyncio.sleep(0.3)  # the query is running on the pool's only connection
        query.cancel()
        with pytest.raises(asyncio.CancelledError):
            await query
        async with asyncio.timeout(3), SqlAlchemyUnitOfWork(engine) as work:
            # A fresh connection: the old one still owed the sleep's result.
            assert await work.users.exists(uuid.uuid4()) is False
    finally:
        await engine.dispose()


async def test_a_request_cancelled_mid_commit_does_not_hand_its_connection_on(
    database_url: str, saved_user: User
) -> None:
    engine = create_engine(database_url, PoolSettings(size=1, max_overflow=0))
    slow_write = precompile(
        update(users)
        .where(users.c.id == bindparam("user_id"))
        .where(func.pg_sleep(bindparam("seconds", type_=Float)).is_not(None))
        .values(email=users.c.email)
    )
    try:

        async def slow_commit() -> None:
            async with SqlAlchemyUnitOfWork(engine) as work:
                work._statements.write(slow_write, {"user_id": saved_user.id, "seconds": 5})
                await work.commit()

        commit = asyncio.create_task(slow_commit())
        await asyncio.sleep(0.3)  # BEGIN and the write went out in a pipeline; no answer yet
        commit.cancel()
        with pytest.raises(asyncio.CancelledError):
            await commit
        async with asyncio.timeout(3), SqlAlchemyUnitOfWork(engine) as work:
            assert await work.users.get(saved_user.id) == saved_user
    finally:
        await engine.dispose()
