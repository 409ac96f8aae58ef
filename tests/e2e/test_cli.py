"""The ``memory-agent`` command line, run as a process on the run's PostgreSQL database."""

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql
from sqlalchemy.engine import make_url

from tests.e2e.conftest import PASSWORD, new_email
from tests.e2e.terminal import Terminal, wait_until_reading

REPO = Path(__file__).resolve().parents[2]
CONSOLE_SCRIPT = Path(sys.executable).parent / "memory-agent"
UNREACHABLE = "postgresql://postgres@127.0.0.1:1/memorydb"

Run = Callable[..., subprocess.CompletedProcess[str]]


def _run(
    database_url: str,
    *args: str,
    stdin: str = "",
    env: dict[str, str] | None = None,
    program: tuple[str, ...] = (sys.executable, "-m", "entrypoints.cli"),
) -> subprocess.CompletedProcess[str]:
    # ``stdin`` is always a pipe, never a terminal, as in a script or CI.
    return subprocess.run(
        [*program, *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "DATABASE_URL": database_url, **(env or {})},
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def cli(database_url: str) -> Run:
    def run(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return _run(database_url, *args, **kwargs)

    return run


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def failed(result: subprocess.CompletedProcess[str], exit_code: int = 1) -> str:
    """The one line on stderr of a failed run."""
    assert result.returncode == exit_code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def create_user(cli: Run, email: str | None = None) -> str:
    email = email or new_email()
    ok(cli("users", "create", email, "--password-stdin", stdin=PASSWORD + "\n"))
    return email


def talk(cli: Run, email: str, *lines: str, chat: str | None = None) -> list[dict[str, Any]]:
    """Post ``lines`` in a chat with ``--json``; the replies."""
    args = ["chat", "--user", email, "--json", *([chat] if chat else [])]
    out = ok(cli(*args, stdin="".join(f"{line}\n" for line in lines)))
    return [json.loads(line) for line in out.splitlines()]


def json_of(cli: Run, *args: str) -> Any:
    return json.loads(ok(cli(*args, "--json")))


@dataclass(frozen=True)
class Account:
    email: str
    chat_ids: list[str]  # oldest first


@pytest.fixture(scope="module")
def alice(cli: Run) -> Account:
    """A user with two chats: "first", "second" in one, "third" in the next. Read only."""
    email = create_user(cli)
    first = talk(cli, email, "first", "second")[0]["chat_id"]
    second = talk(cli, email, "third")[0]["chat_id"]
    return Account(email, [first, second])


def export_of(cli: Run, email: str) -> dict[str, Any]:
    exported: dict[str, Any] = json.loads(ok(cli("export", "--user", email)))
    return exported


def conversations(cli: Run, email: str) -> list[list[str]]:
    """Each chat's message contents, oldest chat first."""
    return [[m["content"] for m in chat["messages"]] for chat in export_of(cli, email)["chats"]]


REPLY = "Message received"


# --- users ----------------------------------------------------------------------


def test_users_create_registers_through_the_api_rules(cli: Run) -> None:
    email = new_email()
    out = ok(cli("users", "create", email.upper(), "--password-stdin", stdin=PASSWORD + "\n"))

    assert out.startswith(f"created user {email} (")
    [listed] = [u for u in json_of(cli, "users", "list") if u["email"] == email]
    assert listed["chat_count"] == 0
    assert f"({listed['id']})" in out


def test_users_create_json_account_logs_in_over_http(cli: Run, client: TestClient) -> None:
    email = new_email()
    result = cli("--json", "users", "create", email, "--password-stdin", stdin=PASSWORD)

    created = json.loads(ok(result))
    assert created["email"] == email
    assert set(created) == {"id", "email", "created_at"}
    response = client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text


def test_users_create_refuses_a_taken_email(cli: Run, alice: Account) -> None:
    result = cli("users", "create", alice.email, "--password-stdin", stdin="another passphrase")
    assert failed(result) == "error: An account with this email already exists."


def test_users_create_refuses_a_weak_password(cli: Run) -> None:
    result = cli("users", "create", new_email(), "--password-stdin", stdin="short\n")
    assert "at least 8 characters" in failed(result)


@pytest.mark.parametrize("email", ["", "not-an-email"])
def test_users_create_refuses_what_the_api_refuses(cli: Run, email: str) -> None:
    result = cli("users", "create", email, "--password-stdin", stdin=PASSWORD)
    assert "valid email address" in failed(result)


def test_users_create_without_a_terminal_wants_password_stdin(cli: Run) -> None:
    line = failed(cli("users", "create", new_email()), exit_code=2)
    assert "--password-stdin" in line


def test_users_list_is_an_aligned_table(cli: Run, alice: Account) -> None:
    lines = ok(cli("users", "list")).splitlines()

    assert lines[0].split() == ["ID", "EMAIL", "CREATED_AT", "CHATS"]
    [row] = [line for line in lines if alice.email in line]
    assert row.split()[-1] == "2"
    assert row.index(alice.email) == lines[0].index("EMAIL")


def test_users_list_json_counts_chats(cli: Run, alice: Account) -> None:
    [listed] = [u for u in json_of(cli, "users", "list") if u["email"] == alice.email]
    assert listed["chat_count"] == 2
    assert set(listed) == {"id", "email", "created_at", "chat_count"}


def test_users_delete_erases_the_account_without_a_password(cli: Run) -> None:
    email = create_user(cli)
    chat_id = talk(cli, email, "remember this")[0]["chat_id"]

    out = ok(cli("users", "delete", email.upper(), "--yes"))

    assert out.startswith(f"deleted user {email} (")
    assert failed(cli("chats", "show", chat_id)) == "error: Chat not found."
    assert failed(cli("users", "delete", email, "--yes")) == f"error: no user with email {email!r}"


# --- sessions and passwords -------------------------------------------------------


def _http_login(client: TestClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    response = client.post(
        "/auth/login", json={"email": email, "password": password}, headers={"User-Agent": "ua/9"}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_users_sessions_lists_where_the_account_is_signed_in(cli: Run, client: TestClient) -> None:
    email = create_user(cli)
    _http_login(client, email)

    listed = json_of(cli, "users", "sessions", email)

    assert [s["user_agent"] for s in listed] == ["ua/9", "memory-agent users create"]
    assert all("refresh" not in str(s) for s in listed)
    table_ = ok(cli("users", "sessions", email)).splitlines()
    assert table_[0].split() == ["ID", "CREATED_AT", "LAST_USED_AT", "CLIENT_ADDRESS", "USER_AGENT"]
    assert len(table_) == 3  # the header and one line per session, latest first
    assert table_[1].endswith("ua/9")


def test_users_logout_ends_every_session(cli: Run, client: TestClient) -> None:
    email = create_user(cli)
    headers = [_http_login(client, email) for _ in range(2)]

    out = ok(cli("users", "logout", email))

    assert email in out
    assert all(client.get("/chats", headers=h).status_code == 401 for h in headers)
    assert json_of(cli, "users", "sessions", email) == []
    assert failed(cli("users", "logout", "nobody@example.com")).startswith("error: no user")


def test_users_set_password_applies_the_policy_and_ends_every_session(
    cli: Run, client: TestClient
) -> None:
    email = create_user(cli)
    headers = _http_login(client, email)
    refused = cli("users", "set-password", email, "--password-stdin", stdin="short\n")
    assert failed(refused).startswith("error: ")
    assert client.get("/chats", headers=headers).status_code == 200  # nothing changed

    ok(cli("users", "set-password", email, "--password-stdin", stdin="a new long passphrase\n"))

    assert client.get("/chats", headers=headers).status_code == 401
    old = client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert old.status_code == 401
    _http_login(client, email, "a new long passphrase")
    missing = cli("users", "set-password", new_email(), "--password-stdin", stdin=PASSWORD)
    assert failed(missing).startswith("error: no user")


# --- chat --------------------------------------------------------------------------


def test_chat_posts_each_line_and_prints_the_replies(cli: Run) -> None:
    email = create_user(cli)

    result = cli("chat", "--user", email, stdin="hello\n\n   \nsecond line\n")

    assert ok(result) == f"{REPLY}\n{REPLY}\n"
    assert "New chat" in result.stderr
    assert conversations(cli, email) == [["hello", REPLY, "second line", REPLY]]


def test_chat_stops_at_quit(cli: Run) -> None:
    email = create_user(cli)

    out = ok(cli("chat", "--user", email, "--title", "Plans", stdin="one\n/quit\nnever sent\n"))

    assert out == f"{REPLY}\n"
    [chat] = export_of(cli, email)["chats"]
    assert chat["title"] == "Plans"
    assert [m["content"] for m in chat["messages"]] == ["one", REPLY]


def test_chat_with_an_id_continues_that_chat(cli: Run) -> None:
    email = create_user(cli)
    [first] = talk(cli, email, "first")

    [again] = talk(cli, email, "second", chat=first["chat_id"])

    assert again["chat_id"] == first["chat_id"]
    assert again["role"] == "assistant"
    assert conversations(cli, email) == [["first", REPLY, "second", REPLY]]


def test_chat_refuses_someone_elses_chat(cli: Run, alice: Account) -> None:
    intruder = create_user(cli)

    result = cli("chat", "--user", intruder, alice.chat_ids[0], stdin="let me in\n")

    assert failed(result) == "error: Chat not found."
    assert json_of(cli, "chats", "show", alice.chat_ids[0])["message_count"] == 4


def test_chat_for_an_unknown_user_fails(cli: Run) -> None:
    email = new_email()
    result = cli("chat", "--user", email, stdin="hello\n")
    assert failed(result) == f"error: no user with email {email!r}"


def test_chat_reports_a_refused_message_and_goes_on(cli: Run) -> None:
    email = create_user(cli)

    result = cli(
        "chat", "--user", email, stdin="fine\nfar too long\nok\n", env={"MAX_CONTENT_CHARS": "5"}
    )

    assert result.returncode == 1
    assert result.stdout == f"{REPLY}\n{REPLY}\n"
    assert "error: The message content is longer than 5 characters." in result.stderr
    assert "Traceback" not in result.stderr


def test_chat_help_and_exit_post_nothing_and_open_no_chat(cli: Run) -> None:
    email = create_user(cli)

    result = cli("chat", "--user", email, stdin="/help\n  /exit  \nnever sent\n")

    assert ok(result) == ""
    assert "/exit, /quit" in result.stderr
    assert export_of(cli, email)["chats"] == []


def test_chat_opens_its_chat_at_the_first_message(cli: Run) -> None:
    email = create_user(cli)

    result = cli("chat", "--user", email, "--title", "Later", stdin="\n/help\nnow\n")

    assert ok(result) == f"{REPLY}\n"
    [chat] = export_of(cli, email)["chats"]
    assert chat["title"] == "Later"
    assert f"opened chat {chat['id']}" in result.stderr


def test_chat_whose_only_message_is_refused_opens_no_chat(cli: Run) -> None:
    email = create_user(cli)

    result = cli("chat", "--user", email, stdin="far too long\n", env={"MAX_CONTENT_CHARS": "5"})

    assert result.returncode == 1
    assert export_of(cli, email)["chats"] == []


def test_chat_refuses_a_bad_title_before_reading_anything(cli: Run) -> None:
    email = create_user(cli)
    result = cli("chat", "--user", email, "--title", "x" * 201, stdin="hello\n")
    assert "longer than 200 characters" in failed(result)
    assert export_of(cli, email)["chats"] == []


def test_ctrl_c_ends_a_chat_waiting_for_input_at_once(database_url: str, cli: Run) -> None:
    email = create_user(cli)
    process = subprocess.Popen(
        [sys.executable, "-m", "entrypoints.cli", "chat", "--user", email],
        stdin=subprocess.PIPE,  # left open: the session waits for a line that never comes
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "DATABASE_URL": database_url},
    )
    assert process.stderr is not None
    try:
        assert "/help" in process.stderr.readline()  # the session has started
        wait_until_reading(process.pid)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)  # no Enter needed
    finally:
        process.kill()

    assert process.returncode == 130
    assert (out, err) == ("", "")
    assert export_of(cli, email)["chats"] == []


def test_chat_on_a_terminal_edits_lines_and_stops_at_ctrl_c(database_url: str, cli: Run) -> None:
    email = create_user(cli)
    terminal = Terminal(database_url, "chat", "--user", email)
    terminal.wait_for("you> ")

    terminal.type("abc\x1b[D\x1b[DX\r")  # two steps left, then insert X: readline at work
    terminal.wait_for(REPLY)
    terminal.wait_for("you> ")
    terminal.interrupt()  # Ctrl-C at the prompt

    assert terminal.finish() == 130
    assert "error" not in terminal.output
    assert "Traceback" not in terminal.output
    assert conversations(cli, email) == [["aXbc", REPLY]]


# --- chats and messages ----------------------------------------------------------


def test_chats_list_shows_the_users_chats_latest_first(cli: Run, alice: Account) -> None:
    lines = ok(cli("chats", "list", "--user", alice.email)).splitlines()

    assert lines[0].split() == ["ID", "TITLE", "CREATED_AT", "UPDATED_AT"]
    assert [line.split()[0] for line in lines[1:]] == alice.chat_ids[::-1]
    assert "New chat" in lines[1]


def test_chats_list_json_has_the_api_shape(cli: Run, alice: Account) -> None:
    chats = json_of(cli, "chats", "list", "--user", alice.email)

    assert [chat["id"] for chat in chats] == alice.chat_ids[::-1]
    assert set(chats[0]) == {"id", "user_id", "title", "created_at", "updated_at"}


def test_chats_list_for_an_unknown_user_fails(cli: Run) -> None:
    assert "no user with email" in failed(cli("chats", "list", "--user", new_email()))


def test_chats_show_gives_owner_and_message_count(cli: Run, alice: Account) -> None:
    out = ok(cli("chats", "show", alice.chat_ids[0]))

    assert f"id          {alice.chat_ids[0]}\n" in out
    assert f"owner       {alice.email} (" in out
    assert "messages    4\n" in out
    assert "CONTENT" not in out


def test_chats_show_with_messages_prints_the_conversation(cli: Run, alice: Account) -> None:
    out = ok(cli("chats", "show", alice.chat_ids[0], "--messages"))
    assert "ROLE" in out
    assert "user       second" in out

    shown = json_of(cli, "chats", "show", alice.chat_ids[0], "--messages")
    assert shown["owner_email"] == alice.email
    assert shown["message_count"] == 4
    assert [m["content"] for m in shown["messages"]] == ["first", REPLY, "second", REPLY]


def test_chats_show_a_missing_chat_fails(cli: Run) -> None:
    assert failed(cli("chats", "show", str(uuid.uuid4()))) == "error: Chat not found."


def test_messages_list_is_a_table_oldest_first(cli: Run, alice: Account) -> None:
    lines = ok(cli("messages", "list", alice.chat_ids[0])).splitlines()

    assert lines[0].split() == ["CREATED_AT", "ROLE", "CONTENT"]
    assert [line.split(maxsplit=3)[2:] for line in lines[1:]] == [
        ["user", "first"],
        ["assistant", REPLY],
        ["user", "second"],
        ["assistant", REPLY],
    ]


def test_messages_list_json_has_the_api_shape(cli: Run, alice: Account) -> None:
    messages = json_of(cli, "messages", "list", alice.chat_ids[1])

    assert [(m["role"], m["content"]) for m in messages] == [
        ("user", "third"),
        ("assistant", REPLY),
    ]
    assert set(messages[0]) == {"id", "chat_id", "role", "content", "created_at"}


def test_messages_list_of_a_missing_chat_fails(cli: Run) -> None:
    assert failed(cli("messages", "list", str(uuid.uuid4()))) == "error: Chat not found."


# --- confirmations and limits -------------------------------------------------------


def test_users_delete_without_a_terminal_wants_yes(cli: Run) -> None:
    email = create_user(cli)

    line = failed(cli("users", "delete", email), exit_code=2)

    assert "--yes" in line
    assert email in [u["email"] for u in json_of(cli, "users", "list")]


def test_users_delete_on_a_terminal_asks_first(database_url: str, cli: Run) -> None:
    email = create_user(cli)

    declined = Terminal(database_url, "users", "delete", email)
    declined.wait_for(f"Erase the account {email} and all its chats and messages? [y/N]")
    declined.type("n\r")
    assert declined.finish() == 1
    assert "cancelled; nothing was changed" in declined.output
    assert email in [u["email"] for u in json_of(cli, "users", "list")]

    agreed = Terminal(database_url, "users", "delete", email)
    agreed.wait_for("[y/N]")
    agreed.type("y\r")
    assert agreed.finish() == 0, agreed.output
    assert f"deleted user {email}" in agreed.output
    assert email not in [u["email"] for u in json_of(cli, "users", "list")]


def test_db_downgrade_without_a_terminal_wants_yes(cli: Run) -> None:
    before = ok(cli("db", "current"))

    line = failed(cli("db", "downgrade", "base"), exit_code=2)

    assert "--yes" in line
    assert ok(cli("db", "current")) == before
    assert "(up to date)" in before


@pytest.fixture
def empty_database_url(database_url: str) -> Iterator[str]:
    """Another database on the run's server, for commands that must not touch the run's."""
    name = f"memory_agent_cli_{uuid.uuid4().hex[:10]}"
    admin = make_url(database_url).set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def test_db_downgrade_with_yes_reverts_the_schema(empty_database_url: str) -> None:
    ok(_run(empty_database_url, "db", "upgrade"))

    out = ok(_run(empty_database_url, "db", "downgrade", "base", "--yes"))

    assert out == "database downgraded to base\n"
    assert ok(_run(empty_database_url, "db", "current")).startswith("empty")


@pytest.mark.parametrize(
    ("args", "count"),
    [
        (("users", "list"), 2),
        (("messages", "list", "{chat}"), 3),
    ],
)
def test_listings_stop_at_limit(
    cli: Run, alice: Account, args: tuple[str, ...], count: int
) -> None:
    args = tuple(a.format(chat=alice.chat_ids[0]) for a in args)
    everything = json_of(cli, *args)
    assert len(everything) > count

    limited = json_of(cli, *args, "--limit", str(count))

    assert limited == everything[:count]


def test_chats_list_limit_keeps_the_most_recent(cli: Run, alice: Account) -> None:
    [latest] = json_of(cli, "chats", "list", "--user", alice.email, "--limit", "1")
    assert latest["id"] == alice.chat_ids[-1]


def test_chats_show_limits_the_conversation(cli: Run, alice: Account) -> None:
    shown = json_of(cli, "chats", "show", alice.chat_ids[0], "--messages", "--limit", "1")

    assert [m["content"] for m in shown["messages"]] == ["first"]
    assert shown["message_count"] == 4


@pytest.mark.parametrize("limit", ["0", "-3", "many"])
def test_limit_must_be_a_positive_number(cli: Run, limit: str) -> None:
    result = cli("users", "list", "--limit", limit)
    assert result.returncode == 2
    assert "--limit" in result.stderr


# --- export ---------------------------------------------------------------------------


def test_export_is_the_document_of_the_http_export(
    cli: Run, client: TestClient, alice: Account
) -> None:
    exported = export_of(cli, alice.email)

    login = client.post("/auth/login", json={"email": alice.email, "password": PASSWORD})
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    response = client.get("/users/me/export", headers=headers)
    assert response.status_code == 200
    assert exported == response.json()
    assert exported["user"]["email"] == alice.email
    assert [chat["id"] for chat in exported["chats"]] == alice.chat_ids
    assert [len(chat["messages"]) for chat in exported["chats"]] == [4, 2]


def test_export_of_an_unknown_user_fails_without_output(cli: Run) -> None:
    result = cli("export", "--user", new_email())
    assert "no user with email" in failed(result)
    assert result.stdout == ""


# --- the process as a whole --------------------------------------------------------------


def test_json_flag_works_before_and_after_the_command(cli: Run, alice: Account) -> None:
    before = json.loads(ok(cli("--json", "chats", "list", "--user", alice.email)))
    after = json.loads(ok(cli("chats", "list", "--user", alice.email, "--json")))
    assert before == after
    assert len(before) == 2


@pytest.mark.parametrize(
    "args",
    [(), ("users", "frobnicate"), ("chats", "show", "not-a-uuid"), ("chat",)],
)
def test_usage_errors_exit_2(cli: Run, args: tuple[str, ...]) -> None:
    result = cli(*args)
    assert result.returncode == 2
    assert "usage: memory-agent" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    "args", [("users", "list"), ("chat", "--user", "ada@example.com")], ids=["list", "chat"]
)
def test_unreachable_database_is_one_line_with_a_remedy(args: tuple[str, ...]) -> None:
    result = _run(UNREACHABLE, *args, stdin="hello\n")

    line = failed(result)
    assert "cannot reach PostgreSQL at postgresql://postgres@127.0.0.1:1/memorydb" in line
    assert "docker compose up -d postgres" in line
    assert result.stdout == ""


@pytest.mark.skipif(not CONSOLE_SCRIPT.exists(), reason="package not installed in this env")
def test_console_script_runs_the_same_cli(database_url: str, alice: Account) -> None:
    result = _run(database_url, "users", "list", "--json", program=(str(CONSOLE_SCRIPT),))
    assert alice.email in [u["email"] for u in json.loads(ok(result))]


def test_db_commands_use_the_migration_database_url(migration_database_url: str) -> None:
    """Behind a pooler DATABASE_URL is the pooler's; schema work goes straight to PostgreSQL."""
    direct = {"MIGRATION_DATABASE_URL": migration_database_url}
    outputs = [
        ok(_run(UNREACHABLE, "db", command, env=direct))
        for command in ("create", "upgrade", "current")
    ]
    assert "already exists" in outputs[0]
    assert "up to date" in outputs[2]
    assert "cannot reach PostgreSQL" in failed(_run(UNREACHABLE, "db", "current"))
