"""Registering, logging in and recognising a bearer token."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

from application.ports import IssuedToken, PasswordHasher, TokenService, UnitOfWork
from domain.errors import (
    EmailAlreadyRegistered,
    InvalidCredentials,
    InvalidToken,
    TooManyAttempts,
)
from domain.passwords import PasswordPolicy
from domain.throttling import AttemptWindow, Limit
from domain.users import User, normalize_email

_OFF = Limit(0, timedelta(seconds=1))


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    """Limits on guessing; each applies across every process, since counts live in the store."""

    login_per_email: Limit = field(default=_OFF)
    login_per_client: Limit = field(default=_OFF)
    register_per_client: Limit = field(default=_OFF)


def _subjects(*pairs: tuple[str | None, Limit]) -> list[tuple[str, Limit]]:
    return [(subject, limit) for subject, limit in pairs if subject and limit.enabled]


def _refuse_if_blocked(
    checks: list[tuple[str, Limit]], windows: dict[str, AttemptWindow], now: datetime
) -> None:
    waits = [
        wait
        for subject, limit in checks
        if subject in windows and (wait := windows[subject].retry_after(limit, now)) is not None
    ]
    if waits:
        raise TooManyAttempts(max(waits))


async def _record(
    uow_factory: Callable[[], UnitOfWork], checks: list[tuple[str, Limit]], now: datetime
) -> None:
    if not checks:
        return
    async with uow_factory() as uow:
        for subject, limit in checks:
            await uow.attempts.record([subject], now, limit.window)
        await uow.commit()


class RegisterUser:
    """Open an account and log it in.

    Rules: the password passes the policy; the email, compared case-insensitively,
    is not taken (``EmailAlreadyRegistered``); only a hash of the password is stored;
    one client address may only register so often (``TooManyAttempts``).
    """

    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        hasher: PasswordHasher,
        tokens: TokenService,
        policy: PasswordPolicy,
        throttle: ThrottlePolicy | None = None,
    ) -> None:
        self._uow = uow
        self._hasher = hasher
        self._tokens = tokens
        self._policy = policy
        self._throttle = throttle or ThrottlePolicy()

    async def execute(self, *, email: str, password: str, client: str | None = None) -> IssuedToken:
        self._policy.check(password)
        email = normalize_email(email)
        checks = _subjects(
            (client and f"register-client:{client}", self._throttle.register_per_client)
        )
        now = datetime.now(UTC)
        async with self._uow() as uow:
            _refuse_if_blocked(checks, await uow.attempts.windows([s for s, _ in checks]), now)
            taken = await uow.users.get_by_email(email) is not None
        await _record(self._uow, checks, now)
        # The look first spares an Argon2 hash for the common duplicate case;
        # the unique index still decides a race between two registrations.
        if taken:
            raise EmailAlreadyRegistered()
        user = User(email=email, password_hash=await self._hasher.hash(password))
        async with self._uow() as uow:
            await uow.users.add(user)
            await uow.commit()
        return self._tokens.issue(user.id)


class LoginUser:
    """Exchange an email and password for an access token.

    Rules: an unknown email and a wrong password fail alike (``InvalidCredentials``)
    and take about as long; too many failures for one email or from one client
    address block further tries for the rest of the window (``TooManyAttempts``),
    and a success clears the email's count; a hash with outdated parameters (or a
    bcrypt one) is replaced on success.
    """

    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        hasher: PasswordHasher,
        tokens: TokenService,
        throttle: ThrottlePolicy | None = None,
    ) -> None:
        self._uow = uow
        self._hasher = hasher
        self._tokens = tokens
        self._throttle = throttle or ThrottlePolicy()

    async def execute(self, *, email: str, password: str, client: str | None = None) -> IssuedToken:
        email = normalize_email(email)
        checks = _subjects(
            (f"login-email:{email}", self._throttle.login_per_email),
            (client and f"login-client:{client}", self._throttle.login_per_client),
        )
        now = datetime.now(UTC)
        async with self._uow() as uow:
            windows = await uow.attempts.windows([s for s, _ in checks])
            user = await uow.users.get_by_email(email)
        _refuse_if_blocked(checks, windows, now)
        if user is None:
            await self._hasher.burn(password)
            valid, new_hash = False, None
        else:
            valid, new_hash = await self._hasher.verify(password, user.password_hash)
        if user is None or not valid:
            await _record(self._uow, checks, now)
            raise InvalidCredentials()
        email_subject = f"login-email:{email}"
        if new_hash is not None or email_subject in windows:
            async with self._uow() as uow:
                if new_hash is not None:
                    await uow.users.update_password_hash(user.id, new_hash)
                await uow.attempts.clear(email_subject)
                await uow.commit()
        return self._tokens.issue(user.id)


class AuthenticateUser:
    """Tell whose request this is from its bearer token.

    Rules: the token is valid (``TokenService``) and its user still exists;
    otherwise ``InvalidToken``.
    """

    def __init__(self, uow: Callable[[], UnitOfWork], tokens: TokenService) -> None:
        self._uow = uow
        self._tokens = tokens

    async def execute(self, *, token: str) -> UUID:
        user_id = self._tokens.subject(token)
        async with self._uow() as uow:
            if not await uow.users.exists(user_id):
                raise InvalidToken()
        return user_id


class IdentifyCaller:
    """Tell whose request this is from its bearer token alone, without asking the store.

    Rules: the token is valid (``TokenService``), otherwise ``InvalidToken``. Whether its
    user still exists is left to the use case serving the request: a user-scoped query
    that finds something proves it, and only one that finds nothing asks
    (``confirm_caller``). A deleted user's token still gets ``InvalidToken``, and the
    common request saves the round trip ``AuthenticateUser`` spends on every call.
    """

    def __init__(self, tokens: TokenService) -> None:
        self._tokens = tokens

    def execute(self, *, token: str) -> UUID:
        return self._tokens.subject(token)


async def confirm_caller(uow: UnitOfWork, user_id: UUID) -> None:
    """``InvalidToken`` when the account a token speaks for is gone (deleted since)."""
    if not await uow.users.exists(user_id):
        raise InvalidToken()
