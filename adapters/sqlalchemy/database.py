"""Engine construction: one place that turns a ``DATABASE_URL`` into a pool."""

from dataclasses import dataclass

from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def psycopg_url(database_url: str) -> URL:
    """Accept the usual ``postgresql://`` URLs and drive them with psycopg 3."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        raise ValueError("DATABASE_URL must be a postgresql:// URL.")
    return url.set(drivername="postgresql+psycopg")


@dataclass(frozen=True, slots=True)
class PoolSettings:
    size: int = 10
    max_overflow: int = 5
    # Seconds. Bounded everywhere so that a dead database fails a request fast.
    checkout_timeout: float = 5.0
    connect_timeout: int = 5
    statement_timeout_ms: int = 10_000


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
            "options": f"-c statement_timeout={pool.statement_timeout_ms}",
            "application_name": "memory-agent",
        },
    )
