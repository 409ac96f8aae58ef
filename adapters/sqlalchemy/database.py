"""Engine construction: one place that turns a ``DATABASE_URL`` into a pool."""

import asyncio
import weakref
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


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


def create_engine(database_url: str, pool: PoolSettings | None = None) -> AsyncEngine:
    pool = pool or PoolSettings()
    return create_async_engine(
        psycopg_url(database_url),
        pool_size=pool.size,
        max_overflow=pool.max_overflow,
        pool_timeout=pool.checkout_timeout,
        pool_recycle=1800,
        # Transactions are opened explicitly, only when something is written
        # (adapters.sqlalchemy.statements). Set here, once per connection, rather than
        # on every checkout, which SQLAlchemy would also undo at every checkin.
        isolation_level="AUTOCOMMIT",
        # Parameters are user data (emails, hashes, messages): never in logs or errors.
        hide_parameters=True,
        connect_args={
            "connect_timeout": pool.connect_timeout,
            "application_name": "memory-agent",
            **session_options(pool),
        },
    )


class ConnectionQueue:
    """First come, first served admission to the pool, as wide as the pool.

    SQLAlchemy's async pool gives a returned connection to whichever request asks
    next, so under load a waiting request can be overtaken again and again, and the
    tail latency grew far beyond the median (bench/RESULTS.md). Waiting here instead,
    on asyncio's fair semaphore, serves waiters in arrival order; the wait is bounded
    like the pool's own.
    """

    def __init__(self, pool: PoolSettings) -> None:
        self._width = pool.size + pool.max_overflow
        self._timeout = pool.checkout_timeout
        # A semaphore belongs to one event loop; the CLI and tests start several.
        self._turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]
        self._turns = weakref.WeakKeyDictionary()

    async def enter(self) -> asyncio.Semaphore:
        """Wait for a turn; hand the result to ``leave`` when the connection is back."""
        loop = asyncio.get_running_loop()
        turns = self._turns.get(loop)
        if turns is None:
            turns = self._turns[loop] = asyncio.Semaphore(self._width)
        if not turns.locked():
            await turns.acquire()  # free: returns without suspending
            return turns
        try:
            async with asyncio.timeout(self._timeout):
                await turns.acquire()
        except TimeoutError:
            raise PoolTimeoutError(
                f"no database connection within {self._timeout:g} s (pool of {self._width})"
            ) from None
        return turns

    @staticmethod
    def leave(turns: asyncio.Semaphore) -> None:
        turns.release()
