"""What every use-case command shares: its signature, errors, paging, the user lookup."""

import argparse
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar
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


async def every_page(fetch: Callable[[PageRequest], Awaitable[Page[T]]]) -> list[T]:
    """All items of a paged listing, following ``next`` to the end."""
    items: list[T] = []
    after: Position | None = None
    while True:
        page = await fetch(PageRequest(limit=PAGE_SIZE, after=after))
        items.extend(page.items)
        if page.next is None:
            return items
        after = page.next


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
