"""``memory-agent chat --user EMAIL [CHAT_ID]``: talk in a chat, one line per message.

Each line goes through ``PostMessage`` exactly as ``POST /chats/{id}/messages``
does; the reply is printed (one JSON object per line with ``--json``). Blank
lines are skipped; ``/quit`` or the end of input ends the session. Works the
same with a terminal or piped input.
"""

import argparse

from application.chats import CreateChat, GetChat
from application.messages import PostMessage
from domain.chats import Chat
from domain.errors import InvalidInput
from domain.sessions import Caller
from domain.users import User
from entrypoints.cli.output import Console
from entrypoints.cli.runtime import EXIT_FAILURE, EXIT_OK, chat_id, find_user, json_flag
from entrypoints.container import Container
from entrypoints.shapes import MessageResponse

QUIT = "/quit"
PROMPT = "you> "


async def _open(args: argparse.Namespace, container: Container, user: User) -> Chat:
    if args.chat_id is None:
        create_chat: CreateChat = container.create_chat()
        return await create_chat.execute(caller=Caller(user.id), title=args.title)
    get_chat: GetChat = container.get_chat()
    return await get_chat.execute(caller=Caller(user.id), chat_id=args.chat_id)


def _next_line(console: Console) -> str | None:
    """The next line without its line ending; None at the end of input."""
    if console.interactive:
        console.stderr.write(PROMPT)
        console.stderr.flush()
    line = console.stdin.readline()
    if not line:
        if console.interactive:
            console.stderr.write("\n")
        return None
    return line.removesuffix("\n").removesuffix("\r")


async def run(args: argparse.Namespace, container: Container, console: Console) -> int:
    user = await find_user(container, args.user)
    chat = await _open(args, container, user)
    post: PostMessage = container.post_message()
    console.note(f"chat {chat.id} ({chat.title!r}) of {user.email}; {QUIT} or end of input ends")
    refused = 0
    while (line := _next_line(console)) is not None:
        if not line.strip():
            continue
        if line.strip() == QUIT:
            break
        try:
            reply = await post.execute(caller=Caller(user.id), chat_id=chat.id, content=line)
        except InvalidInput as error:  # this message only; the session goes on
            console.note(f"error: {error}")
            refused += 1
            continue
        if console.json:
            console.emit_json(MessageResponse.of(reply).model_dump(mode="json"), compact=True)
        else:
            console.out(reply.content)
    return EXIT_FAILURE if refused else EXIT_OK


def add_parser(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    chat = commands.add_parser(
        "chat",
        parents=[json_flag()],
        help="talk in a chat from the terminal or a pipe (a new chat unless CHAT_ID)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    chat.add_argument("--user", required=True, metavar="EMAIL", help="whose chat")
    chat.add_argument("chat_id", nargs="?", type=chat_id, metavar="CHAT_ID")
    chat.add_argument("--title", help="the title of the new chat (default: 'New chat')")
    chat.set_defaults(handler=run)
