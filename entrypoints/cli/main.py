"""Command-line entry point: parse, dispatch, and turn failures into one line and an exit code."""

import argparse
import logging
import sys
from collections.abc import Sequence

from domain.errors import DomainError, ServiceUnavailable
from entrypoints.cli import database, serve
from entrypoints.settings import Settings

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

DATABASE_HINT = (
    "cannot reach PostgreSQL at {where}; start it (e.g. `docker compose up -d postgres`) "
    "or set DATABASE_URL"
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="memory-agent", description="Run and administer the memory-agent backend."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve.add_parser(commands)
    database.add_parser(commands)
    return parser


def _where(settings: Settings) -> str:
    from sqlalchemy.engine import make_url

    return make_url(settings.database_url).render_as_string(hide_password=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)  # exits 2 on a usage error
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    settings = Settings()
    try:
        if args.command == "serve":
            return serve.run(args, settings)
        output = database.run(args, settings)
    except ServiceUnavailable:
        print(f"error: {DATABASE_HINT.format(where=_where(settings))}", file=sys.stderr)
        return EXIT_FAILURE
    except DomainError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILURE
    except OSError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILURE
    except Exception as error:
        if _is_connection_error(error):
            print(f"error: {DATABASE_HINT.format(where=_where(settings))}", file=sys.stderr)
        else:
            print(f"error: {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_FAILURE
    print(output)
    return EXIT_OK


def _is_connection_error(error: BaseException) -> bool:
    import psycopg
    from sqlalchemy.exc import OperationalError

    return isinstance(error, psycopg.OperationalError | OperationalError)
