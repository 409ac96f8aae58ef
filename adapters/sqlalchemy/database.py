"""The unit of work's connections: one place that turns a ``DATABASE_URL`` into a pool.

The pool holds psycopg's connections and hands them out directly. SQLAlchemy writes the
SQL (``adapters.sqlalchemy.statements``) and runs the migrations; its own pool sat on
the hottest path of every request (a greenlet hop and a proxy object per checkout and
return, a reset on every return) and was a large share of a short request's CPU
(bench/RESULTS.md). psycopg's own pool (psycopg_pool) opens connections in the
background and retries with a growing back-off, so after an outage it would keep
refusing requests for seconds after the database is back; this one connects in the
request that needs a connection, so a dead database fails that request at once and a
live one serves the very next.
"""

import asyncio
import time
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.pq import PipelineStatus, TransactionStatus
from sqlalchemy.engine import URL, make_url

from application.ports import PoolStatus

RECYCLE_SECONDS = 1800.0  # a connection this old is replaced: server-side memory, failovers


def psycopg_url(database_url: str) -> URL:
    """Accept the usual ``postgresql://`` URLs and drive them with psycopg 3."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        raise ValueError("DATABASE_URL must be a postgresql:// URL.")
    return url.set(drivername="postgresql+psycopg")


@dataclass(frozen=True, slots=True)
class PoolSettings:
    # Per worker process, sized with make bench; no overflow: connections opened and
    # closed under sustained load cost more than the waits they saved (bench/RESULTS.md).
    size: int = 20
    max_overflow: int = 0
    # Seconds. Bounded everywhere so that a dead database fails a request fast.
    checkout_timeout: float = 5.0
    connect_timeout: int = 5
    statement_timeout_ms: int = 10_000
    # Behind a transaction pooler (PgBouncer's transaction mode): see session_options.
    transaction_pooler: bool = False


def session_options(pool: PoolSettings) -> dict[str, Any]:
    """What each new connection asks of its server session, as psycopg connect arguments.

    Straight to PostgreSQL, the statement timeout goes along as a startup option and
    psycopg prepares statements it runs often. A transaction pooler hands each
    transaction to whichever server connection is free, so neither may be left on one:
    PgBouncer refuses startup options outright, and a statement prepared on one server
    connection is missing on the next (or already there under the same name). There the
    timeout is the database's own default, written by the migrations
    (``migrate.upgrade``'s ``statement_timeout_ms``).
    """
    if pool.transaction_pooler:
        return {"prepare_threshold": None}
    return {"options": f"-c statement_timeout={pool.statement_timeout_ms}"}


def connect_arguments(database_url: str, pool: PoolSettings) -> dict[str, Any]:
    """psycopg's ``connect`` arguments for ``database_url``, read as SQLAlchemy reads it
    (a socket directory in ``?host=``, several hosts, libpq options in the query)."""
    url = psycopg_url(database_url)
    _, url_arguments = url.get_dialect()().create_connect_args(url)
    return {
        **url_arguments,
        # Transactions are opened explicitly, only when something is written
        # (adapters.sqlalchemy.statements).
        "autocommit": True,
        "connect_timeout": pool.connect_timeout,
        "application_name": "memory-agent",
        **session_options(pool),
    }


class PoolTimeout(Exception):
    """No connection came free within the pool's checkout timeout."""


class _LoopShare:
    """The pool as one event loop sees it: psycopg's connections, like asyncio's
    semaphores, belong to the loop they were made in, and the command line and the
    tests run several loops in turn."""

    def __init__(self, width: int) -> None:
        self.turns = asyncio.Semaphore(width)
        self.idle: list[PooledConnection] = []
        self.opened = 0


@dataclass(eq=False, slots=True)
class PooledConnection:
    """A connection of the pool, with the one cursor its statements are sent on.

    A cursor per statement, even per checkout, was a measurable share of a short request.
    """

    driver: "psycopg.AsyncConnection[Any]"
    cursor: "psycopg.AsyncCursor[Any]"
    share: _LoopShare  # where it goes back to
    opened_at: float
    generation: int
    retired: bool = field(default=False)


class ConnectionPool:
    """At most ``size + max_overflow`` connections per event loop, given out in arrival
    order and reused most recent first.

    Waiters are served first come, first served (asyncio's semaphore is fair), so under
    load a waiting request is never overtaken again and again; the wait is bounded by
    the checkout timeout (``PoolTimeout``). A connection is opened by the request that
    needs it, when none is idle: a connect error reaches that request at once. A
    returned connection goes back idle, rolled back if a transaction was left open, or
    is closed: broken, cancelled mid-statement, older than ``RECYCLE_SECONDS``, beyond
    ``size``, or retired by ``retire_all``.
    """

    def __init__(self, database_url: str, settings: PoolSettings | None = None) -> None:
        self.settings = settings = settings or PoolSettings()
        self._arguments = connect_arguments(database_url, settings)
        self._width = settings.size + settings.max_overflow
        self._generation = 0
        self._shares: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopShare]
        self._shares = weakref.WeakKeyDictionary()

    def _share(self) -> _LoopShare:
        loop = asyncio.get_running_loop()
        share = self._shares.get(loop)
        if share is None:
            share = self._shares[loop] = _LoopShare(self._width)
        return share

    async def acquire(self) -> PooledConnection:
        """A connection for this task alone until ``release``; waits for a turn first."""
        share = self._share()
        turns = share.turns
        if turns.locked():
            try:
                async with asyncio.timeout(self.settings.checkout_timeout):
                    await turns.acquire()
            except TimeoutError:
                raise PoolTimeout(
                    f"no database connection within {self.settings.checkout_timeout:g} s"
                    f" (pool of {self._width})"
                ) from None
        else:
            await turns.acquire()  # free: returns without suspending
        try:
            while share.idle:
                pooled = share.idle.pop()
                if self._reusable(pooled):
                    return pooled
                await self._close(pooled)
            return await self._open(share)
        except BaseException:
            # Cancelled while connecting, too: the turn goes back.
            turns.release()
            raise

    async def release(self, pooled: PooledConnection) -> None:
        """Take back a connection from ``acquire``: idle again, or closed (see the class)."""
        share = pooled.share
        try:
            status = pooled.driver.info.transaction_status
            if status in (TransactionStatus.INTRANS, TransactionStatus.INERROR):
                await pooled.driver.rollback()
                status = pooled.driver.info.transaction_status
            if (
                status == TransactionStatus.IDLE
                and not _in_pipeline(pooled.driver)
                and self._reusable(pooled)
                and len(share.idle) < self.settings.size
            ):
                share.idle.append(pooled)
            else:
                # Mid-statement (a cancelled request) it still owes a result: never reused.
                await self._close(pooled)
        except BaseException:
            await self._close(pooled)
            raise
        finally:
            share.turns.release()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[PooledConnection]:
        pooled = await self.acquire()
        try:
            yield pooled
        finally:
            await self.release(pooled)

    @property
    def generation(self) -> int:
        """How many times ``retire_all`` was called: a connection opened since has this."""
        return self._generation

    def retire_all(self) -> None:
        """Replace every connection opened until now, at its next checkout or return: after
        one of them found the server gone (a restart, a failover), the rest are dead too."""
        self._generation += 1

    def status(self) -> PoolStatus:
        shares = list(self._shares.values())
        opened = sum(share.opened for share in shares)
        idle = sum(len(share.idle) for share in shares)
        return PoolStatus(
            size=self.settings.size,
            checked_out=opened - idle,
            idle=idle,
            overflow=max(opened - self.settings.size, 0),
        )

    async def close(self) -> None:
        """Close the idle connections of this event loop; those of loops that have ended
        are forgotten (their sockets close with them)."""
        share = self._share()
        idle, share.idle = share.idle, []
        for pooled in idle:
            await self._close(pooled)
        self._shares.clear()

    def _reusable(self, pooled: PooledConnection) -> bool:
        driver = pooled.driver
        return not (
            pooled.retired
            or pooled.generation != self._generation
            or driver.closed
            or driver.broken
            or time.monotonic() - pooled.opened_at > RECYCLE_SECONDS
        )

    async def _open(self, share: _LoopShare) -> PooledConnection:
        driver = await psycopg.AsyncConnection.connect(**self._arguments)
        share.opened += 1
        return PooledConnection(driver, driver.cursor(), share, time.monotonic(), self._generation)

    async def _close(self, pooled: PooledConnection) -> None:
        if pooled.retired:
            return  # counted out already
        pooled.retired = True
        pooled.share.opened -= 1
        await pooled.driver.close()


def _in_pipeline(driver: "psycopg.AsyncConnection[Any]") -> bool:
    """Left in pipeline mode: a task cancelled as it entered ``pipeline()`` leaves the
    connection there, idle but answering later statements with no rows at all."""
    return driver.pgconn.pipeline_status != PipelineStatus.OFF or driver._pipeline is not None
