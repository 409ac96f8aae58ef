"""Alembic environment: runs on a connection handed in by ``adapters.sqlalchemy.migrate``."""

from alembic import context
from sqlalchemy import Connection, create_engine, pool

from adapters.sqlalchemy.database import psycopg_url
from adapters.sqlalchemy.tables import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection: Connection | None = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    # Plain `alembic ...` on the command line: build a connection from the URL.
    url = config.get_main_option("sqlalchemy.url") or ""
    engine = create_engine(psycopg_url(url), poolclass=pool.NullPool)
    with engine.connect() as connection:
        _run(connection)


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
