"""DATABASE_POOLER=transaction: nothing left on a server connection between transactions.

Run on a direct connection, where PostgreSQL itself shows what a session holds; the
same app behind PgBouncer is ``make topology-test``'s job.
"""

import uuid

import psycopg

from adapters.sqlalchemy.database import ConnectionPool, PoolSettings
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork


async def _session_state(url: str, *, transaction_pooler: bool) -> tuple[int, str]:
    """Prepared statements and statement timeout on the one connection after busy use."""
    settings = PoolSettings(
        size=1, statement_timeout_ms=4321, transaction_pooler=transaction_pooler
    )
    pool = ConnectionPool(url, settings)
    try:
        for _ in range(10):  # psycopg's default prepares a statement on its 5th run
            async with SqlAlchemyUnitOfWork(pool) as work:
                await work.users.get_by_email(f"{uuid.uuid4().hex}@example.com")
        async with pool.connection() as connection:  # the same one: a pool of one
            cursor = connection.cursor
            await cursor.execute("SELECT count(*) FROM pg_prepared_statements")
            prepared = await cursor.fetchone()
            await cursor.execute("SHOW statement_timeout")
            timeout = await cursor.fetchone()
            assert prepared is not None
            assert timeout is not None
            return prepared[0], timeout[0]
    finally:
        await pool.close()


def _database_default_timeout(url: str) -> str:
    with psycopg.connect(url) as connection:
        row = connection.execute("SHOW statement_timeout").fetchone()
        assert row is not None
        return str(row[0])


async def test_straight_to_postgresql_statements_are_prepared_and_the_timeout_sent(
    migration_database_url: str,
) -> None:
    state = await _session_state(migration_database_url, transaction_pooler=False)
    assert state == (1, "4321ms")


async def test_behind_a_transaction_pooler_nothing_is_prepared_nor_sent_at_startup(
    migration_database_url: str,
) -> None:
    state = await _session_state(migration_database_url, transaction_pooler=True)
    # The timeout is the database's own (migrations write it: test_migrations.py).
    assert state == (0, _database_default_timeout(migration_database_url))
