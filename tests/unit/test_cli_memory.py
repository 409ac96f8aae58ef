"""The CLI's ``chat`` command on the in-memory adapters: it needs ports, not PostgreSQL.

The container's database URL points at a closed port, so any use of the SQL
adapters would fail the commands with "cannot reach PostgreSQL".
"""

import io
import json
import sys
from collections.abc import Callable, Iterator

import pytest
from dependency_injector import providers

from domain.chats import Chat, Message, Role
from entrypoints.cli.main import main
from entrypoints.container import Container, use_memory_adapters
from entrypoints.settings import Settings

EMAIL = "ada@example.com"
PASSWORD = "correct horse battery staple"
REPLY = "Message received"


class InstantHasher:
    """Satisfies the ``PasswordHasher`` port without Argon2's cost."""

    async def hash(self, password: str) -> str:
        return "plain$" + password

    async def verify(self, password: str, password_hash: str) -> tuple[bool, str | None]:
        return password_hash == "plain$" + password, None

    async def burn(self, password: str) -> None:
        return None


@pytest.fixture
def container() -> Iterator[Container]:
    settings = Settings(database_url="postgresql://nobody@127.0.0.1:1/nowhere")
    container = Container(settings=settings)
    use_memory_adapters(container)
    with container.password_hasher.override(providers.Object(InstantHasher())):
        yield container


Cli = Callable[..., int]


@pytest.fixture
def cli(container: Container, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """Run ``main`` on the container with ``stdin`` as its input (not a terminal)."""

    def run(*argv: str, stdin: str = "") -> int:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        return main(list(argv), container=container)

    return run


@pytest.fixture
def ada(cli: Cli, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("users", "create", EMAIL, "--password-stdin", stdin=PASSWORD + "\n") == 0
    capsys.readouterr()


def _stored(container: Container) -> list[tuple[Role, str]]:
    state = container.memory_store().state
    messages = sorted(state.messages.values(), key=lambda m: (m.created_at, m.id))
    return [(m.role, m.content) for m in messages]


@pytest.mark.usefixtures("ada")
def test_chat_posts_through_the_use_cases_on_memory(
    cli: Cli, container: Container, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli("chat", "--user", EMAIL, stdin="hello\n\n  \nhow are you?\n/quit\nignored\n")

    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out == f"{REPLY}\n{REPLY}\n"
    state = container.memory_store().state
    [chat] = state.chats.values()
    assert chat.title == "New chat"
    assert chat.user_id == next(iter(state.users.values())).id
    assert _stored(container) == [
        (Role.USER, "hello"),
        (Role.ASSISTANT, REPLY),
        (Role.USER, "how are you?"),
        (Role.ASSISTANT, REPLY),
    ]


@pytest.mark.usefixtures("ada")
def test_chat_continues_a_chat_and_answers_in_json(
    cli: Cli, container: Container, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli("chat", "--user", EMAIL, stdin="first\n") == 0
    [chat] = container.memory_store().state.chats.values()
    capsys.readouterr()

    assert cli("--json", "chat", "--user", EMAIL, str(chat.id), stdin="second") == 0

    [reply] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert reply["chat_id"] == str(chat.id)
    assert reply["role"] == "assistant"
    assert reply["content"] == REPLY
    assert len(container.memory_store().state.chats) == 1
    assert [content for _, content in _stored(container)][::2] == ["first", "second"]


@pytest.mark.usefixtures("ada")
def test_chat_with_empty_input_ends_and_leaves_no_chat(
    cli: Cli, container: Container, capsys: pytest.CaptureFixture[str]
) -> None:
    # The chat is opened at the first message: a session that says nothing leaves nothing.
    assert cli("chat", "--user", EMAIL, "--title", "Plans", stdin="\n/help\n") == 0

    assert capsys.readouterr().out == ""
    assert container.memory_store().state.chats == {}
    assert _stored(container) == []


@pytest.mark.usefixtures("ada")
def test_users_delete_without_a_terminal_or_yes_deletes_nothing(
    cli: Cli, container: Container, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli("users", "delete", EMAIL) == 2

    assert "--yes" in capsys.readouterr().err
    assert len(container.memory_store().state.users) == 1
    assert cli("users", "delete", EMAIL, "--yes") == 0
    assert container.memory_store().state.users == {}


def test_chat_for_an_unknown_user_is_one_line(
    cli: Cli, container: Container, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli("chat", "--user", "nobody@example.com", stdin="hello\n") == 1

    captured = capsys.readouterr()
    assert captured.err == "error: no user with email 'nobody@example.com'\n"
    assert captured.out == ""
    assert container.memory_store().state.chats == {}


HOSTILE = "\x1b]0;owned\x07\x1b[31mred\x1b[0m\x9b2J\u202eevil\nline\ttab\x7f"


@pytest.mark.usefixtures("ada")
def test_operator_views_escape_every_control_character(
    cli: Cli, container: Container, capsys: pytest.CaptureFixture[str]
) -> None:
    state = container.memory_store().state
    [user] = state.users.values()
    chat = Chat(user_id=user.id, title=HOSTILE)
    state.chats[chat.id] = chat
    message = Message(chat_id=chat.id, user_id=user.id, role=Role.USER, content=HOSTILE)
    state.messages[message.id] = message

    for argv in (
        ["chats", "list", "--user", EMAIL],
        ["chats", "show", str(chat.id), "--messages"],
        ["messages", "list", str(chat.id)],
    ):
        assert cli(*argv) == 0
        out = capsys.readouterr().out
        shown = "\\x1b]0;owned\\x07\\x1b[31mred\\x1b[0m\\x9b2J\\u202eevil\\nline\\ttab\\x7f"
        assert shown in out, argv
        unsafe = [c for c in out if c != "\n" and (ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0)]
        assert unsafe == [], argv
        assert "\u202e" not in out, argv
