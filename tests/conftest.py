"""Shared fixtures: a throwaway PostgreSQL database per test run.

The server comes from ``TEST_DATABASE_URL`` (default: the server in ``.env``'s
``DATABASE_URL``). Each run creates its own database, migrates it, and drops it
at the end, so tests never touch ``memorydb`` and can run twice in a row.
"""

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from adapters.sqlalchemy import migrate
from entrypoints.settings import Settings
from tests.smtp import SmtpServer, ThrowawayCertificate, make_certificate, running_smtp_server

_START_HINT = (
    "PostgreSQL is not reachable at {where}. Start it: on this machine "
    "`pg_ctlcluster --skip-systemctl-redirect 15 main start`; elsewhere "
    "`docker compose up -d postgres`; or point TEST_DATABASE_URL at a server."
)


def _server_url() -> str:
    return os.environ.get("TEST_DATABASE_URL") or Settings().database_url


def _admin_conninfo(url: str) -> str:
    parsed = make_url(url).set(drivername="postgresql", database="postgres")
    return parsed.render_as_string(hide_password=False)


# Named at import, so modules that must build an app at import time (the fuzz test)
# point it here; the database itself exists once the `database_url` fixture runs.
RUN_DATABASE_NAME = f"memory_agent_test_{uuid.uuid4().hex[:12]}"
RUN_DATABASE_URL = (
    make_url(_server_url()).set(database=RUN_DATABASE_NAME).render_as_string(hide_password=False)
)


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A freshly migrated, throwaway database; dropped when the run ends."""
    server = _server_url()
    admin = _admin_conninfo(server)
    name = RUN_DATABASE_NAME
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.OperationalError:
        where = make_url(server).render_as_string(hide_password=True)
        pytest.exit(_START_HINT.format(where=where), returncode=1)
    try:
        migrate.upgrade(RUN_DATABASE_URL)
        yield RUN_DATABASE_URL
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on a free loopback port, keeping what it receives."""
    with running_smtp_server() as server:
        yield server


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> ThrowawayCertificate:
    return make_certificate(tmp_path_factory.mktemp("tls"))
