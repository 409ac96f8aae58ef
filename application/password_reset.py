"""Resetting a forgotten password with a single-use token sent by e-mail."""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from application.attempts import reserve_attempt
from application.password_check import install_password
from application.ports import EmailMessage, EmailRule, EmailSender, PasswordHasher, UnitOfWork
from domain.errors import (
    EmailNotSent,
    InvalidResetToken,
    PasswordResetUnavailable,
    UserNotFound,
)
from domain.password_resets import ResetToken, new_reset_secret, reset_digest
from domain.passwords import PasswordPolicy, normalize_password
from domain.throttling import Limit

PRODUCT_NAME = "Memory Agent"

logger = logging.getLogger(__name__)

_OFF = Limit(0, timedelta(seconds=1))


@dataclass(frozen=True, slots=True)
class ResetSettings:
    """How long a token lives, where its link points, how often one may be asked for."""

    expires: timedelta = timedelta(minutes=30)
    link: str | None = None  # the token goes in ``<link>?token=...``; bare without it
    per_email: Limit = field(default=_OFF)
    per_client: Limit = field(default=_OFF)


def reset_email(to: str, secret: str, settings: ResetSettings) -> EmailMessage:
    """The plain-text e-mail that carries ``secret`` as ``token=<secret>``."""
    minutes = max(1, int(settings.expires.total_seconds() // 60))
    if settings.link:
        separator = "&" if "?" in settings.link else "?"
        how = (
            f"To choose a new password, open this link within {minutes} minutes:\n\n"
            f"{settings.link}{separator}token={secret}\n"
        )
    else:
        how = (
            f"To choose a new password, use this reset token within {minutes} minutes:\n\n"
            f"token={secret}\n"
        )
    body = (
        "Hello,\n\n"
        f"Someone asked to reset the password of the {PRODUCT_NAME} account that uses\n"
        "this e-mail address.\n\n"
        f"{how}\n"
        "The token works once. Once the password is changed, every device signed in\n"
        "to the account is signed out.\n\n"
        "If you did not ask for this, ignore this e-mail: your password stays as it is\n"
        "and the token expires on its own. No one can use it without this e-mail.\n\n"
        f"-- {PRODUCT_NAME}\n"
    )
    return EmailMessage(to=to, subject=f"Reset your {PRODUCT_NAME} password", body=body)


class RequestPasswordReset:
    """Give the owner of a registered email a way to choose a new password.

    Rules: with no way to send e-mail, the request is refused
    (``PasswordResetUnavailable``) rather than accepted and never delivered; the email is
    normalised as on every path (``EmailRule``; ``InvalidInput`` when it is no address);
    requests are limited per email and per client address (``TooManyAttempts``), counted before
    anything else and whether or not the email is registered, so neither the limit nor
    the answer tells which emails have accounts; a registered email gets a fresh
    single-use token that expires after ``settings.expires`` and replaces any earlier
    one, stored only as a digest;
    the e-mail is returned, not sent: the caller sends it (``DeliverEmail``) after
    answering, so the answer takes as long whatever the email. An unknown email gets
    nothing to send.
    """

    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        sender: EmailSender | None,
        emails: EmailRule,
        settings: ResetSettings | None = None,
    ) -> None:
        self._uow = uow
        self._sender = sender
        self._emails = emails
        self._settings = settings or ResetSettings()

    async def execute(self, *, email: str, client: str | None = None) -> EmailMessage | None:
        if self._sender is None:
            raise PasswordResetUnavailable()
        email = self._emails.normalize(email)
        settings = self._settings
        # Counted before anything else, atomically: a burst cannot outrun the limit.
        await reserve_attempt(
            self._uow,
            [
                (f"reset-email:{email}", settings.per_email),
                (client and f"reset-client:{client}", settings.per_client),
            ],
        )
        # Made either way, so both branches spend the same work.
        secret = new_reset_secret()
        now = datetime.now(UTC)
        token = None
        try:
            async with self._uow() as uow:
                user = await uow.users.get_by_email(email)
                if user is not None:
                    token = ResetToken(user.id, reset_digest(secret), now, now + settings.expires)
                    await uow.reset_tokens.replace(token)
                await uow.commit()
        except UserNotFound:
            return None  # the account was deleted meanwhile: like an unknown email
        return reset_email(email, secret, settings) if token else None


class DeliverEmail:
    """Send an e-mail once the request that produced it has been answered.

    Rules: nothing to send is fine; a failure is logged and goes no further, since the
    answer is already out (the person asks again); the log names the recipient's domain
    and the reason, never the message, which may carry a token.
    """

    def __init__(self, sender: EmailSender | None) -> None:
        self._sender = sender

    async def execute(self, *, message: EmailMessage | None) -> None:
        if message is None or self._sender is None:
            return
        domain = message.to.rpartition("@")[2]
        try:
            await self._sender.send(message)
        except EmailNotSent as error:
            reason = type(error.__cause__ or error).__name__
            logger.warning(
                "e-mail not sent: %s",
                reason,
                extra={"email_domain": domain, "email_subject": message.subject},
            )
        except Exception:
            logger.exception("e-mail not sent: unexpected error", extra={"email_domain": domain})


class ResetPassword:
    """Choose a new password with the token from a reset e-mail.

    Rules: the token is live: known, unexpired, unused and the user's newest
    (``InvalidResetToken`` otherwise, one answer for every reason, given before any
    costly work); the new password passes the policy (``InvalidInput``; the account's
    email is no password either), checked before
    the token is spent, so a refused password leaves the token usable; the password is
    hashed outside any transaction; spending the token, storing the hash and ending
    every session of the user and clearing the account's failed password checks (a
    locked account opens again) commit together, and of concurrent confirmations with one
    token at most one succeeds.
    """

    def __init__(
        self, uow: Callable[[], UnitOfWork], hasher: PasswordHasher, policy: PasswordPolicy
    ) -> None:
        self._uow = uow
        self._hasher = hasher
        self._policy = policy

    async def execute(self, *, token: str, new_password: str) -> None:
        digest = reset_digest(token)
        async with self._uow() as uow:
            user_id = await uow.reset_tokens.find(digest, datetime.now(UTC))
            user = await uow.users.get(user_id) if user_id else None
        if user is None:
            raise InvalidResetToken()
        self._policy.check(new_password, email=user.email, field="new_password")
        password_hash = await self._hasher.hash(normalize_password(new_password))
        async with self._uow() as uow:
            user_id = await uow.reset_tokens.consume(digest, datetime.now(UTC))
            if user_id is None:  # spent by a concurrent confirmation, or expired meanwhile
                raise InvalidResetToken()
            await install_password(uow, user, password_hash)
            await uow.commit()
