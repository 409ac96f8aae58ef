"""What every use-case command shares: its signature, errors, paging, the user lookup."""

import argparse
import signal
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TextIO, TypeVar
from uuid import UUID

from application.admin import FindUserByEmail
from domain.errors import UserNotFound
from domain.paging import Page, PageRequest, Position
from domain.users import User
from entrypoints.cli.output import Console
from entrypoints.container import Container, stop

T = TypeVar("T")

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
PAGE_SIZE = 500

Handler = Callable[[argparse.Namespace, Container, Console], Coroutine[Any, Any, int]]


class CommandError(Exception):
    """A failure to report as one line, with the exit code it deserves."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


async def run(
    handler: Handler, args: argparse.Namespace, container: Container, console: Console
) -> int:
    """Run one command in this event loop; leave no connection behind for the next loop."""
    try:
        return await handler(args, container, console)
    finally:
        await stop(container)


async def every_page(
    fetch: Callable[[PageRequest], Awaitable[Page[T]]], limit: int | None = None
) -> list[T]:
    """The items of a paged listing, following ``next`` to the end or to ``limit`` items."""
    items: list[T] = []
    after: Position | None = None
    while limit is None or len(items) < limit:
        size = PAGE_SIZE if limit is None else min(PAGE_SIZE, limit - len(items))
        page = await fetch(PageRequest(limit=size, after=after))
        items.extend(page.items)
        if page.next is None:
            break
        after = page.next
    return items


def positive(text: str) -> int:
    """An argparse type: a count of at least 1, or a usage error (exit 2)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"not a whole number of at least 1: {text!r}")
    return value


def limit_flag() -> argparse.ArgumentParser:
    """``--limit N`` on a listing: at most N items, in the listing's order."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--limit", type=positive, metavar="N", help="show at most N (default: all)")
    return parent


def yes_flag() -> argparse.ArgumentParser:
    """``--yes`` on a destructive command: do it without asking."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--yes", "-y", action="store_true", help="do not ask for confirmation (scripts)"
    )
    return parent


def confirm(question: str, *, yes: bool, stdin: TextIO, stderr: TextIO) -> None:
    """Go on when ``--yes`` was given or the person at the terminal agrees.

    Without a terminal there is nobody to ask, so a script must say ``--yes``: an
    unattended run never destroys data by default.
    """
    if yes:
        return
    if not stdin.isatty():
        raise CommandError(
            "this destroys data: confirm on a terminal, or add --yes to go on without asking",
            EXIT_USAGE,
        )
    stderr.write(f"{question} [y/N] ")
    stderr.flush()
    with interrupt_at_once():
        answer = stdin.readline()
    if answer.strip().lower() not in {"y", "yes"}:
        raise CommandError("cancelled; nothing was changed")


@contextmanager
def interrupt_at_once() -> Iterator[None]:
    """Let Ctrl-C raise KeyboardInterrupt wherever the command is, even mid-read.

    ``asyncio.run`` turns SIGINT into a cancellation delivered at the next ``await``,
    which a blocking read of the terminal only reaches after the next Enter.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def no_user(email: str) -> CommandError:
    return CommandError(f"no user with email {email.strip()!r}")


async def find_user(container: Container, email: str) -> User:
    find: FindUserByEmail = container.find_user_by_email()
    try:
        return await find.execute(email=email)
    except UserNotFound:
        raise no_user(email) from None


def chat_id(text: str) -> UUID:
    """An argparse type: a chat id, or a usage error (exit 2)."""
    try:
        return UUID(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a chat id (a UUID): {text!r}") from None


def json_flag() -> argparse.ArgumentParser:
    """``--json`` on a command; it does not undo a ``--json`` given before the command."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print JSON for scripts"
    )
    return parent
