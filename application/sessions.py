"""Sessions: opening one at sign-in, keeping it going with refresh tokens, ending it.

A refresh token is 256 random bits, shown to the client once and kept only as its
SHA-256: a digest is enough for a secret that cannot be guessed, and it lets the store
find the session by the token in one indexed lookup.
"""

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from application.ports import IssuedToken, TokenService, UnitOfWork
from domain.errors import InvalidToken, SessionNotFound
from domain.sessions import Caller, Session

# token_urlsafe(32) is 43 characters; anything much longer is not one of ours.
MAX_REFRESH_TOKEN_CHARS = 128
_REFRESH_REFUSED = "The refresh token is invalid, expired or revoked; sign in again."


def refresh_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class SessionTokens:
    """What a sign-in or a refresh hands the client: a new access and refresh token."""

    session_id: UUID
    access: IssuedToken
    refresh: IssuedToken


@dataclass(frozen=True, slots=True)
class Device:
    """Where a sign-in came from, as the client said (shown in the session list)."""

    user_agent: str | None = None
    client_address: str | None = None


class SessionIssuer:
    """Mints the tokens of a session; the use cases decide when."""

    def __init__(self, tokens: TokenService, refresh_lifetime: timedelta) -> None:
        self._tokens = tokens
        self._lifetime = refresh_lifetime

    def open(self, user_id: UUID, device: Device) -> tuple[Session, str, SessionTokens]:
        """A new session for the user, its refresh token's hash, and its tokens."""
        now = datetime.now(UTC)
        session = Session(
            user_id=user_id,
            expires_at=now + self._lifetime,
            user_agent=device.user_agent,
            client_address=device.client_address,
            created_at=now,
        )
        refresh = secrets.token_urlsafe(32)
        return session, refresh_token_hash(refresh), self.tokens_for(session, refresh)

    def next_refresh(self) -> tuple[str, str, datetime]:
        """A fresh refresh token, its hash and the expiry it gives its session."""
        refresh = secrets.token_urlsafe(32)
        return refresh, refresh_token_hash(refresh), datetime.now(UTC) + self._lifetime

    def tokens_for(self, session: Session, refresh: str) -> SessionTokens:
        return SessionTokens(
            session_id=session.id,
            access=self._tokens.issue(session.user_id, session.id),
            refresh=IssuedToken(refresh, int(self._lifetime.total_seconds())),
        )


class RefreshSession:
    """Swap a refresh token for a new access token and a new refresh token.

    Rules: the token belongs to a live session (not revoked, not expired), otherwise
    ``InvalidToken``; every use rotates it: the old one stops working and the session's
    expiry starts over; presenting a token that was already rotated away is taken for a
    stolen copy (OAuth 2.0 Security BCP, RFC 9700 §4.14) and ends the whole session, so
    the newest tokens die too; of concurrent refreshes with one token at most one
    succeeds (and the others count as replays).
    """

    def __init__(self, uow: Callable[[], UnitOfWork], issuer: SessionIssuer) -> None:
        self._uow = uow
        self._issuer = issuer

    async def execute(self, *, refresh_token: str) -> SessionTokens:
        if not refresh_token or len(refresh_token) > MAX_REFRESH_TOKEN_CHARS:
            raise InvalidToken(_REFRESH_REFUSED)
        presented = refresh_token_hash(refresh_token)
        refresh, refresh_hash, expires_at = self._issuer.next_refresh()
        async with self._uow() as uow:
            session = await uow.sessions.rotate(presented, refresh_hash, expires_at)
            if session is None:
                if await uow.sessions.revoke_rotated(presented):
                    await uow.commit()
                raise InvalidToken(_REFRESH_REFUSED)
            await uow.commit()
        return self._issuer.tokens_for(session, refresh)


class EndSession:
    """Log out: the caller's session ends, with every token it issued.

    Rules: the access token's session must still be live (``InvalidToken`` otherwise);
    afterwards its access tokens get ``InvalidToken`` on the next request, on every
    process, and its refresh token is refused.
    """

    def __init__(self, uow: Callable[[], UnitOfWork]) -> None:
        self._uow = uow

    async def execute(self, *, caller: Caller) -> None:
        if caller.session_id is None:
            raise InvalidToken()
        async with self._uow() as uow:
            if not await uow.sessions.revoke(caller.session_id, caller.user_id):
                raise InvalidToken()
            await uow.commit()


class ListSessions:
    """The user's live sessions, most recently used first.

    ``last_used_at`` is when the session last signed in or refreshed (not every
    request: that would be a write on every call).
    """

    def __init__(self, uow: Callable[[], UnitOfWork]) -> None:
        self._uow = uow

    async def execute(self, *, user_id: UUID) -> list[Session]:
        async with self._uow() as uow:
            return await uow.sessions.list_live(user_id)


class RevokeSession:
    """End one of the user's sessions (a lost phone). Someone else's, or one already
    over, is as missing as a missing one (``SessionNotFound``)."""

    def __init__(self, uow: Callable[[], UnitOfWork]) -> None:
        self._uow = uow

    async def execute(self, *, user_id: UUID, session_id: UUID) -> None:
        async with self._uow() as uow:
            if not await uow.sessions.revoke(session_id, user_id):
                raise SessionNotFound()
            await uow.commit()


class RevokeOtherSessions:
    """End every session of the user but ``keep`` (the caller's own; None ends them all)."""

    def __init__(self, uow: Callable[[], UnitOfWork]) -> None:
        self._uow = uow

    async def execute(self, *, user_id: UUID, keep: UUID | None = None) -> None:
        async with self._uow() as uow:
            await uow.sessions.revoke_all(user_id, except_session=keep)
            await uow.commit()
