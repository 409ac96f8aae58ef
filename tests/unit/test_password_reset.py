"""RequestPasswordReset, ResetPassword and DeliverEmail on the in-memory store."""

import asyncio
import logging
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from adapters.email_addresses import EmailValidatorEmailRule
from application.auth import ThrottlePolicy
from application.password_reset import (
    DeliverEmail,
    RequestPasswordReset,
    ResetPassword,
    ResetSettings,
)
from application.ports import EmailMessage
from domain.errors import (
    EmailNotSent,
    InvalidCredentials,
    InvalidInput,
    InvalidResetToken,
    PasswordResetUnavailable,
    TooManyAttempts,
)
from domain.password_resets import reset_digest
from domain.passwords import PasswordPolicy
from domain.sessions import Caller, Session
from domain.throttling import Limit
from tests.unit.conftest import (
    COMMON_PASSWORDS,
    FAKE_PREFIX,
    PASSWORD,
    App,
    build_app,
    memory_uow,
)

EMAIL = "alice@example.com"
NEW_PASSWORD = "a brand new passphrase"
HOUR = timedelta(hours=1)
TOKEN = re.compile(r"token=([A-Za-z0-9_-]+)")


@dataclass
class FakeEmailSender:
    sent: list[EmailMessage] = field(default_factory=list)
    fail: bool = False

    async def send(self, message: EmailMessage) -> None:
        if self.fail:
            raise EmailNotSent() from ConnectionRefusedError("nothing listening")
        self.sent.append(message)


@dataclass
class Resets:
    app: App
    sender: FakeEmailSender
    request: RequestPasswordReset
    confirm: ResetPassword
    deliver: DeliverEmail

    async def ask(self, email: str = EMAIL, client: str | None = "192.0.2.1") -> str | None:
        """Ask for a reset and deliver the e-mail; the token it carries, if any."""
        message = await self.request.execute(email=email, client=client)
        await self.deliver.execute(message=message)
        if message is None:
            return None
        match = TOKEN.search(message.body)
        assert match, message.body
        return match.group(1)


def build_resets(settings: ResetSettings | None = None, *, with_sender: bool = True) -> Resets:
    app = build_app()
    uow = memory_uow(app.store)
    sender = FakeEmailSender()
    policy = PasswordPolicy(common=COMMON_PASSWORDS)
    return Resets(
        app=app,
        sender=sender,
        request=RequestPasswordReset(
            uow, sender if with_sender else None, EmailValidatorEmailRule(), settings
        ),
        confirm=ResetPassword(uow, app.hasher, policy),
        deliver=DeliverEmail(sender if with_sender else None),
    )


@pytest.fixture
def resets() -> Resets:
    return build_resets()


async def _open_session(app: App, user_id: UUID) -> Caller:
    session = Session(user_id=user_id, expires_at=datetime.now(UTC) + HOUR)
    async with memory_uow(app.store)() as uow:
        await uow.sessions.add(session, reset_digest(str(session.id)))
        await uow.commit()
    return Caller(user_id, session.id)


async def _is_live(app: App, caller: Caller) -> bool:
    async with memory_uow(app.store)() as uow:
        return await uow.sessions.is_live(caller)


# --- RequestPasswordReset ------------------------------------------------------


async def test_a_registered_email_gets_a_token_stored_only_as_its_digest(resets: Resets) -> None:
    user_id = (await resets.app.sign_up(EMAIL)).user_id

    token = await resets.ask()

    [message] = resets.sender.sent
    assert message.to == EMAIL
    assert "Memory Agent" in message.subject
    assert "did not ask" in message.body
    assert f"token={token}" in message.body
    assert token is not None
    assert len(token) >= 43  # 256 random bits
    [stored] = resets.app.store.state.reset_tokens.values()
    assert stored.user_id == user_id
    assert stored.digest == reset_digest(token) != token
    assert stored.expires_at - stored.created_at == timedelta(minutes=30)


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("https://app.example.org/reset", "https://app.example.org/reset?token="),
        (
            "https://app.example.org/#/reset?lang=fr",
            "https://app.example.org/#/reset?lang=fr&token=",
        ),
    ],
)
async def test_the_token_goes_inside_the_link_when_there_is_one(link: str, expected: str) -> None:
    resets = build_resets(ResetSettings(link=link, expires=timedelta(minutes=45)))
    await resets.app.sign_up(EMAIL)

    token = await resets.ask()

    [message] = resets.sender.sent
    assert f"{expected}{token}" in message.body
    assert "45 minutes" in message.body


async def test_the_email_is_normalised_like_login(resets: Resets) -> None:
    await resets.app.sign_up(EMAIL)

    assert await resets.ask("  Alice@Example.COM \n") is not None
    assert [m.to for m in resets.sender.sent] == [EMAIL]


async def test_an_unknown_email_gets_nothing_and_leaves_nothing(resets: Resets) -> None:
    assert await resets.ask("nobody@example.com") is None

    assert resets.sender.sent == []
    assert resets.app.store.state.reset_tokens == {}


async def test_a_newer_request_makes_the_older_token_useless(resets: Resets) -> None:
    await resets.app.sign_up(EMAIL)
    older = await resets.ask()
    newer = await resets.ask()
    assert older
    assert newer
    assert older != newer

    with pytest.raises(InvalidResetToken):
        await resets.confirm.execute(token=older, new_password=NEW_PASSWORD)
    await resets.confirm.execute(token=newer, new_password=NEW_PASSWORD)


@pytest.mark.parametrize("registered", [True, False])
async def test_requests_per_email_are_limited_whether_or_not_it_is_registered(
    registered: bool,
) -> None:
    resets = build_resets(ResetSettings(per_email=Limit(3, HOUR)))
    if registered:
        await resets.app.sign_up(EMAIL)
    for n in range(3):
        await resets.ask(client=f"192.0.2.{n}")

    with pytest.raises(TooManyAttempts) as refused:
        await resets.ask(EMAIL.upper(), client="192.0.2.99")

    assert 3500 < refused.value.retry_after <= 3600
    assert len(resets.sender.sent) == (3 if registered else 0)
    await resets.ask("someone.else@example.com")  # other emails are not affected


async def test_requests_per_client_address_are_limited() -> None:
    resets = build_resets(ResetSettings(per_client=Limit(2, HOUR)))
    await resets.ask("a@example.com", client="192.0.2.7")
    await resets.ask("b@example.com", client="192.0.2.7")

    with pytest.raises(TooManyAttempts):
        await resets.ask("c@example.com", client="192.0.2.7")
    await resets.ask("c@example.com", client="192.0.2.8")


async def test_a_limit_of_zero_is_off() -> None:
    resets = build_resets(ResetSettings(per_email=Limit(0, HOUR), per_client=Limit(0, HOUR)))
    await resets.app.sign_up(EMAIL)
    for _ in range(10):
        await resets.ask()
    assert len(resets.sender.sent) == 10
    assert resets.app.store.state.attempts == {}


async def test_without_a_sender_the_request_is_refused_before_anything() -> None:
    resets = build_resets(ResetSettings(per_email=Limit(3, HOUR)), with_sender=False)
    await resets.app.sign_up(EMAIL)

    with pytest.raises(PasswordResetUnavailable):
        await resets.request.execute(email=EMAIL, client="192.0.2.1")
    assert resets.app.store.state.reset_tokens == {}
    assert resets.app.store.state.attempts == {}


# --- ResetPassword ---------------------------------------------------------------


async def test_a_reset_changes_the_password_and_ends_every_session(resets: Resets) -> None:
    user_id = (await resets.app.sign_up(EMAIL)).user_id
    phone, laptop = (
        await _open_session(resets.app, user_id),
        await _open_session(resets.app, user_id),
    )
    token = await resets.ask()
    assert token

    await resets.confirm.execute(token=token, new_password=NEW_PASSWORD)

    assert resets.app.store.state.users[user_id].password_hash == FAKE_PREFIX + NEW_PASSWORD
    assert not await _is_live(resets.app, phone)
    assert not await _is_live(resets.app, laptop)
    await resets.app.login.execute(email=EMAIL, password=NEW_PASSWORD)


async def test_a_reset_opens_an_account_locked_by_wrong_passwords() -> None:
    resets = build_resets()
    resets.app = build_app(ThrottlePolicy(login_per_email=Limit(2, HOUR)), store=resets.app.store)
    await resets.app.sign_up(EMAIL)
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            await resets.app.login.execute(email=EMAIL, password="not the password at all")
    with pytest.raises(TooManyAttempts):
        await resets.app.login.execute(email=EMAIL, password=PASSWORD)
    token = await resets.ask()
    assert token

    await resets.confirm.execute(token=token, new_password=NEW_PASSWORD)

    await resets.app.login.execute(email=EMAIL, password=NEW_PASSWORD)


async def test_a_token_works_once(resets: Resets) -> None:
    await resets.app.sign_up(EMAIL)
    token = await resets.ask()
    assert token
    await resets.confirm.execute(token=token, new_password=NEW_PASSWORD)

    with pytest.raises(InvalidResetToken):
        await resets.confirm.execute(token=token, new_password="yet another passphrase")
    assert resets.app.hasher.hashed[-1] == NEW_PASSWORD  # refused before hashing


async def test_an_expired_token_is_refused(resets: Resets) -> None:
    user_id = (await resets.app.sign_up(EMAIL)).user_id
    token = await resets.ask()
    assert token
    state = resets.app.store.state
    stored = state.reset_tokens[user_id]
    state.reset_tokens[user_id] = replace(
        stored, expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )

    with pytest.raises(InvalidResetToken):
        await resets.confirm.execute(token=token, new_password=NEW_PASSWORD)


@pytest.mark.parametrize("token", ["", "not-a-token", "x" * 256])
async def test_an_unknown_token_is_refused_without_hashing(resets: Resets, token: str) -> None:
    await resets.app.sign_up(EMAIL)
    await resets.ask()
    hashed = list(resets.app.hasher.hashed)

    with pytest.raises(InvalidResetToken):
        await resets.confirm.execute(token=token, new_password=NEW_PASSWORD)
    assert resets.app.hasher.hashed == hashed


@pytest.mark.parametrize(
    "refused", ["short", "password", "x" * 129, EMAIL, "ALICE" + "@example.com"]
)
async def test_a_refused_password_leaves_the_token_usable(resets: Resets, refused: str) -> None:
    user_id = (await resets.app.sign_up(EMAIL)).user_id
    session = await _open_session(resets.app, user_id)
    token = await resets.ask()
    assert token

    with pytest.raises(InvalidInput):
        await resets.confirm.execute(token=token, new_password=refused)
    assert await _is_live(resets.app, session)

    await resets.confirm.execute(token=token, new_password=NEW_PASSWORD)
    assert not await _is_live(resets.app, session)


async def test_concurrent_confirmations_with_one_token_let_one_through(resets: Resets) -> None:
    user_id = (await resets.app.sign_up(EMAIL)).user_id
    token = await resets.ask()
    assert token

    results = await asyncio.gather(
        *(
            resets.confirm.execute(token=token, new_password=f"{NEW_PASSWORD} {n}")
            for n in range(4)
        ),
        return_exceptions=True,
    )

    assert sum(r is None for r in results) == 1
    assert sum(isinstance(r, InvalidResetToken) for r in results) == 3
    winner = next(n for n, r in enumerate(results) if r is None)
    stored = resets.app.store.state.users[user_id].password_hash
    assert stored == FAKE_PREFIX + f"{NEW_PASSWORD} {winner}"


# --- DeliverEmail ----------------------------------------------------------------


async def test_a_failed_delivery_is_logged_and_goes_no_further(
    resets: Resets, caplog: pytest.LogCaptureFixture
) -> None:
    await resets.app.sign_up(EMAIL)
    resets.sender.fail = True

    with caplog.at_level(logging.WARNING, logger="application.password_reset"):
        assert await resets.ask() is not None  # the token was issued; the mail failed

    [record] = caplog.records
    assert "ConnectionRefusedError" in record.getMessage()
    assert record.__dict__["email_domain"] == "example.com"
    assert "token=" not in record.getMessage()


async def test_nothing_to_deliver_sends_nothing(resets: Resets) -> None:
    await resets.deliver.execute(message=None)
    assert resets.sender.sent == []
