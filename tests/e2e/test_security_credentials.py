"""Passwords, login throttling and client addresses, on the real app and PostgreSQL."""

import uuid
from typing import Any

import bcrypt
import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.e2e.conftest import PASSWORD, make_client, new_email


def _register(client: TestClient, email: str, password: str = PASSWORD, **kw: Any) -> int:
    return client.post(
        "/auth/register", json={"email": email, "password": password}, **kw
    ).status_code


def _login(client: TestClient, email: str, password: str = PASSWORD, **kw: Any) -> Any:
    return client.post("/auth/login", json={"email": email, "password": password}, **kw)


@pytest.mark.parametrize(
    ("password", "expected"),
    [
        ("short7!", 422),
        ("x" * 129, 422),
        ("password123", 422),  # on the bundled common-password list
        ("PASSWORD123", 422),  # the list is matched case-insensitively
        ("ünïcødé✓pass", 201),  # any characters, no composition rules
        ("x" * 128, 201),
    ],
)
def test_password_policy(client: TestClient, password: str, expected: int) -> None:
    response = client.post("/auth/register", json={"email": new_email(), "password": password})

    assert response.status_code == expected
    if expected == 422:
        assert response.json()["detail"] or response.json()["errors"]


def test_common_password_gets_a_clear_message(client: TestClient) -> None:
    response = client.post("/auth/register", json={"email": new_email(), "password": "iloveyou1"})

    assert response.status_code == 422
    assert "too common" in response.json()["detail"]


def test_long_passwords_are_not_truncated_at_72_bytes(client: TestClient) -> None:
    email, prefix = new_email(), "é" * 36  # 72 bytes of UTF-8
    assert _register(client, email, prefix + "-the-real-ending") == 201

    assert _login(client, email, prefix + "-another-ending").status_code == 401
    assert _login(client, email, prefix + "-the-real-ending").status_code == 200


def test_a_bcrypt_hash_still_logs_in_and_is_upgraded_to_argon2(
    client: TestClient, database_url: str
) -> None:
    email = new_email()
    legacy = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    with psycopg.connect(database_url) as connection:
        connection.execute(
            "INSERT INTO users (id, email, password_hash, created_at) VALUES (%s, %s, %s, now())",
            (uuid.uuid4(), email, legacy),
        )

    assert _login(client, email).status_code == 200

    with psycopg.connect(database_url) as connection:
        row = connection.execute(
            "SELECT password_hash FROM users WHERE email = %s", (email,)
        ).fetchone()
    assert row is not None
    assert row[0].startswith("$argon2id$")


def test_five_failures_for_one_email_block_it_with_429(database_url: str) -> None:
    with make_client(database_url, login_max_failures_per_email=5) as client:
        email = new_email()
        _register(client, email)
        assert [_login(client, email, "wrong password").status_code for _ in range(5)] == [401] * 5

        blocked = _login(client, email)  # even the right password waits out the window
        assert blocked.status_code == 429
        assert 0 < int(blocked.headers["Retry-After"]) <= 900
        assert blocked.headers["content-type"] == "application/problem+json"

        other = new_email()
        _register(client, other)
        assert _login(client, other).status_code == 200


def test_a_success_resets_the_email_counter(database_url: str) -> None:
    with make_client(database_url, login_max_failures_per_email=3) as client:
        email = new_email()
        _register(client, email)
        for _ in range(2):
            assert _login(client, email, "wrong password").status_code == 401
        assert _login(client, email).status_code == 200

        for _ in range(2):
            assert _login(client, email, "wrong password").status_code == 401
        assert _login(client, email).status_code == 200


def test_failures_from_one_client_address_are_limited(database_url: str) -> None:
    with make_client(database_url, peer="203.0.113.7", login_max_failures_per_client=3) as client:
        statuses = [_login(client, new_email(), "wrong password").status_code for _ in range(4)]

    assert statuses == [401, 401, 401, 429]


def test_registrations_from_one_client_address_are_limited(database_url: str) -> None:
    with make_client(database_url, peer="203.0.113.8", register_max_per_client=2) as client:
        statuses = [_register(client, new_email()) for _ in range(3)]

    assert statuses == [201, 201, 429]


def test_forwarded_for_counts_only_from_a_trusted_proxy(database_url: str) -> None:
    limits = {"register_max_per_client": 1}
    with make_client(
        database_url, peer="10.0.0.5", trusted_proxies=["10.0.0.0/8"], **limits
    ) as behind_proxy:
        first = {"X-Forwarded-For": "198.51.100.1, 10.0.0.9"}
        second = {"X-Forwarded-For": "198.51.100.2"}
        assert _register(behind_proxy, new_email(), headers=first) == 201
        assert _register(behind_proxy, new_email(), headers=second) == 201
        assert _register(behind_proxy, new_email(), headers=first) == 429

    with make_client(database_url, peer="192.0.2.44", **limits) as direct:
        assert _register(direct, new_email(), headers={"X-Forwarded-For": "198.51.100.3"}) == 201
        # The header is not believed from an untrusted peer: same client, now blocked.
        assert _register(direct, new_email(), headers={"X-Forwarded-For": "198.51.100.4"}) == 429


def test_junk_forwarded_for_through_a_trusted_proxy_is_still_counted(database_url: str) -> None:
    """A hop that is no address falls back to the proxy's own address: every guess counts."""
    with make_client(
        database_url,
        peer="10.0.0.5",
        trusted_proxies=["10.0.0.0/8"],
        login_max_failures_per_client=3,
    ) as client:
        email = new_email()
        _register(client, email)
        junk = [{"X-Forwarded-For": f"{'x' * 400}{n}"} for n in range(4)]
        statuses = [_login(client, email, "wrong password", headers=h).status_code for h in junk]
        right = _login(client, email, headers={"X-Forwarded-For": "y" * 400})

    assert statuses == [401, 401, 401, 429]
    assert right.status_code == 429
