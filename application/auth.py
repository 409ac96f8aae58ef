"""Registering, logging in and recognising a bearer token."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from application.attempts import reserve_attempt
from application.password_check import PasswordCheck
from application.ports import EmailRule, PasswordHasher, TokenService, UnitOfWork
from application.sessions import Device, SessionIssuer, SessionTokens
from domain.errors import EmailAlreadyRegistered, InvalidCredentials, InvalidInput, InvalidToken
from domain.passwords import PasswordPolicy, normalize_password
from domain.sessions import Caller
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
    """Open an account and sign it in (a new session).

    Rules: the email is a valid address (``EmailRule``, which also gives the one form it
    is stored and compared in) and is not taken (``EmailAlreadyRegistered``); the
    password passes the policy (which also refuses the email or its local part); only a
    hash of the password, in its normalised form (NFKC), is stored; one client address
    may only register so often (``TooManyAttempts``), counted before any hashing. The
    password is hashed whether or not the email is taken, so the time of the answer
    does not tell a taken address from a free one. The account and its first session
    are stored together.
    """

    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        hasher: PasswordHasher,
        issuer: SessionIssuer,
        policy: PasswordPolicy,
        emails: EmailRule,
        throttle: ThrottlePolicy | None = None,
    ) -> None:
        self._uow = uow
        self._hasher = hasher
        self._issuer = issuer
        self._policy = policy
        self._emails = emails
        self._throttle = throttle or ThrottlePolicy()

    async def execute(
        self, *, email: str, password: str, client: str | None = None, user_agent: str | None = None
    ) -> SessionTokens:
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
        session, refresh_hash, tokens = self._issuer.open(user.id, Device(user_agent, client))
        async with self._uow() as uow:
            await uow.users.add(user)
            await uow.sessions.add(session, refresh_hash)
            await uow.commit()
        return tokens


class LoginUser:
    """Exchange an email and password for a new session's access and refresh tokens.

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
        issuer: SessionIssuer,
        emails: EmailRule,
    ) -> None:
        self._uow = uow
        self._passwords = passwords
        self._issuer = issuer
        self._emails = emails

    async def execute(
        self, *, email: str, password: str, client: str | None = None, user_agent: str | None = None
    ) -> SessionTokens:
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
        session, refresh_hash, tokens = self._issuer.open(user.id, Device(user_agent, client))
        async with self._uow() as uow:
            await uow.sessions.add(session, refresh_hash)
            await uow.commit()
        return tokens


class AuthenticateUser:
    """Tell whose request this is from its bearer token.

    Rules: the token is valid (``TokenService``) and its session is live (not logged
    out, revoked or expired; its user still exists); otherwise ``InvalidToken``.
    """

    def __init__(self, uow: Callable[[], UnitOfWork], tokens: TokenService) -> None:
        self._uow = uow
        self._tokens = tokens

    async def execute(self, *, token: str) -> Caller:
        caller = self._tokens.caller(token)
        async with self._uow() as uow:
            await confirm_caller(uow, caller)
        return caller


class IdentifyCaller:
    """Tell whose request this is from its bearer token alone, without asking the store.

    Rules: the token is valid (``TokenService``), otherwise ``InvalidToken``. Whether its
    session is still live is left to the use case serving the request: every
    user-scoped query it runs carries that condition, so one that finds something
    proves it, and only one that finds nothing asks (``confirm_caller``). A revoked
    session's or a deleted user's token still gets ``InvalidToken`` on the very next
    request, and the common request saves the round trip ``AuthenticateUser`` spends.
    """

    def __init__(self, tokens: TokenService) -> None:
        self._tokens = tokens

    def execute(self, *, token: str) -> Caller:
        return self._tokens.caller(token)


async def confirm_caller(uow: UnitOfWork, caller: Caller) -> None:
    """``InvalidToken`` when the caller's session ended or their account is gone.

    The operator (no session) only needs the account to exist.
    """
    if caller.session_id is None:
        live = await uow.users.exists(caller.user_id)
    else:
        live = await uow.sessions.is_live(caller)
    if not live:
        raise InvalidToken()
