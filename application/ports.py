"""What the use cases need from the outside world, named by role.

Adapters implement these structurally; nothing here knows which library does.
"""

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import Protocol, Self
from uuid import UUID

from domain.chats import Chat, Message
from domain.paging import Page, PageRequest
from domain.password_resets import ResetToken
from domain.sessions import Caller, Session
from domain.throttling import AttemptWindow
from domain.users import User


class UserRepository(Protocol):
    async def add(self, user: User) -> None:
        """Raise ``EmailAlreadyRegistered`` when the email is taken (at commit at the latest)."""

    async def get(self, user_id: UUID) -> User | None: ...

    async def get_by_email(self, email: str, *, for_update: bool = False) -> User | None:
        """With ``for_update``, inside ``UnitOfWork.transaction()``, the row stays locked
        until the transaction ends."""

    async def exists(self, user_id: UUID) -> bool: ...

    async def update_password_hash(self, user_id: UUID, password_hash: str) -> None: ...

    async def delete(self, user_id: UUID) -> None:
        """Remove the user and everything they own."""

    async def list_all(self, page: PageRequest) -> Page[User]:
        """Every user (operator view), by ``(created_at, id)`` in ``page.order``."""


class ChatRepository(Protocol):
    """Methods taking a ``Caller`` find or change nothing unless the caller's session is
    live (for the operator, unless the user exists): a dead one looks like no rows."""

    async def add(self, chat: Chat, caller: Caller) -> None:
        """Raise ``InvalidToken`` (at commit at the latest) unless the caller is live."""

    async def get(self, chat_id: UUID) -> Chat | None:
        """The chat whoever owns it (operator view)."""

    async def count_by_user(self, user_ids: Sequence[UUID]) -> dict[UUID, int]:
        """How many chats each of these users has; a user with none may be left out."""

    async def get_owned(self, chat_id: UUID, caller: Caller) -> Chat | None:
        """The chat, only when the caller owns it."""

    async def list_owned(self, caller: Caller, page: PageRequest) -> Page[Chat]:
        """Most recently active first (``page.order`` does not apply)."""

    async def rename(self, chat_id: UUID, caller: Caller, title: str) -> Chat | None: ...

    async def delete_owned(self, chat_id: UUID, caller: Caller) -> bool:
        """Delete the chat and its messages; False when there was none to delete."""

    async def list_owned_oldest_first(self, user_id: UUID, page: PageRequest) -> Page[Chat]:
        """By ``(created_at, id)``, oldest first (``page.order`` does not apply)."""


class MessageRepository(Protocol):
    async def append(self, messages: Sequence[Message]) -> None:
        """Add messages to their chat (all to one chat), and move the chat's ``updated_at``
        to the newest message's ``created_at``, never backwards. Raise ``ChatNotFound``
        when the chat is gone and ``InvalidToken`` when the user is (at commit at the
        latest)."""

    async def list_in_chat(
        self, chat_id: UUID, page: PageRequest, *, owner: Caller | None = None
    ) -> Page[Message]:
        """A page of the chat; with ``owner``, an empty page unless that caller owns the
        chat and is live."""

    async def count_in_chat(self, chat_id: UUID) -> int: ...


class SessionRepository(Protocol):
    """Sessions and their refresh tokens, known only by hash (SHA-256 of the token).

    "Live" means not revoked and not expired, judged by the store's clock.
    ``rotate``, ``revoke_rotated`` and ``revoke`` are each one atomic step and may take
    effect before ``commit`` (the SQL adapter runs each as one statement at once).
    """

    async def add(self, session: Session, refresh_hash: str) -> None:
        """Open ``session`` with its first refresh token."""

    async def rotate(
        self, refresh_hash: str, new_refresh_hash: str, expires_at: datetime
    ) -> Session | None:
        """Swap the live session's current refresh token for a new one, atomically.

        The session whose current token hashes to ``refresh_hash`` gets ``new_refresh_hash``,
        the new ``expires_at`` and a fresh ``last_used_at``; the old hash is remembered as
        rotated away. None when no live session holds that token now: of concurrent calls
        with one token, at most one gets the session.
        """

    async def revoke_rotated(self, refresh_hash: str) -> bool:
        """End the session a token once belonged to, if it was rotated away (a replay).

        True when ``refresh_hash`` is such a retired token (whether or not its session
        was still live), False when it was never issued or its session is gone.
        """

    async def is_live(self, caller: Caller) -> bool:
        """Whether the caller's session is live and belongs to the caller's user."""

    async def list_live(self, user_id: UUID) -> list[Session]:
        """The user's live sessions, most recently used first."""

    async def revoke(self, session_id: UUID, user_id: UUID) -> bool:
        """End one live session of the user; False when there is none by that id."""

    async def revoke_all(self, user_id: UUID, except_session: UUID | None = None) -> None:
        """End every live session of the user, but ``except_session`` if given."""

    async def purge(self, older_than: datetime) -> None:
        """Forget sessions that expired or were revoked before ``older_than``."""


@dataclass(frozen=True, slots=True)
class IdempotentRecord:
    """A request already made with one Idempotency-Key, and what it produced."""

    request_hash: str
    result: str | None  # None while that request is in flight
    created_at: datetime | None = None  # when it claimed the key


class IdempotencyStore(Protocol):
    async def claim(
        self, user_id: UUID, key: str, request_hash: str, *, in_flight_for: timedelta
    ) -> IdempotentRecord | None:
        """Record the key as in flight for this request; None when this call took it.

        The record is committed at once, in a transaction of its own (call it before the
        unit of work writes anything): a concurrent request with the same key sees it
        while this one is still running, and no lock is held meanwhile. A key whose
        request has been in flight for longer than ``in_flight_for`` counts as
        abandoned (its process died) and is taken over. Otherwise the earlier record
        is returned as it stands, finished or still in flight.
        """

    async def complete(self, user_id: UUID, key: str, result: str) -> None:
        """Store what the request produced (a write of the unit of work, at ``commit``)."""

    async def release(self, user_id: UUID, key: str, request_hash: str) -> None:
        """Forget the key if it is still in flight for that request (it failed): a write."""

    async def purge(self, older_than: datetime) -> None:
        """Forget keys first used before ``older_than``."""


class AttemptCounter(Protocol):
    """Attempt counters per subject, shared by every process (a subject is e.g. an email).

    A subject is any string, of any length: adapters store a fixed-size digest of it.
    """

    async def reserve(
        self, subjects: Mapping[str, timedelta], now: datetime
    ) -> dict[str, AttemptWindow]:
        """Count one attempt per subject (in its window); answer each count, this one included.

        Counted for good when it returns, in a transaction of its own, whatever the unit of
        work does after; concurrent reservations of one subject each see a distinct count.
        So it comes first in its unit of work, before anything is written. A window that
        ended restarts at 1.
        """

    async def release(self, subject: str) -> None:
        """Take back one reserved attempt (it turned out not to be a failure)."""

    async def clear(self, subject: str) -> None: ...

    async def purge(self, older_than: datetime) -> None:
        """Drop windows that started before ``older_than``."""


class ResetTokenRepository(Protocol):
    """At most one reset token per user: the newest one asked for."""

    async def replace(self, token: ResetToken) -> None:
        """Make ``token`` the user's only one; an earlier token stops working, used or not."""

    async def find(self, digest: str, now: datetime) -> UUID | None:
        """The user of the token with this digest, if it is still live; it stays usable."""

    async def consume(self, digest: str, now: datetime) -> UUID | None:
        """Remove the live token with this digest and return its user, else None.

        Of concurrent calls with one digest, at most one gets the user.
        """

    async def purge(self, older_than: datetime) -> None:
        """Forget tokens that expired before ``older_than``."""


class UnitOfWork(Protocol):
    """A borrowed database connection for one step of a use case, and its writes.

    Reads run when asked, each on its own, outside any transaction: each sees what is
    committed at that moment and locks nothing. Writes are held back and made together
    at ``commit``, in one transaction: all of them or none. Leaving the block without
    ``commit`` discards them. A write that returns something (``rename``,
    ``delete_owned``) runs at once, inside the transaction ``commit`` ends.

    So a read and a later write are not atomic: another request may change the row
    in between. A use case that needs them to be (read, decide, write) opens
    ``transaction()``; reads that ask for it (``for_update``) lock their rows there.
    Nothing slow (a password hash, a model's reply) belongs inside a unit of work:
    open one, do the reads, leave; do the slow part; open another for the writes.
    """

    # Read-only here, so an adapter may expose its own concrete repository types.
    @property
    def users(self) -> UserRepository: ...

    @property
    def chats(self) -> ChatRepository: ...

    @property
    def messages(self) -> MessageRepository: ...

    @property
    def sessions(self) -> SessionRepository: ...

    @property
    def idempotency(self) -> IdempotencyStore: ...

    @property
    def attempts(self) -> AttemptCounter: ...

    @property
    def reset_tokens(self) -> ResetTokenRepository: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def transaction(self) -> AbstractAsyncContextManager[None]:
        """One transaction from now on: reads inside it and the writes ``commit`` makes.

        It begins when the block is entered; ``commit`` inside the block ends it,
        leaving the block without ``commit`` rolls it back.
        """
        ...

    async def commit(self) -> None: ...


class EmailRule(Protocol):
    def normalize(self, email: str) -> str:
        """The one form an address is stored and compared in, on every path;
        ``InvalidInput`` when it is not a valid address."""


class PasswordHasher(Protocol):
    async def hash(self, password: str) -> str: ...

    async def verify(self, password: str, password_hash: str) -> tuple[bool, str | None]:
        """Whether it matches, and a new hash when the stored one is outdated."""

    async def burn(self, password: str) -> None:
        """Spend the time of one verification on nothing (for unknown emails)."""


@dataclass(frozen=True, slots=True)
class IssuedToken:
    value: str
    expires_in: int  # seconds


class TokenService(Protocol):
    """Access tokens: short-lived, self-contained, each naming its user and session."""

    def issue(self, user_id: UUID, session_id: UUID) -> IssuedToken: ...

    def caller(self, token: str) -> Caller:
        """Who a valid token speaks for; ``InvalidToken`` otherwise (a token without a
        session, too). Whether the session is still live is the store's to say."""


@dataclass(frozen=True, slots=True)
class EmailMessage:
    """A plain-text e-mail to one recipient."""

    to: str
    subject: str
    body: str


class EmailSender(Protocol):
    async def send(self, message: EmailMessage) -> None:
        """Deliver ``message``, or raise ``EmailNotSent``; never blocks the event loop."""


class Readiness(Protocol):
    async def problems(self) -> list[str]:
        """What keeps storage from serving (unreachable, schema not current); empty when ready."""


@dataclass(frozen=True, slots=True)
class PoolStatus:
    """Storage connections right now, for metrics."""

    size: int
    checked_out: int
    idle: int
    overflow: int


class AssistantResponder(Protocol):
    def reply(self, chat: Chat, message: Message) -> AsyncIterator[str]:
        """The assistant's answer to ``message`` in ``chat``, as text chunks in order.

        Raises ``AssistantUnavailable`` when it cannot answer (before or after the
        first chunk). A real model will read history and memories through ports of
        its own.
        """
        ...
