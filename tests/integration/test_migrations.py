"""The Alembic migrations against real PostgreSQL."""

import logging
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.util.exc import CommandError
from psycopg import sql
from sqlalchemy import create_engine, inspect, pool
from sqlalchemy.engine import make_url

from adapters.sqlalchemy import migrate
from adapters.sqlalchemy.database import ConnectionPool, psycopg_url
from adapters.sqlalchemy.migrate import SqlAlchemyReadiness
from adapters.sqlalchemy.tables import metadata


@pytest.fixture
def empty_database(migration_database_url: str) -> Iterator[str]:
    """A second, empty database on the same server, dropped afterwards."""
    name = f"memory_agent_migrations_{uuid.uuid4().hex[:10]}"
    server = make_url(migration_database_url)
    admin = server.set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _tables(url: str) -> set[str]:
    engine = create_engine(psycopg_url(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            return set(inspect(connection).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade_round_trip(empty_database: str) -> None:
    migrate.upgrade(empty_database)
    assert _tables(empty_database) == set(metadata.tables)

    migrate.downgrade(empty_database, "base")
    assert _tables(empty_database) == set()

    migrate.upgrade(empty_database)
    assert _tables(empty_database) == set(metadata.tables)


def test_models_and_migrations_agree(migration_database_url: str) -> None:
    engine = create_engine(psycopg_url(migration_database_url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


def test_upgrade_is_idempotent_under_the_advisory_lock(migration_database_url: str) -> None:
    migrate.upgrade(migration_database_url)
    migrate.upgrade(migration_database_url)

    engine = create_engine(psycopg_url(migration_database_url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            assert migrate.current_revision(connection) == migrate.head_revision()
    finally:
        engine.dispose()


def test_concurrent_starts_migrate_once(empty_database: str) -> None:
    """Several workers starting together: the advisory lock makes them take turns."""
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: migrate.upgrade(empty_database), range(4)))

    assert _tables(empty_database) == set(metadata.tables)


def test_a_start_gives_up_while_another_holds_the_migration_lock(empty_database: str) -> None:
    with psycopg.connect(empty_database) as migrating:  # not autocommit: a transaction
        migrating.execute("SELECT pg_advisory_xact_lock(%s)", (migrate.ADVISORY_LOCK_KEY,))
        with pytest.raises(migrate.MigrationLockTimeout):
            migrate.upgrade(empty_database, lock_timeout_seconds=0.2)
        assert _tables(empty_database) == set()

    # The lock ended with the other transaction; nothing of the failed start is left.
    migrate.upgrade(empty_database, lock_timeout_seconds=5)
    assert _tables(empty_database) == set(metadata.tables)
    with psycopg.connect(empty_database) as connection:
        held = connection.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
        assert held.fetchone() == (0,)


def test_upgrade_can_make_the_statement_timeout_the_databases_own(empty_database: str) -> None:
    with psycopg.connect(empty_database) as connection:
        before = connection.execute("SHOW statement_timeout").fetchone()

    migrate.upgrade(empty_database, statement_timeout_ms=4321)

    with psycopg.connect(empty_database) as connection:  # every new session has it
        assert connection.execute("SHOW statement_timeout").fetchone() == ("4321ms",)
    assert before == ("0",)
    assert _tables(empty_database) == set(metadata.tables)


def _set_revision(url: str, revision: str) -> None:
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("UPDATE alembic_version SET version_num = %s", (revision,))


async def _readiness_problems(url: str) -> list[str]:
    pool = ConnectionPool(url)
    try:
        return await SqlAlchemyReadiness(pool).problems()
    finally:
        await pool.close()


async def test_ready_at_this_codes_head_and_not_before(empty_database: str) -> None:
    assert await _readiness_problems(empty_database)  # no schema at all

    migrate.upgrade(empty_database, "0003_password_reset_tokens")
    behind = await _readiness_problems(empty_database)
    migrate.upgrade(empty_database)

    assert behind == [
        f"schema at revision 0003_password_reset_tokens, expected {migrate.head_revision()}"
    ]
    assert await _readiness_problems(empty_database) == []


async def test_a_newer_releases_schema_is_ready_and_left_alone_at_start(
    empty_database: str, caplog: pytest.LogCaptureFixture
) -> None:
    # A rolling deploy: the new release migrated past this code's head while this one
    # still serves, or restarts.
    migrate.upgrade(empty_database)
    _set_revision(empty_database, "9999_from_a_newer_release")

    with caplog.at_level(logging.WARNING, logger="adapters.sqlalchemy.migrate"):
        migrate.upgrade(empty_database, keep_newer=True)

    assert await _readiness_problems(empty_database) == []
    assert "9999_from_a_newer_release" in caplog.text
    with pytest.raises(CommandError):  # asked for explicitly (db upgrade): an error
        migrate.upgrade(empty_database)


async def test_an_unknown_schema_lacking_this_codes_columns_is_not_taken_for_newer(
    empty_database: str,
) -> None:
    # Another app's database, or a wrong stamp: a revision nobody here knows, and a
    # table this code needs without one of its columns.
    migrate.upgrade(empty_database)
    _set_revision(empty_database, "someone_elses_revision")
    with psycopg.connect(empty_database, autocommit=True) as connection:
        connection.execute("ALTER TABLE messages DROP COLUMN content")

    assert await _readiness_problems(empty_database) == [
        "schema at unknown revision someone_elses_revision, lacking messages.content"
    ]
    with pytest.raises(migrate.UnknownSchema, match=r"messages\.content"):
        migrate.upgrade(empty_database, keep_newer=True)
