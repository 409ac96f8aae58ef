"""``memory-agent chat --user EMAIL [CHAT_ID]``: talk in a chat, one line per message.

Each line goes through ``PostMessage`` exactly as ``POST /chats/{id}/messages``
does; the reply is printed (one JSON object per line with ``--json``). Blank
lines are skipped; ``/exit``, ``/quit``, the end of input (Ctrl-D) or Ctrl-C end
the session; ``/help`` lists these. A new chat is opened at the first message, so
a session that posts nothing leaves nothing behind. On a terminal, lines can be
edited and recalled (readline); piped input works the same without it.
"""

import argparse
import sys

from application.chats import CreateChat, GetChat
from application.messages import PostMessage
from domain.chats import Chat, Message, TextLimits
from domain.errors import InvalidInput
from domain.sessions import Caller
from domain.users import User
from entrypoints.cli.output import Console
from entrypoints.cli.runtime import (
    EXIT_FAILURE,
    EXIT_OK,
    chat_id,
    find_user,
    interrupt_at_once,
    json_flag,
)
from entrypoints.container import Container
from entrypoints.shapes import MessageResponse

EXIT_COMMANDS = frozenset({"/exit", "/quit"})
HELP_COMMAND = "/help"
PROMPT = "you> "
HELP = """\
Type a message and press Enter; the assistant's reply is printed.
  /help          this text
  /exit, /quit   end the session (so do Ctrl-D and Ctrl-C)
Blank lines are skipped. On a terminal, arrow keys edit and recall lines."""


class _Lines:
    """The session's input: edited with readline on a terminal, read plainly otherwise."""

    def __init__(self, console: Console) -> None:
        self._console = console
        # input() edits lines only when both ends are the terminal; otherwise it
        # would write the prompt to stdout, which holds only the replies.
        self._edited = (
            console.interactive
            and console.stdin is sys.stdin
            and console.stdout is sys.stdout
            and sys.stdout.isatty()
        )
        if self._edited:
            import readline  # noqa: F401  (importing it gives input() editing and history)

    def next(self) -> str | None:
        """The next line without its line ending; None at the end of input."""
        if self._edited:
            try:
                return input(PROMPT)
            except EOFError:
                self._console.note("")
                return None
        if self._console.interactive:
            self._console.stderr.write(PROMPT)
            self._console.stderr.flush()
        line = self._console.stdin.readline()
        if not line:
            if self._console.interactive:
                self._console.note("")
            return None
        return line.removesuffix("\n").removesuffix("\r")


class _Session:
    """One user's conversation; the chat is opened when the first message is sent."""

    def __init__(self, args: argparse.Namespace, container: Container, user: User) -> None:
        self._container = container
        self._user = user
        self._limits: TextLimits = container.text_limits()
        self._title = self._limits.title(args.title)  # a bad title fails before any typing
        self._chat_id = args.chat_id
        self._post: PostMessage = container.post_message()

    async def open_existing(self) -> Chat | None:
        if self._chat_id is None:
            return None
        get_chat: GetChat = self._container.get_chat()
        return await get_chat.execute(caller=Caller(self._user.id), chat_id=self._chat_id)

    async def post(self, content: str, console: Console) -> Message:
        if self._chat_id is None:
            self._limits.content(content)  # a refused first message opens no chat
            create_chat: CreateChat = self._container.create_chat()
            chat = await create_chat.execute(caller=Caller(self._user.id), title=self._title)
            self._chat_id = chat.id
            console.note(f"opened chat {chat.id} ({chat.title!r})")
        return await self._post.execute(
            caller=Caller(self._user.id), chat_id=self._chat_id, content=content
        )


async def run(args: argparse.Namespace, container: Container, console: Console) -> int:
    user = await find_user(container, args.user)
    session = _Session(args, container, user)
    chat = await session.open_existing()
    where = f"chat {chat.id} ({chat.title!r})" if chat else "a new chat"
    lines = _Lines(console)
    refused = 0
    with interrupt_at_once():
        console.note(f"{where} of {user.email}; {HELP_COMMAND} for help, /exit to end")
        while (line := lines.next()) is not None:
            command = line.strip()
            if not command:
                continue
            if command in EXIT_COMMANDS:
                break
            if command == HELP_COMMAND:
                console.note(HELP)
                continue
            try:
                reply = await session.post(line, console)
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
