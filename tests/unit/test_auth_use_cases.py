"""RegisterUser, LoginUser and AuthenticateUser on the in-memory store."""

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from application.auth import ThrottlePolicy
from application.sessions import SessionTokens
from domain.errors import (
    EmailAlreadyRegistered,
    InvalidCredentials,
    InvalidInput,
    InvalidToken,
    TooManyAttempts,
)
from domain.ids import new_id
from domain.throttling import AttemptWindow, Limit
from tests.unit.conftest import FAKE_PREFIX, OLD_PREFIX, PASSWORD, App, build_app

EMAIL = "alice@example.com"
HOUR = timedelta(hours=1)


def _user_emails(app: App) -> list[str]:
    return [u.email for u in app.store.state.users.values()]


# --- RegisterUser ------------------------------------------------------------


async def test_register_returns_a_token_for_the_new_user(app: App) -> None:
    issued = await app.register.execute(email=EMAIL, password=PASSWORD)
    [user] = app.store.state.users.values()
    assert app.tokens.caller(issued.access.value).user_id == user.id
    assert issued.access.expires_in == 3600


async def test_register_normalises_the_email(app: App) -> None:
    await app.register.execute(email="  Alice@Example.COM \n", password=PASSWORD)
    assert _user_emails(app) == [EMAIL]


@pytest.mark.parametrize("again", [EMAIL, "ALICE@example.com", " alice@EXAMPLE.com "])
async def test_register_refuses_a_taken_email_in_any_case(app: App, again: str) -> None:
    await app.register.execute(email=EMAIL, password=PASSWORD)
    with pytest.raises(EmailAlreadyRegistered):
        await app.register.execute(email=again, password="another good password")
    assert _user_emails(app) == [EMAIL]
    # The duplicate costs the same hash as a new account: the timing tells nothing.
    assert app.hasher.hashed == [PASSWORD, "another good password"]


async def test_concurrent_registrations_of_one_email_create_one_account(app: App) -> None:
    results = await asyncio.gather(
        app.register.execute(email=EMAIL, password=PASSWORD),
        app.register.execute(email="ALICE@example.com", password=PASSWORD),
        return_exceptions=True,
    )
    # Both passed the look-up before either was stored: the repository decides.
    assert app.hasher.hashed == [PASSWORD, PASSWORD]
    assert sum(isinstance(r, EmailAlreadyRegistered) for r in results) == 1
    assert sum(isinstance(r, SessionTokens) for r in results) == 1
    assert _user_emails(app) == [EMAIL]


@pytest.mark.parametrize("password", ["short", "x" * 129, "Password", "bad\x00password"])
async def test_register_enforces_the_password_policy(app: App, password: str) -> None:
    with pytest.raises(InvalidInput):
        await app.register.execute(email=EMAIL, password=password)
    assert app.store.state.users == {}
    assert app.hasher.hashed == []


async def test_register_stores_only_the_hash(app: App) -> None:
    await app.register.execute(email=EMAIL, password=PASSWORD)
    [user] = app.store.state.users.values()
    assert app.hasher.hashed == [PASSWORD]
    assert user.password_hash == FAKE_PREFIX + PASSWORD
    assert user.password_hash != PASSWORD


async def test_register_is_throttled_per_client() -> None:
    app = build_app(ThrottlePolicy(register_per_client=Limit(2, HOUR)))
    await app.register.execute(email="a@example.com", password=PASSWORD, client="10.0.0.1")
    await app.register.execute(email="b@example.com", password=PASSWORD, client="10.0.0.1")
    with pytest.raises(TooManyAttempts) as refused:
        await app.register.execute(email="c@example.com", password=PASSWORD, client="10.0.0.1")
    assert 3500 < refused.value.retry_after <= 3600
    assert "c@example.com" not in _user_emails(app)
    # Another client is not affected.
    await app.register.execute(email="c@example.com", password=PASSWORD, client="10.0.0.2")
    assert "c@example.com" in _user_emails(app)


async def test_register_throttle_lifts_when_the_window_ends() -> None:
    app = build_app(ThrottlePolicy(register_per_client=Limit(1, HOUR)))
    await app.register.execute(email="a@example.com", password=PASSWORD, client="c1")
    with pytest.raises(TooManyAttempts):
        await app.register.execute(email="b@example.com", password=PASSWORD, client="c1")
    subject = "register-client:c1"
    window = app.store.state.attempts[subject]
    app.store.state.attempts[subject] = replace(window, started_at=window.started_at - HOUR)
    await app.register.execute(email="b@example.com", password=PASSWORD, client="c1")


# --- LoginUser ---------------------------------------------------------------


async def test_login_with_the_right_password_returns_a_token(app: App) -> None:
    user_id = await app.sign_up(EMAIL)
    issued = await app.login.execute(email=" ALICE@example.com ", password=PASSWORD)
    assert app.tokens.caller(issued.access.value).user_id == user_id.user_id


async def test_wrong_password_and_unknown_email_fail_alike(app: App) -> None:
    await app.sign_up(EMAIL)
    with pytest.raises(InvalidCredentials) as wrong_password:
        await app.login.execute(email=EMAIL, password="not the password")
    with pytest.raises(InvalidCredentials) as unknown_email:
        await app.login.execute(email="nobody@example.com", password=PASSWORD)
    assert type(wrong_password.value) is type(unknown_email.value)
    assert str(wrong_password.value) == str(unknown_email.value)
    assert str(wrong_password.value) == "Incorrect email or password."


async def test_unknown_email_burns_a_verification(app: App) -> None:
    await app.sign_up(EMAIL)
    with pytest.raises(InvalidCredentials):
        await app.login.execute(email="nobody@example.com", password="guess one")
    assert app.hasher.burned == ["guess one"]
    assert app.hasher.verified == []


async def test_known_email_verifies_and_does_not_burn(app: App) -> None:
    await app.sign_up(EMAIL)
    with pytest.raises(InvalidCredentials):
        await app.login.execute(email=EMAIL, password="guess one")
    assert app.hasher.burned == []
    assert app.hasher.verified == [("guess one", FAKE_PREFIX + PASSWORD)]


async def test_too_many_failures_for_one_email_block_even_the_right_password() -> None:
    app = build_app(ThrottlePolicy(login_per_email=Limit(3, HOUR)))
    await app.sign_up(EMAIL)
    for _ in range(3):
        with pytest.raises(InvalidCredentials):
            await app.login.execute(email=EMAIL, password="wrong guess")
    with pytest.raises(TooManyAttempts) as refused:
        await app.login.execute(email=EMAIL, password=PASSWORD)
    assert 3500 < refused.value.retry_after <= 3600
    # Other accounts are not affected.
    await app.sign_up("bob@example.com")
    await app.login.execute(email="bob@example.com", password=PASSWORD)


async def test_unknown_email_failures_count_too() -> None:
    app = build_app(ThrottlePolicy(login_per_email=Limit(2, HOUR)))
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            await app.login.execute(email="ghost@example.com", password="guess")
    with pytest.raises(TooManyAttempts):
        await app.login.execute(email="GHOST@example.com", password="guess")


async def test_email_block_lifts_when_the_window_ends() -> None:
    app = build_app(ThrottlePolicy(login_per_email=Limit(3, timedelta(minutes=15))))
    user_id = await app.sign_up(EMAIL)
    # Three failures, the first of which was a whole window ago.
    long_ago = datetime.now(UTC) - timedelta(minutes=15, seconds=1)
    app.store.state.attempts[f"account:{EMAIL}"] = AttemptWindow(3, long_ago)
    issued = await app.login.execute(email=EMAIL, password=PASSWORD)
    assert app.tokens.caller(issued.access.value).user_id == user_id.user_id


async def test_email_block_holds_inside_the_window() -> None:
    app = build_app(ThrottlePolicy(login_per_email=Limit(3, timedelta(minutes=15))))
    await app.sign_up(EMAIL)
    recently = datetime.now(UTC) - timedelta(minutes=14)
    app.store.state.attempts[f"account:{EMAIL}"] = AttemptWindow(3, recently)
    with pytest.raises(TooManyAttempts) as refused:
        await app.login.execute(email=EMAIL, password=PASSWORD)
    assert 1 <= refused.value.retry_after <= 60


async def test_too_many_failures_from_one_client_block_it() -> None:
    app = build_app(ThrottlePolicy(login_per_client=Limit(2, HOUR)))
    await app.sign_up(EMAIL)
    for email in ("x@example.com", "y@example.com"):
        with pytest.raises(InvalidCredentials):
            await app.login.execute(email=email, password="guess", client="10.0.0.9")
    with pytest.raises(TooManyAttempts):
        await app.login.execute(email=EMAIL, password=PASSWORD, client="10.0.0.9")
    await app.login.execute(email=EMAIL, password=PASSWORD, client="10.0.0.10")


async def test_success_clears_the_email_counter() -> None:
    app = build_app(ThrottlePolicy(login_per_email=Limit(3, HOUR)))
    await app.sign_up(EMAIL)
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            await app.login.execute(email=EMAIL, password="wrong guess")
    assert app.store.state.attempts[f"account:{EMAIL}"].count == 2
    await app.login.execute(email=EMAIL, password=PASSWORD)
    assert f"account:{EMAIL}" not in app.store.state.attempts
    # Without the reset, these two would make four failures and block the login.
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            await app.login.execute(email=EMAIL, password="wrong guess")
    await app.login.execute(email=EMAIL, password=PASSWORD)


async def test_outdated_hash_is_replaced_on_success(app: App) -> None:
    user_id = (await app.sign_up(EMAIL)).user_id
    user = app.store.state.users[user_id]
    app.store.state.users[user_id] = replace(user, password_hash=OLD_PREFIX + PASSWORD)
    await app.login.execute(email=EMAIL, password=PASSWORD)
    assert app.store.state.users[user_id].password_hash == FAKE_PREFIX + PASSWORD


async def test_outdated_hash_is_kept_on_failure(app: App) -> None:
    user_id = (await app.sign_up(EMAIL)).user_id
    user = app.store.state.users[user_id]
    app.store.state.users[user_id] = replace(user, password_hash=OLD_PREFIX + PASSWORD)
    with pytest.raises(InvalidCredentials):
        await app.login.execute(email=EMAIL, password="wrong guess")
    assert app.store.state.users[user_id].password_hash == OLD_PREFIX + PASSWORD


# --- AuthenticateUser --------------------------------------------------------


async def test_authenticate_returns_the_user_id(app: App) -> None:
    issued = await app.register.execute(email=EMAIL, password=PASSWORD)
    [user] = app.store.state.users.values()
    assert (await app.authenticate.execute(token=issued.access.value)).user_id == user.id


async def test_token_of_a_user_that_never_existed_is_refused(app: App) -> None:
    token = app.tokens.issue(new_id(), new_id()).value
    with pytest.raises(InvalidToken):
        await app.authenticate.execute(token=token)


async def test_token_of_a_deleted_user_is_refused(app: App) -> None:
    issued = await app.register.execute(email=EMAIL, password=PASSWORD)
    user_id: UUID = app.tokens.caller(issued.access.value).user_id
    del app.store.state.users[user_id]
    with pytest.raises(InvalidToken):
        await app.authenticate.execute(token=issued.access.value)


async def test_malformed_token_is_refused(app: App) -> None:
    with pytest.raises(InvalidToken):
        await app.authenticate.execute(token="not.a.jwt")
