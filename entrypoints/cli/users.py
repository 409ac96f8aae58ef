"""``memory-agent users create|list|delete|sessions|logout|set-password``: accounts, as the
operator."""

import argparse
import getpass

from application.admin import DeleteUser, ListUsers, UserSummary
from application.auth import RegisterUser
from application.sessions import ListSessions, RevokeOtherSessions
from application.users import SetPassword
from domain.errors import UserNotFound
from entrypoints.cli.output import Console, table, when
from entrypoints.cli.runtime import (
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    confirm,
    every_page,
    find_user,
    json_flag,
    limit_flag,
    no_user,
    yes_flag,
)
from entrypoints.container import Container
from entrypoints.shapes import SessionResponse, UserResponse

CREATED_BY = "memory-agent users create"


def _read_password(args: argparse.Namespace, console: Console) -> str:
    if args.password_stdin:
        # Exactly what was sent, but for the newline that ends `echo` or a file.
        return console.stdin.read().removesuffix("\n").removesuffix("\r")
    if not console.interactive:
        raise CommandError(
            "no terminal to ask for the password; pipe it in with --password-stdin", EXIT_USAGE
        )
    password = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != password:
        raise CommandError("the passwords do not match")
    return password


async def create(args: argparse.Namespace, container: Container, console: Console) -> int:
    password = _read_password(args, console)
    register: RegisterUser = container.register_user()
    # Registering signs in, as over HTTP; the session says where it came from.
    await register.execute(email=args.email, password=password, user_agent=CREATED_BY)
    user = await find_user(container, args.email)
    if console.json:
        console.emit_json(UserResponse.of(user).model_dump(mode="json"))
    else:
        console.out(f"created user {user.email} ({user.id})")
    return EXIT_OK


def _summary_json(user: UserSummary) -> dict[str, object]:
    shown = UserResponse(id=user.id, email=user.email, created_at=user.created_at)
    return {**shown.model_dump(mode="json"), "chat_count": user.chat_count}


async def list_(args: argparse.Namespace, container: Container, console: Console) -> int:
    list_users: ListUsers = container.list_users()
    users = await every_page(lambda page: list_users.execute(page=page), args.limit)
    if console.json:
        console.emit_json([_summary_json(u) for u in users])
    elif not users:
        console.note("no users")
    else:
        rows = [(u.id, u.email, when(u.created_at), u.chat_count) for u in users]
        console.out(table(["id", "email", "created_at", "chats"], rows))
    return EXIT_OK


async def delete(args: argparse.Namespace, container: Container, console: Console) -> int:
    confirm(
        f"Erase the account {args.email.strip()} and all its chats and messages?",
        yes=args.yes,
        stdin=console.stdin,
        stderr=console.stderr,
    )
    delete_user: DeleteUser = container.delete_user()
    try:
        user = await delete_user.execute(email=args.email)
    except UserNotFound:
        raise no_user(args.email) from None
    if console.json:
        console.emit_json({"deleted": UserResponse.of(user).model_dump(mode="json")})
    else:
        console.out(f"deleted user {user.email} ({user.id}) and everything they owned")
    return EXIT_OK


async def sessions(args: argparse.Namespace, container: Container, console: Console) -> int:
    user = await find_user(container, args.email)
    list_sessions: ListSessions = container.list_sessions()
    found = await list_sessions.execute(user_id=user.id)
    if console.json:
        # The API's shape but ``current``: the operator has no session of their own.
        shown = [
            SessionResponse.listed(s, current=False).model_dump(mode="json", exclude={"current"})
            for s in found
        ]
        console.emit_json(shown)
    elif not found:
        console.note(f"{user.email} is signed in nowhere")
    else:
        rows = [
            (
                s.id,
                when(s.created_at),
                when(s.last_used_at or s.created_at),
                s.client_address or "",
                s.user_agent or "",
            )
            for s in found
        ]
        console.out(
            table(["id", "created_at", "last_used_at", "client_address", "user_agent"], rows)
        )
    return EXIT_OK


async def logout(args: argparse.Namespace, container: Container, console: Console) -> int:
    user = await find_user(container, args.email)
    revoke: RevokeOtherSessions = container.revoke_other_sessions()
    await revoke.execute(user_id=user.id, keep=None)
    if console.json:
        console.emit_json({"logged_out": UserResponse.of(user).model_dump(mode="json")})
    else:
        console.out(f"ended every session of {user.email}")
    return EXIT_OK


async def set_password(args: argparse.Namespace, container: Container, console: Console) -> int:
    user = await find_user(container, args.email)
    password = _read_password(args, console)
    set_: SetPassword = container.set_password()
    await set_.execute(user_id=user.id, password=password)
    if console.json:
        console.emit_json({"password_set": UserResponse.of(user).model_dump(mode="json")})
    else:
        console.out(f"set a new password for {user.email}; every session of theirs ended")
    return EXIT_OK


def add_parser(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    users = commands.add_parser(
        "users", help="create, list and delete accounts; their sessions and passwords"
    )
    actions = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    json = json_flag()

    create_ = actions.add_parser(
        "create", parents=[json], help="register an account (same rules as the API)"
    )
    create_.add_argument("email")
    create_.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input instead of prompting",
    )
    create_.set_defaults(handler=create)

    listing = actions.add_parser(
        "list", parents=[json, limit_flag()], help="every account with its chat count"
    )
    listing.set_defaults(handler=list_)

    delete_ = actions.add_parser(
        "delete",
        parents=[json, yes_flag()],
        help="erase an account and everything it owns (asks first on a terminal)",
    )
    delete_.add_argument("email")
    delete_.set_defaults(handler=delete)

    sessions_ = actions.add_parser(
        "sessions", parents=[json], help="where the account is signed in, latest first"
    )
    sessions_.add_argument("email")
    sessions_.set_defaults(handler=sessions)

    logout_ = actions.add_parser(
        "logout", parents=[json], help="end every session of the account (tokens stop working)"
    )
    logout_.add_argument("email")
    logout_.set_defaults(handler=logout)

    set_password_ = actions.add_parser(
        "set-password",
        parents=[json],
        help="give the account a new password (policy applies; every session ends)",
    )
    set_password_.add_argument("email")
    set_password_.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input instead of prompting",
    )
    set_password_.set_defaults(handler=set_password)
