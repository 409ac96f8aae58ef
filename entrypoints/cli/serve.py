"""``memory-agent serve``: the API under uvicorn, with production defaults."""

import argparse
import os
import signal
from types import FrameType

import uvicorn

from adapters.sqlalchemy import diagnosis
from entrypoints.cli import database, local_server
from entrypoints.cli.runtime import CommandError
from entrypoints.settings import Settings


def run(args: argparse.Namespace, settings: Settings) -> int:
    if not args.start_database:
        _check(settings)
        return _serve(args, settings)
    # A SIGTERM must unwind through `finally`, like Ctrl-C, to stop the embedded server.
    signal.signal(signal.SIGTERM, _interrupt)
    embedded = local_server.ensure_server(settings.database_url)
    try:
        database.create_database(settings)
        _check(settings)
        return _serve(args, settings)
    finally:
        if embedded is not None:
            embedded.stop()
            local_server.announce("PostgreSQL: stopped the embedded server")


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _check(settings: Settings) -> None:
    """One line saying what is wrong with the database, rather than a startup traceback."""
    problem = diagnosis.check(settings.database_url, settings.db_connect_timeout_seconds)
    if problem is not None:
        raise CommandError(problem)


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    if not args.reload:
        # The workers inherit it: each takes its share of the CPUs for hashing.
        os.environ["WEB_CONCURRENCY"] = str(args.workers)
    uvicorn.run(
        "entrypoints.http.app:production_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=None if args.reload else args.workers,
        reload=args.reload,
        # uvicorn's access lines carry raw paths (ids, cursors): the app logs route templates.
        access_log=False,
        proxy_headers=False,  # the app decides whom to trust (TRUSTED_PROXIES)
        log_level=settings.log_level.lower(),
        log_config=None,  # the app logs JSON (entrypoints/logs.py); keep uvicorn's lines in it
        # httptools, plus bounds on each request head's size and arrival time. Named, like
        # the app, so the command line imports nothing of entrypoints.http.
        http="entrypoints.http.server_protocol:BoundedHttpToolsProtocol",
        timeout_graceful_shutdown=30,
        server_header=False,  # which server runs here is nobody's business
    )
    return 0


def add_parser(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    serve = commands.add_parser("serve", help="run the HTTP API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument(
        "--reload", action="store_true", help="restart on code changes (development)"
    )
    serve.add_argument(
        "--start-database",
        action="store_true",
        help="when nothing answers at a local DATABASE_URL, start an embedded PostgreSQL "
        "(data in .data/postgres), create the database, and stop the server on exit",
    )
