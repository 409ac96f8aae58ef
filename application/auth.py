"""Registering, logging in and recognising a bearer token."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from uuid import UUID

from application.attempts import reserve_attempt
from application.password_check import PasswordCheck
from application.ports import EmailRule, IssuedToken, PasswordHasher, TokenService, UnitOfWork
from domain.errors import EmailAlreadyRegistered, InvalidCredentials, InvalidInput, InvalidToken
from domain.passwords import PasswordPolicy, normalize_password
from domain.throttling import Limit
from domain.users import User

_OFF = Limit(0, timedelta(seconds=1))


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    """Limits on guessing; each applies across every process, since counts live in the store."""

    login_per_email: Limit = field(default=_OFF)
    login_per_client: Limit = field(default=_OFF)
    register_per_client: Limit = field(default=_OFF)


class RegisterUser:
    """Open an account and log it in.

    Rules: the email is a valid address (``EmailRule``, which also gives the one form it
    is stored and compared in) and is not taken (``EmailAlreadyRegistered``); the
    password passes the policy (which also refuses the email or its local part); only a
    hash of the password, in its normalised form (NFKC), is stored; one client address
    may only register so often (``TooManyAttempts``), counted before any hashing. The
    password is hashed whether or not the email is taken, so the time of the answer
    does not tell a taken address from a free one.
    """

    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        hasher: PasswordHasher,
        tokens: TokenService,
        policy: PasswordPolicy,
        emails: EmailRule,
        throttle: ThrottlePolicy | None = None,
    ) -> None:
        self._uow = uow
        self._hasher = hasher
        self._tokens = tokens
        self._policy = policy
        self._emails = emails
        self._throttle = throttle or ThrottlePolicy()

    async def execute(self, *, email: str, password: str, client: str | None = None) -> IssuedToken:
        email = self._emails.normalize(email)
        self._policy.check(password, email=email)
        await reserve_attempt(
            self._uow,
            [(client and f"register-client:{client}", self._throttle.register_per_client)],
        )
        async with self._uow() as uow:
            taken = await uow.users.get_by_email(email) is not None
        # Hashed either way, so the time of the answer does not tell a taken address from
        # a free one; the unique index still decides a race between two registrations.
        password_hash = await self._hasher.hash(normalize_password(password))
        if taken:
            raise EmailAlreadyRegistered()
        user = User(email=email, password_hash=password_hash)
        async with self._uow() as uow:
            await uow.users.add(user)
            await uow.commit()
        return self._tokens.issue(user.id)


class LoginUser:
    """Exchange an email and password for an access token.

    Rules: an unknown email and a wrong password fail alike (``InvalidCredentials``)
    and take about as long; the attempt is counted before the password is verified, and
    past the limits (per email, per client address) the answer is ``TooManyAttempts``
    for the right password too (``PasswordCheck``); the email is normalised as at
    registration (``EmailRule``), and one that is no valid address (too long once case
    is folded, say) is refused (``InvalidInput``) without hashing, counted all the same.
    """

    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        passwords: PasswordCheck,
        tokens: TokenService,
        emails: EmailRule,
    ) -> None:
        self._uow = uow
        self._passwords = passwords
        self._tokens = tokens
        self._emails = emails

    async def execute(self, *, email: str, password: str, client: str | None = None) -> IssuedToken:
        try:
            email = self._emails.normalize(email)
        except InvalidInput:
            await self._passwords.count_attempt(email=email.strip(), client=client)
            raise
        async with self._uow() as uow:
            user = await uow.users.get_by_email(email)
        if not await self._passwords.verify(
            email=email, password=password, user=user, client=client
        ):
            raise InvalidCredentials()
        assert user is not None  # verify() is False without a user
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
