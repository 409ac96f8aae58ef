"""Which PostgreSQL to use: the one ``DATABASE_URL`` names, else an embedded one on this machine.

A server that answers is always preferred. An embedded server starts only for a URL that
points at this machine: a production deployment whose database is down must fail, never
silently switch to a local, empty database.
"""

import sys
from collections.abc import Callable
from pathlib import Path

from adapters.embedded_postgres import Address, EmbeddedPostgres, EmbeddedPostgresError, answers
from adapters.sqlalchemy.diagnosis import unreachable
from entrypoints.cli.runtime import CommandError

# Git-ignored, in the checkout: accounts and chats survive a restart of `make run`.
DATA_DIR = Path(".data") / "postgres"


def announce(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def ensure_server(
    database_url: str,
    data_dir: Path = DATA_DIR,
    say: Callable[[str], None] = announce,
) -> EmbeddedPostgres | None:
    """Make sure a server answers at ``database_url``; return the embedded one it started."""
    address = Address.parse(database_url)
    if answers(database_url):
        say(f"PostgreSQL: the server at {address} (already running)")
        return None
    if not address.is_local:
        raise CommandError(unreachable(database_url) + " (not on this machine: nothing started)")
    server = EmbeddedPostgres(data_dir, database_url)
    try:
        server.start()
    except EmbeddedPostgresError as error:
        raise CommandError(str(error)) from error
    say(f"PostgreSQL: {server.describe()}")
    return server


def stop(database_url: str, data_dir: Path = DATA_DIR) -> str:
    server = EmbeddedPostgres(data_dir, database_url)
    try:
        stopped = server.stop()
    except EmbeddedPostgresError as error:
        raise CommandError(str(error)) from error
    if stopped:
        return f"stopped the embedded PostgreSQL (data kept in {server.data_dir})"
    return f"no embedded PostgreSQL runs on {server.data_dir}"


def status(database_url: str, data_dir: Path = DATA_DIR) -> str:
    address = Address.parse(database_url)
    server = EmbeddedPostgres(data_dir, database_url)
    answer = "answers" if answers(database_url) else "does not answer"
    if server.running():
        embedded = f"running, data in {server.data_dir}"
    elif server.is_initialised():
        embedded = f"stopped, data in {server.data_dir}"
    else:
        embedded = f"never started (would keep its data in {server.data_dir})"
    return f"DATABASE_URL  {address} {answer}\nembedded      {embedded}"
