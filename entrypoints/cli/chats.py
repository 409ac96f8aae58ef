"""``memory-agent chats list|show`` and ``messages list``: conversations, as the operator."""

import argparse
from uuid import UUID

from application.admin import ChatOverview, GetChatAdmin, ListMessagesAdmin
from application.chats import ListChats
from domain.chats import Message
from domain.sessions import Caller
from entrypoints.cli.output import Console, fields, table, when
from entrypoints.cli.runtime import (
    EXIT_OK,
    chat_id,
    every_page,
    find_user,
    json_flag,
    limit_flag,
)
from entrypoints.container import Container
from entrypoints.shapes import ChatResponse, MessageResponse


async def list_(args: argparse.Namespace, container: Container, console: Console) -> int:
    user = await find_user(container, args.user)
    list_chats: ListChats = container.list_chats()
    chats = await every_page(
        lambda page: list_chats.execute(caller=Caller(user.id), page=page), args.limit
    )
    if console.json:
        console.emit_json([ChatResponse.of(c).model_dump(mode="json") for c in chats])
    elif not chats:
        console.note(f"{user.email} has no chats")
    else:
        rows = [(c.id, c.title, when(c.created_at), when(c.updated_at)) for c in chats]
        console.out(table(["id", "title", "created_at", "updated_at"], rows))
    return EXIT_OK


async def _messages(container: Container, chat: UUID, limit: int | None) -> list[Message]:
    list_messages: ListMessagesAdmin = container.list_messages_admin()
    return await every_page(lambda page: list_messages.execute(chat_id=chat, page=page), limit)


def _messages_table(messages: list[Message]) -> str:
    rows = [(when(m.created_at), m.role.value, m.content) for m in messages]
    return table(["created_at", "role", "content"], rows)


def _overview_json(overview: ChatOverview, messages: list[Message] | None) -> dict[str, object]:
    shown: dict[str, object] = {
        **ChatResponse.of(overview.chat).model_dump(mode="json"),
        "owner_email": overview.owner_email,
        "message_count": overview.message_count,
    }
    if messages is not None:
        shown["messages"] = [MessageResponse.of(m).model_dump(mode="json") for m in messages]
    return shown


async def show(args: argparse.Namespace, container: Container, console: Console) -> int:
    get_chat: GetChatAdmin = container.get_chat_admin()
    overview = await get_chat.execute(chat_id=args.chat_id)
    messages = await _messages(container, args.chat_id, args.limit) if args.messages else None
    if console.json:
        console.emit_json(_overview_json(overview, messages))
        return EXIT_OK
    chat = overview.chat
    details: list[tuple[str, object]] = [
        ("id", chat.id),
        ("title", chat.title),
        ("owner", f"{overview.owner_email} ({chat.user_id})"),
        ("created_at", when(chat.created_at)),
        ("updated_at", when(chat.updated_at)),
        ("messages", overview.message_count),
    ]
    console.out(fields(details))
    if messages:
        console.out("")
        console.out(_messages_table(messages))
    return EXIT_OK


async def list_messages(args: argparse.Namespace, container: Container, console: Console) -> int:
    messages = await _messages(container, args.chat_id, args.limit)
    if console.json:
        console.emit_json([MessageResponse.of(m).model_dump(mode="json") for m in messages])
    elif not messages:
        console.note("no messages in this chat")
    else:
        console.out(_messages_table(messages))
    return EXIT_OK


def add_parsers(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    json, limit = json_flag(), limit_flag()

    chats = commands.add_parser("chats", help="look at anyone's chats")
    chat_actions = chats.add_subparsers(dest="chats_command", required=True, metavar="ACTION")
    listing = chat_actions.add_parser(
        "list", parents=[json, limit], help="a user's chats, most recently active first"
    )
    listing.add_argument("--user", required=True, metavar="EMAIL")
    listing.set_defaults(handler=list_)
    show_ = chat_actions.add_parser(
        "show", parents=[json, limit], help="one chat: owner, dates, message count"
    )
    show_.add_argument("chat_id", type=chat_id, metavar="CHAT_ID")
    show_.add_argument(
        "--messages",
        action="store_true",
        help="also print the conversation (its first N messages with --limit)",
    )
    show_.set_defaults(handler=show)

    messages = commands.add_parser("messages", help="read any chat's messages")
    message_actions = messages.add_subparsers(
        dest="messages_command", required=True, metavar="ACTION"
    )
    listing = message_actions.add_parser(
        "list", parents=[json, limit], help="the conversation of a chat, oldest first"
    )
    listing.add_argument("chat_id", type=chat_id, metavar="CHAT_ID")
    listing.set_defaults(handler=list_messages)
