"""DATABASE_POOLER=transaction: nothing left on a server connection between transactions.

Run on a direct connection, where PostgreSQL itself shows what a session holds; the
same app behind PgBouncer is ``make topology-test``'s job.
"""

import uuid

import psycopg
from sqlalchemy import text

from adapters.sqlalchemy.database import PoolSettings, create_engine
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork


async def _session_state(url: str, *, transaction_pooler: bool) -> tuple[int, str]:
    """Prepared statements and statement timeout on the one connection after busy use."""
    pool = PoolSettings(size=1, statement_timeout_ms=4321, transaction_pooler=transaction_pooler)
    engine = create_engine(url, pool)
    try:
        for _ in range(10):  # psycopg's default prepares a statement on its 5th run
            async with SqlAlchemyUnitOfWork(engine) as work:
                await work.users.get_by_email(f"{uuid.uuid4().hex}@example.com")
        async with engine.connect() as connection:  # the same one: a pool of one
            prepared = await connection.execute(text("SELECT count(*) FROM pg_prepared_statements"))
            timeout = await connection.execute(text("SHOW statement_timeout"))
            return prepared.scalar_one(), timeout.scalar_one()
    finally:
        await engine.dispose()


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
