"""The Alembic migrations against real PostgreSQL."""

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from psycopg import sql
from sqlalchemy import create_engine, inspect, pool
from sqlalchemy.engine import make_url

from adapters.sqlalchemy import migrate
from adapters.sqlalchemy.database import psycopg_url
from adapters.sqlalchemy.tables import metadata


@pytest.fixture
def empty_database(database_url: str) -> Iterator[str]:
    """A second, empty database on the same server, dropped afterwards."""
    name = f"memory_agent_migrations_{uuid.uuid4().hex[:10]}"
    admin = make_url(database_url).set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
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


def test_models_and_migrations_agree(database_url: str) -> None:
    engine = create_engine(psycopg_url(database_url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


def test_upgrade_is_idempotent_under_the_advisory_lock(database_url: str) -> None:
    migrate.upgrade(database_url)
    migrate.upgrade(database_url)

    engine = create_engine(psycopg_url(database_url), poolclass=pool.NullPool)
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
