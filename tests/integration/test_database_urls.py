"""``DATABASE_URL`` forms that hold ``%``: migrations at startup and from the CLI.

Alembic's configuration is a ConfigParser, where a bare ``%`` is an interpolation: a
password with URL escapes or a socket folder given as ``?host=%2F...`` used to crash it.
(The embedded server's tests cover the same forms with the password actually checked.)
"""

import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import create_engine, pool
from sqlalchemy.engine import make_url

from adapters.sqlalchemy import migrate
from adapters.sqlalchemy.database import psycopg_url
from entrypoints.cli.main import main

PASSWORD = "100%pure p@ss"
SYSTEM_SOCKETS = Path("/var/run/postgresql")


def _admin(database_url: str) -> str:
    return make_url(database_url).set(database="postgres").render_as_string(hide_password=False)


@pytest.fixture
def owned_database(database_url: str) -> Iterator[tuple[str, str]]:
    """A role whose password holds ``%``, and an empty database it owns: (role, database)."""
    suffix = uuid.uuid4().hex[:10]
    role, name = f"percent_{suffix}", f"percent_{suffix}"
    with psycopg.connect(_admin(database_url), autocommit=True) as connection:
        connection.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(PASSWORD)
            )
        )
        connection.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(role)
            )
        )
    try:
        yield role, name
    finally:
        with psycopg.connect(_admin(database_url), autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
            connection.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def _revision(url: str) -> str | None:
    engine = create_engine(psycopg_url(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            return migrate.current_revision(connection)
    finally:
        engine.dispose()


def test_a_password_with_percent_migrates_at_startup_and_from_the_cli(
    database_url: str, owned_database: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    role, name = owned_database
    server = make_url(database_url)
    url = f"postgresql://{role}:{quote(PASSWORD)}@{server.host}:{server.port}/{name}"
    assert "%25" in url

    migrate.upgrade(url)  # what the app's startup runs
    assert _revision(url) == migrate.head_revision()
    monkeypatch.setenv("DATABASE_URL", url)
    assert main(["db", "downgrade", "base", "--yes"]) == 0
    assert _revision(url) is None
    assert main(["db", "upgrade"]) == 0
    assert _revision(url) == migrate.head_revision()


def test_a_unix_socket_url_migrates(
    database_url: str, owned_database: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    port = make_url(database_url).port or 5432
    if not (SYSTEM_SOCKETS / f".s.PGSQL.{port}").exists():
        pytest.skip(f"the run's server has no socket in {SYSTEM_SOCKETS} (embedded tests cover it)")
    role, name = owned_database
    sockets = quote(str(SYSTEM_SOCKETS), safe="")
    url = f"postgresql://{role}:{quote(PASSWORD)}@/{name}?host={sockets}&port={port}"
    assert "%2F" in url

    monkeypatch.setenv("DATABASE_URL", url)
    assert main(["db", "upgrade"]) == 0
    assert _revision(url) == migrate.head_revision()
