"""``memory-agent export --user EMAIL``: the document of ``GET /users/me/export``, on stdout."""

import argparse

from application.users import ExportUserData
from entrypoints.cli.output import Console
from entrypoints.cli.runtime import EXIT_OK, find_user
from entrypoints.container import Container
from entrypoints.export import export_document


async def run(args: argparse.Namespace, container: Container, console: Console) -> int:
    user = await find_user(container, args.user)
    export: ExportUserData = container.export_user_data()
    async for chunk in export_document(export.execute(user_id=user.id)):
        console.stdout.write(chunk)
    console.stdout.write("\n")
    console.stdout.flush()
    return EXIT_OK


def add_parser(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    export = commands.add_parser(
        "export", help="a user's data as JSON (the shape of GET /users/me/export)"
    )
    export.add_argument("--user", required=True, metavar="EMAIL")
    # Always JSON; accepted so that scripts may pass it to every command alike.
    export.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="no-op")
    export.set_defaults(handler=run)
