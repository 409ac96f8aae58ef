"""Shared fixtures: a throwaway PostgreSQL database per test run.

The server comes from ``TEST_DATABASE_URL`` (default: the server in ``.env``'s
``DATABASE_URL``). When nothing answers there and it is on this machine, an embedded
PostgreSQL starts on a free loopback port with a temporary data folder, removed at the
end. Each run creates its own database, migrates it, and drops it at the end, so tests
never touch ``memorydb`` and can run twice in a row. Tests that need no database run
first, so they report even when no database can be had.

With ``TEST_POOLER_URL`` (a transaction pooler in front of that server, as
``make topology-test`` starts one), the app's connections go through the pooler
(the ``database_url`` fixture) while creating, migrating and dropping the database
stay on the direct connection (``migration_database_url``), as in production.
"""

import os
import socket
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from adapters import embedded_postgres
from adapters.sqlalchemy import diagnosis, migrate
from entrypoints.settings import Settings
from tests.smtp import SmtpServer, ThrowawayCertificate, make_certificate, running_smtp_server

_WITHOUT_DATABASE = ("tests/unit/", "tests/bench/")


def _configured_url() -> str:
    return os.environ.get("TEST_DATABASE_URL") or Settings().database_url


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _choose_server() -> tuple[str, bool, str]:
    """The server URL, whether an embedded one must start there, and the line that says so."""
    configured = _configured_url()
    where = embedded_postgres.Address.parse(configured)
    if embedded_postgres.answers(configured):
        return configured, False, f"PostgreSQL: the server at {where}"
    if not where.is_local:
        return configured, False, f"PostgreSQL: nothing answers at {where} (not this machine)"
    url = make_url(configured).set(host="127.0.0.1", port=_free_port(), query={})
    line = (
        f"PostgreSQL: nothing answers at {where}; an embedded PostgreSQL on "
        f"127.0.0.1:{url.port} serves the tests (throwaway data)"
    )
    return url.render_as_string(hide_password=False), True, line


_SERVER_URL, _EMBEDDED, _SERVER_LINE = _choose_server()


def _server_url() -> str:
    return _SERVER_URL


def pytest_report_header() -> str:
    return _SERVER_LINE


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Database-free tests first: they run and report even when no database can be had."""
    items.sort(key=lambda item: not item.nodeid.startswith(_WITHOUT_DATABASE))


@pytest.fixture(scope="session")
def database_server() -> Iterator[str]:
    """The server's URL; an embedded one is started here (and removed at the end) if needed."""
    if not _EMBEDDED:
        yield _SERVER_URL
        return
    server = embedded_postgres.EmbeddedPostgres.throwaway(_SERVER_URL)
    try:
        server.start()
    except embedded_postgres.EmbeddedPostgresError as error:
        server.remove()
        pytest.exit(f"the database tests cannot run: {error}", returncode=1)
    try:
        yield _SERVER_URL
    finally:
        server.remove()


def _pooler_url() -> str | None:
    return os.environ.get("TEST_POOLER_URL") or None


def _admin_conninfo(url: str) -> str:
    parsed = make_url(url).set(drivername="postgresql", database="postgres")
    return parsed.render_as_string(hide_password=False)


# Named at import, so modules that must build an app at import time (the fuzz test)
# point it here; the database itself exists once the `database_url` fixture runs.
RUN_DATABASE_NAME = f"memory_agent_test_{uuid.uuid4().hex[:12]}"
RUN_MIGRATION_DATABASE_URL = (
    make_url(_server_url()).set(database=RUN_DATABASE_NAME).render_as_string(hide_password=False)
)
# Where the app connects: the pooler when there is one, else the server itself.
RUN_DATABASE_URL = (
    make_url(_pooler_url() or _server_url())
    .set(database=RUN_DATABASE_NAME)
    .render_as_string(hide_password=False)
)


@pytest.fixture(scope="session")
def database_url(database_server: str) -> Iterator[str]:
    """A freshly migrated, throwaway database; dropped when the run ends."""
    admin = _admin_conninfo(database_server)
    name = RUN_DATABASE_NAME
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.OperationalError as error:
        hint = diagnosis.explain(error, database_server) or str(error)
        pytest.exit(f"the database tests cannot run: {hint}", returncode=1)
    try:
        migrate.upgrade(RUN_MIGRATION_DATABASE_URL)
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


@pytest.fixture(scope="session")
def migration_database_url(database_url: str) -> str:
    """The run's database on a direct connection (``database_url`` may go through a pooler)."""
    return RUN_MIGRATION_DATABASE_URL
