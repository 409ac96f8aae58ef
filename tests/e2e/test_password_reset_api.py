"""Password reset by e-mail over HTTP, with the mail going through a real SMTP server."""

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx2
import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.e2e.conftest import PASSWORD, bearer, make_client, new_email
from tests.e2e.servers import api_server
from tests.smtp import SmtpServer, body_of, free_port, running_smtp_server

NEW_PASSWORD = "a brand new passphrase"
PRODUCTION_SECRET = "a-production-secret-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def mail_server() -> Iterator[SmtpServer]:
    with running_smtp_server() as server:
        yield server


@pytest.fixture(scope="module")
def mail_client(database_url: str, mail_server: SmtpServer) -> Iterator[TestClient]:
    with make_client(
        database_url,
        smtp_host=mail_server.host,
        smtp_port=mail_server.port,
        smtp_security="none",
        mail_from="Memory Agent <no-reply@memory-agent.test>",
        password_reset_url="https://app.memory-agent.test/reset",
    ) as client:
        yield client


@pytest.fixture
def inbox(mail_server: SmtpServer) -> SmtpServer:
    mail_server.messages.clear()
    return mail_server


def _register(client: TestClient, email: str | None = None) -> dict[str, Any]:
    email = email or new_email()
    response = client.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    body = response.json()
    return {"email": email, "token": body["access_token"], "refresh_token": body["refresh_token"]}


def _ask(client: TestClient, email: str) -> Any:
    return client.post("/auth/password-reset", json={"email": email})


def _confirm(client: TestClient, token: str, password: str = NEW_PASSWORD) -> Any:
    return client.post(
        "/auth/password-reset/confirm", json={"token": token, "new_password": password}
    )


def _login(client: TestClient, email: str, password: str) -> int:
    response = client.post("/auth/login", json={"email": email, "password": password})
    status: int = response.status_code
    return status


def _expire_token(database_url: str, email: str) -> None:
    with psycopg.connect(database_url) as connection:
        connection.execute(
            "UPDATE password_reset_tokens SET expires_at = now() - interval '1 second' "
            "WHERE user_id = (SELECT id FROM users WHERE email = %s)",
            (email,),
        )


def test_reset_end_to_end(mail_client: TestClient, inbox: SmtpServer) -> None:
    user = _register(mail_client)

    asked = _ask(mail_client, user["email"].upper())

    assert asked.status_code == 202
    [mail] = inbox.messages
    assert mail["To"] == user["email"]
    assert mail["From"] == "Memory Agent <no-reply@memory-agent.test>"
    assert "Memory Agent" in mail["Subject"]
    assert mail.get_content_type() == "text/plain"
    [token] = inbox.tokens()
    assert f"https://app.memory-agent.test/reset?token={token}" in body_of(mail)

    assert _confirm(mail_client, token).status_code == 204

    assert _login(mail_client, user["email"], NEW_PASSWORD) == 200
    assert _login(mail_client, user["email"], PASSWORD) == 401
    again = _confirm(mail_client, token, "yet another passphrase")
    assert again.status_code == 400
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["type"] == "/problems/invalid-reset-token"
    assert _login(mail_client, user["email"], NEW_PASSWORD) == 200


def test_an_unknown_email_gets_the_same_answer_and_no_mail(
    mail_client: TestClient, inbox: SmtpServer
) -> None:
    user = _register(mail_client)

    known = _ask(mail_client, user["email"])
    unknown = _ask(mail_client, new_email())

    assert (unknown.status_code, unknown.json()) == (known.status_code, known.json())
    assert unknown.headers["content-type"] == known.headers["content-type"]
    assert [m["To"] for m in inbox.messages] == [user["email"]]


def test_a_superseded_token_is_400_and_the_newest_works(
    mail_client: TestClient, inbox: SmtpServer
) -> None:
    user = _register(mail_client)
    _ask(mail_client, user["email"])
    _ask(mail_client, user["email"])
    older, newer = inbox.tokens()

    assert _confirm(mail_client, older).status_code == 400
    assert _confirm(mail_client, newer).status_code == 204


def test_an_expired_token_is_400(
    mail_client: TestClient, inbox: SmtpServer, database_url: str
) -> None:
    user = _register(mail_client)
    _ask(mail_client, user["email"])
    [token] = inbox.tokens()
    _expire_token(database_url, user["email"])

    assert _confirm(mail_client, token).status_code == 400
    assert _login(mail_client, user["email"], PASSWORD) == 200


@pytest.mark.parametrize("token", ["not-a-token", "A" * 43])
def test_an_unknown_token_is_400(mail_client: TestClient, token: str) -> None:
    response = _confirm(mail_client, token)
    assert response.status_code == 400
    assert response.json()["type"] == "/problems/invalid-reset-token"


@pytest.mark.parametrize("refused", ["password", "short"])
def test_a_refused_password_is_422_and_the_token_still_works(
    mail_client: TestClient, inbox: SmtpServer, refused: str
) -> None:
    user = _register(mail_client)
    _ask(mail_client, user["email"])
    [token] = inbox.tokens()

    response = _confirm(mail_client, token, refused)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert _login(mail_client, user["email"], PASSWORD) == 200
    assert _confirm(mail_client, token).status_code == 204
    assert _login(mail_client, user["email"], NEW_PASSWORD) == 200


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"email": ""},
        {"email": "a@example.com", "extra": 1},
        {"token": "t"},
        {"token": "t", "new_password": NEW_PASSWORD, "extra": 1},
    ],
)
def test_malformed_bodies_are_422(mail_client: TestClient, body: dict[str, Any]) -> None:
    path = "/auth/password-reset/confirm" if "token" in body else "/auth/password-reset"
    response = mail_client.post(path, json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


def test_requests_per_email_are_limited(
    database_url: str, mail_server: SmtpServer, inbox: SmtpServer
) -> None:
    settings: dict[str, Any] = {"smtp_host": mail_server.host, "smtp_port": mail_server.port}
    with make_client(
        database_url,
        smtp_security="none",
        password_reset_max_per_email=3,
        **settings,
    ) as client:
        user = _register(client)
        stranger = new_email()
        for _ in range(3):
            assert _ask(client, user["email"]).status_code == 202
            assert _ask(client, stranger).status_code == 202

        for email in (user["email"], stranger):  # an unknown email is limited the same way
            refused = _ask(client, email)
            assert refused.status_code == 429
            assert refused.headers["content-type"] == "application/problem+json"
            assert 0 < int(refused.headers["Retry-After"]) <= 3600
        assert _ask(client, new_email()).status_code == 202
    assert len(inbox.messages) == 3


def test_requests_per_client_address_are_limited(database_url: str, inbox: SmtpServer) -> None:
    settings: dict[str, Any] = {
        "smtp_host": inbox.host,
        "smtp_port": inbox.port,
        "smtp_security": "none",
    }
    with make_client(
        database_url, peer="203.0.113.40", password_reset_max_per_client=2, **settings
    ) as client:
        assert _ask(client, new_email()).status_code == 202
        assert _ask(client, new_email()).status_code == 202
        refused = _ask(client, new_email())
        assert refused.status_code == 429
        assert "Retry-After" in refused.headers
    with make_client(
        database_url, peer="203.0.113.41", password_reset_max_per_client=2, **settings
    ) as other:
        assert _ask(other, new_email()).status_code == 202


def test_production_without_smtp_host_is_503(database_url: str) -> None:
    with make_client(database_url, app_env="production", jwt_secret=PRODUCTION_SECRET) as client:
        user = _register(client)

        response = _ask(client, user["email"])

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/password-reset-unavailable"


def test_an_smtp_server_that_is_down_still_gets_202_and_a_log_line(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    down: dict[str, Any] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": free_port(),
        "smtp_security": "none",
    }
    with make_client(database_url, **down) as client:
        user = _register(client)
        with caplog.at_level(logging.WARNING, logger="application.password_reset"):
            response = _ask(client, user["email"])

    assert response.status_code == 202
    [record] = [r for r in caplog.records if r.name == "application.password_reset"]
    assert "not sent" in record.getMessage()
    assert "token=" not in record.getMessage()


def test_in_development_without_smtp_host_the_mail_goes_to_the_log(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with make_client(database_url, app_env="development") as client:
        user = _register(client)
        with caplog.at_level(logging.INFO, logger="adapters.mail.log"):
            assert _ask(client, user["email"]).status_code == 202
        [record] = [r for r in caplog.records if r.name == "adapters.mail.log"]
        token = record.getMessage().split("token=")[1].split()[0]

        assert _confirm(client, token).status_code == 204
        assert _login(client, user["email"], NEW_PASSWORD) == 200


def test_a_reset_does_not_need_or_take_a_bearer_token(
    mail_client: TestClient, inbox: SmtpServer
) -> None:
    user = _register(mail_client)
    response = mail_client.post(
        "/auth/password-reset", json={"email": user["email"]}, headers=bearer("garbage")
    )
    assert response.status_code == 202
    assert len(inbox.messages) == 1


def test_the_answer_goes_out_before_the_mail(database_url: str, mail_server: SmtpServer) -> None:
    """Under the real server: the 202 arrives while the mail server is still holding the
    message, and the message is delivered afterwards."""
    mail_server.messages.clear()
    env = {
        "SMTP_HOST": mail_server.host,
        "SMTP_PORT": str(mail_server.port),
        "SMTP_SECURITY": "none",
        "PASSWORD_RESET_MAX_PER_EMAIL": "0",
        "PASSWORD_RESET_MAX_PER_CLIENT": "0",
    }
    release = threading.Event()
    mail_server.handler.hold = release
    try:
        with api_server(database_url, **env) as api:
            email = new_email()
            registered = httpx2.post(
                f"{api.base_url}/auth/register", json={"email": email, "password": PASSWORD}
            )
            assert registered.status_code == 201

            # Were the mail sent before answering, this would wait for the release (never).
            asked = httpx2.post(f"{api.base_url}/auth/password-reset", json={"email": email})

            assert asked.status_code == 202
            assert mail_server.messages == []
            release.set()
            for _ in range(300):
                if mail_server.messages:
                    break
                time.sleep(0.1)
    finally:
        mail_server.handler.hold = None
        release.set()
    assert [m["To"] for m in mail_server.messages] == [email]


def test_a_reset_ends_every_session_of_the_account(
    mail_client: TestClient, inbox: SmtpServer
) -> None:
    user = _register(mail_client)
    other = mail_client.post(
        "/auth/login", json={"email": user["email"], "password": PASSWORD}
    ).json()
    sessions = [
        (user["token"], user["refresh_token"]),
        (other["access_token"], other["refresh_token"]),
    ]
    for access, _ in sessions:
        assert mail_client.get("/users/me", headers=bearer(access)).status_code == 200

    _ask(mail_client, user["email"])
    [token] = inbox.tokens()
    assert _confirm(mail_client, token).status_code == 204

    for access, refresh in sessions:
        assert mail_client.get("/users/me", headers=bearer(access)).status_code == 401
        assert mail_client.get("/chats", headers=bearer(access)).status_code == 401
        refreshed = mail_client.post("/auth/refresh", json={"refresh_token": refresh})
        assert refreshed.status_code == 401
    fresh = mail_client.post("/auth/login", json={"email": user["email"], "password": NEW_PASSWORD})
    assert fresh.status_code == 200
    assert (
        mail_client.get("/users/me", headers=bearer(fresh.json()["access_token"])).status_code
        == 200
    )


def test_a_reset_opens_an_account_locked_by_wrong_passwords(
    database_url: str, mail_server: SmtpServer, inbox: SmtpServer
) -> None:
    with make_client(
        database_url,
        smtp_host=mail_server.host,
        smtp_port=mail_server.port,
        smtp_security="none",
        login_max_failures_per_email=3,
    ) as client:
        user = _register(client)
        for _ in range(3):
            assert _login(client, user["email"], "somebody else's guess") == 401
        assert _login(client, user["email"], PASSWORD) == 429

        assert _ask(client, user["email"]).status_code == 202
        [token] = inbox.tokens()
        assert _confirm(client, token).status_code == 204

        assert _login(client, user["email"], NEW_PASSWORD) == 200
