"""``memory-agent db ...``: run a local server, create the database, move its schema."""

import argparse
import sys

import psycopg
from psycopg import sql
from sqlalchemy import create_engine, pool
from sqlalchemy.engine import make_url

from adapters.sqlalchemy import migrate
from adapters.sqlalchemy.database import psycopg_url
from entrypoints.cli import local_server
from entrypoints.cli.runtime import confirm, yes_flag
from entrypoints.settings import Settings


def create_database(settings: Settings) -> str:
    """Create the migrations' database unless it exists; say which happened."""
    url = make_url(settings.migration_url)
    name = url.database or "postgres"
    admin = url.set(drivername="postgresql", database="postgres")
    conninfo = admin.render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as connection:
        found = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if found:
            return f"database {name} already exists"
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return f"created database {name}"


def current(settings: Settings) -> str:
    engine = create_engine(psycopg_url(settings.migration_url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            revision = migrate.current_revision(connection)
    finally:
        engine.dispose()
    head = migrate.head_revision()
    state = "up to date" if revision == head else f"head is {head}"
    return f"{revision or 'empty (no migrations applied)'} ({state})"


def start(settings: Settings) -> str:
    server = local_server.ensure_server(settings.database_url, say=lambda _: None)
    if server is None:
        return "a PostgreSQL server already answers at DATABASE_URL; nothing started"
    return f"started {server.describe()}; `memory-agent db stop` stops it"


def run(args: argparse.Namespace, settings: Settings) -> str:
    if args.db_command == "start":
        return start(settings)
    if args.db_command == "stop":
        return local_server.stop(settings.database_url)
    if args.db_command == "status":
        return local_server.status(settings.database_url)
    if args.db_command == "create":
        return create_database(settings)
    if args.db_command == "upgrade":
        migrate.upgrade(
            settings.migration_url,
            args.revision,
            statement_timeout_ms=settings.statement_timeout_on_database,
        )
        return f"database upgraded to {args.revision}"
    if args.db_command == "downgrade":
        where = make_url(settings.migration_url).render_as_string(hide_password=True)
        confirm(
            f"Revert the schema of {where} to {args.revision}? "
            "Tables and columns removed on the way lose their data.",
            yes=args.yes,
            stdin=sys.stdin,
            stderr=sys.stderr,
        )
        migrate.downgrade(settings.migration_url, args.revision)
        return f"database downgraded to {args.revision}"
    return current(settings)


def add_parser(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    db = commands.add_parser(
        "db", help="run a local PostgreSQL, create the database, migrate its schema"
    )
    actions = db.add_subparsers(dest="db_command", required=True)
    actions.add_parser(
        "start",
        help="start an embedded PostgreSQL where DATABASE_URL points (this machine only; "
        "nothing to do when a server answers there)",
    )
    actions.add_parser("stop", help="stop the embedded PostgreSQL (its data stays)")
    actions.add_parser("status", help="whether DATABASE_URL answers and the embedded one runs")
    actions.add_parser(
        "create",
        help="create the database when it is missing (MIGRATION_DATABASE_URL, or DATABASE_URL)",
    )
    upgrade = actions.add_parser("upgrade", help="apply migrations (default: to head)")
    upgrade.add_argument("revision", nargs="?", default="head")
    downgrade = actions.add_parser(
        "downgrade",
        parents=[yes_flag()],
        help="revert migrations (default: one step; asks first on a terminal)",
    )
    downgrade.add_argument("revision", nargs="?", default="-1")
    actions.add_parser("current", help="show the schema's revision")
