"""PostgreSQL storage as one piece: its pool, units of work, schema and readiness."""

import asyncio
from functools import cached_property

from adapters.sqlalchemy import migrate
from adapters.sqlalchemy.database import ConnectionPool, PoolSettings
from adapters.sqlalchemy.migrate import SqlAlchemyReadiness
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from application.ports import PoolStatus


class SqlAlchemyStorage:
    """Everything the PostgreSQL adapters share, with its start and its stop.

    Building it opens nothing (the pool connects on first use). ``start`` brings
    the schema to head when asked to (a newer release's schema is left alone); ``stop``
    closes the pool's connections. A stopped storage may be used again: the command
    line runs each command in an event loop of its own and stops the storage after each.
    """

    def __init__(
        self,
        database_url: str,
        pool: PoolSettings | None = None,
        *,
        migrate_on_start: bool = False,
        migration_url: str | None = None,
    ) -> None:
        pool = pool or PoolSettings()
        self.pool = ConnectionPool(database_url, pool)
        # Migrations go straight to PostgreSQL when the app's connections go through a pooler.
        self._migration_url = migration_url or database_url
        self._migrate_on_start = migrate_on_start
        # Behind a transaction pooler the app cannot send its statement timeout: the
        # migrations make it the database's default (see database.session_options).
        self._database_statement_timeout_ms = (
            pool.statement_timeout_ms if pool.transaction_pooler else None
        )

    def unit_of_work(self) -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(self.pool)

    @cached_property
    def readiness(self) -> SqlAlchemyReadiness:
        return SqlAlchemyReadiness(self.pool)  # reads the migration scripts: only when probed

    def pool_status(self) -> PoolStatus | None:
        return self.pool.status()

    async def start(self) -> None:
        if self._migrate_on_start:
            # Alembic is synchronous; keep the event loop free while it runs.
            await asyncio.to_thread(
                migrate.upgrade,
                self._migration_url,
                statement_timeout_ms=self._database_statement_timeout_ms,
                # A newer release beside this one (a rolling deploy) may have migrated on.
                keep_newer=True,
            )

    async def stop(self) -> None:
        await self.pool.close()
