"""The embedded PostgreSQL 18: migrations, every route once, the CLI, URLs holding ``%``.

CI runs the suite on the machine's PostgreSQL; this module also runs the schema and the
API on the embedded server a laptop without one gets. Its password holds a ``%`` and
is checked (scram), so the URL escapes are exercised for real.
"""

import re
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import create_engine, pool
from sqlalchemy.engine import make_url

from adapters.embedded_postgres import EmbeddedPostgres, answers
from adapters.sqlalchemy import migrate
from adapters.sqlalchemy.database import psycopg_url
from entrypoints.cli.main import main
from tests.e2e.conftest import PASSWORD, bearer, make_client, new_email
from tests.e2e.servers import free_port

REPO = Path(__file__).resolve().parents[2]
SERVER_PASSWORD = "pg18 100%secret"  # a `%`, and a space: both escaped in the URL


class Pg18:
    def __init__(self, server: EmbeddedPostgres, url: str) -> None:
        self.server = server
        self.url = url

    def database(self, name: str | None = None) -> str:
        """A new empty database on this server; its URL."""
        name = name or f"smoke_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.url, autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return make_url(self.url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def pg18() -> Iterator[Pg18]:
    url = f"postgresql://postgres:{quote(SERVER_PASSWORD)}@127.0.0.1:{free_port()}/postgres"
    server = EmbeddedPostgres.throwaway(url)
    server.start()
    try:
        yield Pg18(server, url)
    finally:
        server.remove()
    assert not answers(url)


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., Result]:
    """The command line, in this process (a process per call would cost seconds each)."""

    def run(database_url: str, *args: str, cwd: Path = REPO) -> Result:
        monkeypatch.setenv("DATABASE_URL", database_url)
        monkeypatch.chdir(cwd)
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


def _revision(url: str) -> str | None:
    engine = create_engine(psycopg_url(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            return migrate.current_revision(connection)
    finally:
        engine.dispose()


def test_it_is_postgresql_18_on_loopback_with_the_password_checked(pg18: Pg18) -> None:
    with psycopg.connect(pg18.url) as connection:
        version = connection.execute("SHOW server_version_num").fetchone()
        listen = connection.execute("SHOW listen_addresses").fetchone()
    assert version is not None
    assert int(version[0]) >= 180000
    assert listen == ("localhost",)
    wrong = make_url(pg18.url).set(password="wrong").render_as_string(hide_password=False)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong).close()


def test_migrations_go_up_and_down_with_a_percent_in_the_password(pg18: Pg18) -> None:
    url = pg18.database()
    assert "%25" in url
    migrate.upgrade(url)
    assert _revision(url) == migrate.head_revision()
    migrate.downgrade(url, "base")
    assert _revision(url) is None
    migrate.upgrade(url)
    assert _revision(url) == migrate.head_revision()


def test_the_cli_migrates_over_a_unix_socket_url(pg18: Pg18, cli: Callable[..., Result]) -> None:
    name = f"socket_{uuid.uuid4().hex[:10]}"
    pg18.database(name)
    port = make_url(pg18.url).port
    socket_dir = quote(str(pg18.server.socket_dir), safe="")
    url = f"postgresql://postgres:{quote(SERVER_PASSWORD)}@/{name}?host={socket_dir}&port={port}"
    assert "%2F" in url

    upgraded = cli(url, "db", "upgrade")
    current = cli(url, "db", "current")

    assert upgraded.returncode == 0, upgraded.stderr
    assert "(up to date)" in current.stdout, current.stderr


def _every_operation(paths: dict[str, Any]) -> list[tuple[str, str]]:
    return [(method.upper(), path) for path, ops in paths.items() for method in ops]


def test_every_route_answers_on_postgresql_18(pg18: Pg18) -> None:
    url = pg18.database()
    seen: dict[tuple[str, str], int] = {}
    with make_client(url) as api:
        operations = _every_operation(api.get("/openapi.json").json()["paths"])

        def call(method: str, path: str, route: str, **kwargs: Any) -> Any:
            response = api.request(method, path, **kwargs)
            seen[(method, route)] = response.status_code
            assert response.status_code < 500, (method, route, response.text)
            return response

        # The paths a user walks, each checked for its answer.
        email = new_email()
        registered = call("POST", "/auth/register", "/auth/register",
                          json={"email": email, "password": PASSWORD})  # fmt: skip
        assert registered.status_code == 201
        login = call("POST", "/auth/login", "/auth/login",
                     json={"email": email, "password": PASSWORD})  # fmt: skip
        auth = bearer(login.json()["access_token"])
        assert call("GET", "/users/me", "/users/me", headers=auth).json()["email"] == email
        chat = call("POST", "/chats", "/chats", json={"title": "smoke"}, headers=auth).json()
        chat_path = f"/chats/{chat['id']}"
        posted = call("POST", f"{chat_path}/messages", "/chats/{chat_id}/messages",
                      json={"content": "hello 18"}, headers=auth)  # fmt: skip
        assert posted.status_code in (200, 201)
        listed = call("GET", f"{chat_path}/messages", "/chats/{chat_id}/messages", headers=auth)
        assert "hello 18" in listed.text
        assert call("GET", "/chats", "/chats", headers=auth).status_code == 200
        assert call("GET", chat_path, "/chats/{chat_id}", headers=auth).status_code == 200
        renamed = call("PATCH", chat_path, "/chats/{chat_id}", json={"title": "renamed"},
                       headers=auth)  # fmt: skip
        assert renamed.status_code == 200
        assert call("GET", "/ready", "/ready").status_code == 200

        # Whatever else the API has (routes added later too): once, with no body.
        for method, route in operations:
            if (method, route) in seen or route.startswith(("/users/me", "/chats/{")):
                continue
            call(method, re.sub(r"\{[^}]+\}", str(uuid.uuid4()), route), route, headers=auth)
        for method, route in operations:
            if (method, route) not in seen:
                path = re.sub(r"\{chat_id\}", str(chat["id"]), route)
                path = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)
                call(method, path, route, headers=auth)

    assert set(seen) == set(operations)


def test_one_line_hints_say_what_is_wrong(pg18: Pg18, cli: Callable[..., Result]) -> None:
    missing = make_url(pg18.url).set(database=f"nothere_{uuid.uuid4().hex[:6]}")
    missing_url = missing.render_as_string(hide_password=False)
    wrong = make_url(pg18.url).set(password="wrong").render_as_string(hide_password=False)
    unmigrated = pg18.database()

    no_database = cli(missing_url, "users", "list")
    bad_password = cli(wrong, "users", "list")
    no_schema = cli(unmigrated, "users", "list")
    serve = cli(wrong, "serve", "--port", str(free_port()))

    for result in (no_database, bad_password, no_schema, serve):
        assert result.returncode == 1
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "does not exist" in no_database.stderr
    assert "db create" in no_database.stderr
    assert "refused the password of user postgres" in bad_password.stderr
    assert "never migrated" in no_schema.stderr
    assert "db upgrade" in no_schema.stderr
    assert "refused the password" in serve.stderr


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A folder the server's account may enter when we are root (pytest's tmp_path is not)."""
    path = Path(tempfile.mkdtemp(prefix="memory-agent-db-"))
    path.chmod(0o755)  # our own new folder, nothing else widened
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_db_start_status_stop_manage_an_embedded_server(
    workdir: Path, cli: Callable[..., Result]
) -> None:
    url = f"postgresql://postgres:{quote('s%cret')}@localhost:{free_port()}/memorydb"

    before = cli(url, "db", "status", cwd=workdir)
    started = cli(url, "db", "start", cwd=workdir)
    try:
        again = cli(url, "db", "start", cwd=workdir)
        running = cli(url, "db", "status", cwd=workdir)
        created = cli(url, "db", "create", cwd=workdir)
        upgraded = cli(url, "db", "upgrade", cwd=workdir)
    finally:
        stopped = cli(url, "db", "stop", cwd=workdir)
    after = cli(url, "db", "status", cwd=workdir)

    assert "does not answer" in before.stdout
    assert "never started" in before.stdout
    assert started.returncode == 0, started.stderr
    assert "embedded PostgreSQL 18" in started.stdout
    assert "already answers" in again.stdout
    assert " answers" in running.stdout
    assert "running, data in" in running.stdout
    assert created.returncode == 0, created.stderr
    assert upgraded.returncode == 0, upgraded.stderr
    assert stopped.returncode == 0
    assert "stopped the embedded PostgreSQL" in stopped.stdout
    assert (workdir / ".data" / "postgres" / "PG_VERSION").exists()
    assert "does not answer" in after.stdout
    assert "stopped, data in" in after.stdout
    assert not answers(url)


def test_db_start_refuses_a_remote_url(tmp_path: Path, cli: Callable[..., Result]) -> None:
    # TEST-NET-1 (RFC 5737): never on this machine, whatever answers there.
    result = cli("postgresql://postgres@192.0.2.1:5432/memorydb", "db", "start", cwd=tmp_path)

    assert result.returncode == 1
    assert "not on this machine" in result.stderr
    assert not (tmp_path / ".data").exists()
