"""Requests waiting for a database connection are served in arrival order, and not forever."""

import asyncio
import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sqlalchemy.database import ConnectionQueue, PoolSettings
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from domain.errors import ServiceUnavailable


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
