"""Command-line entry point: parse, dispatch, and turn failures into one line and an exit code."""

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence

from adapters.sqlalchemy import diagnosis
from domain.errors import DomainError, ServiceUnavailable
from entrypoints.cli import chats, data_export, database, runtime, serve, session, users
from entrypoints.cli.output import Console
from entrypoints.cli.runtime import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CommandError
from entrypoints.container import Container
from entrypoints.settings import Settings

__all__ = ["EXIT_FAILURE", "EXIT_OK", "EXIT_USAGE", "build_parser", "main"]

EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="memory-agent",
        description="Run and administer the memory-agent backend.",
        epilog=(
            "Exit codes: 0 success, 1 failure (one line on stderr), 2 usage error, "
            "130 interrupted (Ctrl-C)."
        ),
    )
    parser.add_argument(
        "--json", action="store_true", help="print JSON for scripts (any command below)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve.add_parser(commands)
    database.add_parser(commands)
    users.add_parser(commands)
    chats.add_parsers(commands)
    session.add_parser(commands)
    data_export.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None, container: Container | None = None) -> int:
    """Run one command. ``container`` replaces the one built from the environment (tests)."""
    args = build_parser().parse_args(argv)  # exits 2 on a usage error
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    settings: Settings | None = None
    try:
        settings = container.settings() if container is not None else Settings()
        if args.command == "serve":
            return serve.run(args, settings)
        if args.command == "db":
            print(database.run(args, settings))
            return EXIT_OK
        console = Console(sys.stdin, sys.stdout, sys.stderr, json=args.json)
        container = container or Container(settings=settings)
        return asyncio.run(runtime.run(args.handler, args, container, console))
    except CommandError as error:
        return _fail(str(error), error.exit_code)
    except ServiceUnavailable as error:
        url = _database_url(settings)
        return _fail(diagnosis.explain(error, url) or diagnosis.unreachable(url))
    except DomainError as error:
        return _fail(str(error))
    except KeyboardInterrupt:
        # Ctrl-C is how a person stops a command (and leaves `chat`): not an error.
        if sys.stderr.isatty():
            print(file=sys.stderr)  # the shell's prompt on a line of its own
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()  # the reader went away (`| head`): nothing left to say
        return EXIT_FAILURE
    except OSError as error:
        return _fail(str(error))
    except Exception as error:
        hint = diagnosis.explain(error, _database_url(settings))
        return _fail(hint or f"{type(error).__name__}: {error}")


def _fail(message: str, exit_code: int = EXIT_FAILURE) -> int:
    """Report on one line, whatever the message holds."""
    print(f"error: {' '.join(message.split())}", file=sys.stderr)
    return exit_code


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # not a real file (tests capture it)
        pass


def _database_url(settings: Settings | None) -> str:
    return (
        settings.database_url
        if settings is not None
        else Settings.model_fields["database_url"].get_default()
    )
