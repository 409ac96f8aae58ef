"""Repositories over plain dicts, with the same contracts as the SQL ones."""

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Self, TypeVar
from uuid import UUID

from application.ports import IdempotentRecord
from domain.chats import Chat, Message, one_chat
from domain.errors import ChatNotFound, EmailAlreadyRegistered, InvalidToken, UserNotFound
from domain.paging import Order, Page, PageRequest, Position
from domain.password_resets import ResetToken
from domain.sessions import Caller, Session
from domain.throttling import AttemptWindow
from domain.users import User

T = TypeVar("T")


@dataclass
class InMemoryState:
    users: dict[UUID, User] = field(default_factory=dict)
    chats: dict[UUID, Chat] = field(default_factory=dict)
    messages: dict[UUID, Message] = field(default_factory=dict)
    idempotency: dict[tuple[UUID, str], IdempotentRecord] = field(default_factory=dict)
    attempts: dict[str, AttemptWindow] = field(default_factory=dict)
    sessions: dict[UUID, Session] = field(default_factory=dict)
    refresh_hashes: dict[str, UUID] = field(default_factory=dict)  # current token -> session
    rotated_hashes: dict[str, UUID] = field(default_factory=dict)  # retired token -> session
    reset_tokens: dict[UUID, ResetToken] = field(default_factory=dict)  # by user

    def copy(self) -> "InMemoryState":
        """A private copy; entities are replaced, never changed in place, so shallow is enough."""
        return InMemoryState(
            users=dict(self.users),
            chats=dict(self.chats),
            messages=dict(self.messages),
            idempotency=dict(self.idempotency),
            attempts=dict(self.attempts),
            sessions=dict(self.sessions),
            refresh_hashes=dict(self.refresh_hashes),
            rotated_hashes=dict(self.rotated_hashes),
            reset_tokens=dict(self.reset_tokens),
        )


@dataclass
class InMemoryStore:
    """The committed state. One transaction at a time holds ``lock`` (serialisable)."""

    state: InMemoryState = field(default_factory=InMemoryState)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def _page(rows: list[T], position: Callable[[T], Position], page: PageRequest) -> Page[T]:
    def key(row: T) -> tuple[datetime, UUID]:
        return position(row).at, position(row).id

    ascending = page.order is Order.ASC
    rows = sorted(rows, key=key, reverse=not ascending)
    if page.after is not None:
        start = (page.after.at, page.after.id)
        rows = [r for r in rows if (key(r) > start if ascending else key(r) < start)]
    items = rows[: page.limit]
    more = len(rows) > page.limit
    return Page(items, position(items[-1]) if more else None)


class InMemoryUserRepository:
    def __init__(self, state: InMemoryState) -> None:
        self._state = state

    async def add(self, user: User) -> None:
        if any(u.email == user.email for u in self._state.users.values()):
            raise EmailAlreadyRegistered()
        self._state.users[user.id] = user

    async def get(self, user_id: UUID) -> User | None:
        return self._state.users.get(user_id)

    async def get_by_email(self, email: str, *, for_update: bool = False) -> User | None:
        return next((u for u in self._state.users.values() if u.email == email), None)

    async def exists(self, user_id: UUID) -> bool:
        return user_id in self._state.users

    async def update_password_hash(self, user_id: UUID, password_hash: str) -> None:
        if user := self._state.users.get(user_id):
            self._state.users[user_id] = replace(user, password_hash=password_hash)

    async def delete(self, user_id: UUID) -> None:
        state = self._state
        state.users.pop(user_id, None)
        state.chats = {k: c for k, c in state.chats.items() if c.user_id != user_id}
        state.messages = {k: m for k, m in state.messages.items() if m.user_id != user_id}
        state.idempotency = {k: r for k, r in state.idempotency.items() if k[0] != user_id}
        gone = {k for k, s in state.sessions.items() if s.user_id == user_id}
        state.sessions = {k: s for k, s in state.sessions.items() if k not in gone}
        state.refresh_hashes = {h: k for h, k in state.refresh_hashes.items() if k not in gone}
        state.rotated_hashes = {h: k for h, k in state.rotated_hashes.items() if k not in gone}
        state.reset_tokens.pop(user_id, None)

    async def list_all(self, page: PageRequest) -> Page[User]:
        rows = list(self._state.users.values())
        return _page(rows, lambda u: Position(u.created_at, u.id), page)


def _live(state: InMemoryState, caller: Caller) -> bool:
    """The condition the SQL statements carry: a live session, or for the operator a user."""
    if caller.session_id is None:
        return caller.user_id in state.users
    session = state.sessions.get(caller.session_id)
    return (
        session is not None
        and session.user_id == caller.user_id
        and session.is_live(_now())
        and caller.user_id in state.users  # the foreign key's cascade, in SQL
    )


def _now() -> datetime:
    return datetime.now(UTC)


class InMemoryChatRepository:
    def __init__(self, state: InMemoryState) -> None:
        self._state = state

    async def add(self, chat: Chat, caller: Caller) -> None:
        if chat.user_id not in self._state.users or not _live(self._state, caller):
            raise InvalidToken()  # the foreign key and the live session the SQL one needs
        self._state.chats[chat.id] = chat

    async def get(self, chat_id: UUID) -> Chat | None:
        return self._state.chats.get(chat_id)

    async def count_by_user(self, user_ids: Sequence[UUID]) -> dict[UUID, int]:
        wanted = set(user_ids)
        counts: dict[UUID, int] = {}
        for chat in self._state.chats.values():
            if chat.user_id in wanted:
                counts[chat.user_id] = counts.get(chat.user_id, 0) + 1
        return counts

    async def get_owned(self, chat_id: UUID, caller: Caller) -> Chat | None:
        chat = self._state.chats.get(chat_id)
        if chat is None or chat.user_id != caller.user_id or not _live(self._state, caller):
            return None
        return chat

    async def list_owned(self, caller: Caller, page: PageRequest) -> Page[Chat]:
        if not _live(self._state, caller):
            return Page([], None)
        owned = [c for c in self._state.chats.values() if c.user_id == caller.user_id]
        return _page(owned, lambda c: Position(c.updated_at, c.id), replace(page, order=Order.DESC))

    async def rename(self, chat_id: UUID, caller: Caller, title: str) -> Chat | None:
        chat = await self.get_owned(chat_id, caller)
        if chat is None:
            return None
        renamed = replace(chat, title=title)
        self._state.chats[chat_id] = renamed
        return renamed

    async def delete_owned(self, chat_id: UUID, caller: Caller) -> bool:
        if await self.get_owned(chat_id, caller) is None:
            return False
        del self._state.chats[chat_id]
        self._state.messages = {
            k: m for k, m in self._state.messages.items() if m.chat_id != chat_id
        }
        return True

    async def list_owned_oldest_first(self, user_id: UUID, page: PageRequest) -> Page[Chat]:
        owned = [c for c in self._state.chats.values() if c.user_id == user_id]
        return _page(owned, lambda c: Position(c.created_at, c.id), replace(page, order=Order.ASC))


class InMemoryMessageRepository:
    def __init__(self, state: InMemoryState) -> None:
        self._state = state

    async def append(self, messages: Sequence[Message]) -> None:
        if not messages:
            return
        chat_id = one_chat(messages)
        # The foreign keys the SQL schema enforces.
        chat = self._state.chats.get(chat_id)
        if chat is None:
            raise ChatNotFound()
        if any(m.user_id not in self._state.users for m in messages):
            raise InvalidToken()
        for message in messages:
            self._state.messages[message.id] = message
        newest = max(m.created_at for m in messages)
        self._state.chats[chat_id] = replace(chat, updated_at=max(chat.updated_at, newest))

    async def list_in_chat(
        self, chat_id: UUID, page: PageRequest, *, owner: Caller | None = None
    ) -> Page[Message]:
        chat = self._state.chats.get(chat_id)
        if owner is not None and (
            chat is None or chat.user_id != owner.user_id or not _live(self._state, owner)
        ):
            return Page([], None)
        rows = [m for m in self._state.messages.values() if m.chat_id == chat_id]
        return _page(rows, lambda m: Position(m.created_at, m.id), page)

    async def count_in_chat(self, chat_id: UUID) -> int:
        return sum(1 for m in self._state.messages.values() if m.chat_id == chat_id)


class InMemorySessionRepository:
    def __init__(self, state: InMemoryState) -> None:
        self._state = state

    async def add(self, session: Session, refresh_hash: str) -> None:
        if session.user_id not in self._state.users:
            raise InvalidToken()  # the foreign key the SQL schema enforces
        self._state.sessions[session.id] = session
        self._state.refresh_hashes[refresh_hash] = session.id

    async def rotate(
        self, refresh_hash: str, new_refresh_hash: str, expires_at: datetime
    ) -> Session | None:
        session_id = self._state.refresh_hashes.get(refresh_hash)
        session = self._state.sessions.get(session_id) if session_id else None
        if session is None or not session.is_live(_now()):
            return None
        rotated = replace(session, expires_at=expires_at, last_used_at=_now())
        self._state.sessions[session.id] = rotated
        del self._state.refresh_hashes[refresh_hash]
        self._state.refresh_hashes[new_refresh_hash] = session.id
        self._state.rotated_hashes[refresh_hash] = session.id
        return rotated

    async def revoke_rotated(self, refresh_hash: str) -> bool:
        session_id = self._state.rotated_hashes.get(refresh_hash)
        session = self._state.sessions.get(session_id) if session_id else None
        if session is None:
            return False
        if session.revoked_at is None:
            self._state.sessions[session.id] = replace(session, revoked_at=_now())
        return True

    async def is_live(self, caller: Caller) -> bool:
        return caller.session_id is not None and _live(self._state, caller)

    async def list_live(self, user_id: UUID) -> list[Session]:
        now = _now()
        live = [s for s in self._state.sessions.values() if s.user_id == user_id and s.is_live(now)]
        return sorted(live, key=lambda s: (s.last_used_at or s.created_at, s.id), reverse=True)

    async def revoke(self, session_id: UUID, user_id: UUID) -> bool:
        session = self._state.sessions.get(session_id)
        if session is None or session.user_id != user_id or not session.is_live(_now()):
            return False
        self._state.sessions[session_id] = replace(session, revoked_at=_now())
        return True

    async def revoke_all(self, user_id: UUID, except_session: UUID | None = None) -> None:
        for session in list(self._state.sessions.values()):
            if (
                session.user_id == user_id
                and session.id != except_session
                and session.revoked_at is None
            ):
                self._state.sessions[session.id] = replace(session, revoked_at=_now())

    async def purge(self, older_than: datetime) -> None:
        def ended_before(s: Session) -> bool:
            revoked = s.revoked_at is not None and s.revoked_at < older_than
            return s.expires_at < older_than or revoked

        gone = {k for k, s in self._state.sessions.items() if ended_before(s)}
        state = self._state
        state.sessions = {k: s for k, s in state.sessions.items() if k not in gone}
        state.refresh_hashes = {h: k for h, k in state.refresh_hashes.items() if k not in gone}
        state.rotated_hashes = {h: k for h, k in state.rotated_hashes.items() if k not in gone}


class InMemoryIdempotencyStore:
    def __init__(self, state: InMemoryState, committed: "InMemoryStore") -> None:
        self._state = state
        self._committed = committed

    async def claim(
        self, user_id: UUID, key: str, request_hash: str, *, in_flight_for: timedelta
    ) -> IdempotentRecord | None:
        now = datetime.now(UTC)
        if user_id not in self._state.users:
            raise InvalidToken()  # the foreign key the SQL schema enforces
        earlier = self._state.idempotency.get((user_id, key))
        abandoned = (
            earlier is not None
            and earlier.result is None
            and earlier.created_at is not None
            and earlier.created_at < now - in_flight_for
        )
        if earlier is not None and not abandoned:
            return earlier
        claimed = IdempotentRecord(request_hash, None, now)
        # Committed at once, as the port says, whatever this unit of work does next.
        self._state.idempotency[(user_id, key)] = claimed
        self._committed.state.idempotency[(user_id, key)] = claimed
        return None

    async def complete(self, user_id: UUID, key: str, result: str) -> None:
        if record := self._state.idempotency.get((user_id, key)):
            self._state.idempotency[(user_id, key)] = replace(record, result=result)

    async def release(self, user_id: UUID, key: str, request_hash: str) -> None:
        record = self._state.idempotency.get((user_id, key))
        if record is not None and record.result is None and record.request_hash == request_hash:
            del self._state.idempotency[(user_id, key)]

    async def purge(self, older_than: datetime) -> None:
        self._state.idempotency = {
            k: r
            for k, r in self._state.idempotency.items()
            if r.created_at is None or r.created_at >= older_than
        }


class InMemoryAttemptCounter:
    def __init__(self, state: InMemoryState, store: InMemoryStore) -> None:
        self._state = state
        self._store = store

    async def reserve(
        self, subjects: Mapping[str, timedelta], now: datetime
    ) -> dict[str, AttemptWindow]:
        counted: dict[str, AttemptWindow] = {}
        for subject, window in subjects.items():
            current = self._state.attempts.get(subject)
            if current is None or current.started_at <= now - window:
                counted[subject] = AttemptWindow(1, now)
            else:
                counted[subject] = replace(current, count=current.count + 1)
            # Counted for good at once, as the port promises, whether or not we commit.
            self._state.attempts[subject] = counted[subject]
            self._store.state.attempts[subject] = counted[subject]
        return counted

    async def release(self, subject: str) -> None:
        current = self._state.attempts.get(subject)
        if current is not None:
            self._state.attempts[subject] = replace(current, count=max(current.count - 1, 0))

    async def clear(self, subject: str) -> None:
        self._state.attempts.pop(subject, None)

    async def purge(self, older_than: datetime) -> None:
        self._state.attempts = {
            s: w for s, w in self._state.attempts.items() if w.started_at >= older_than
        }


class InMemoryResetTokenRepository:
    def __init__(self, state: InMemoryState) -> None:
        self._state = state

    async def replace(self, token: ResetToken) -> None:
        if token.user_id not in self._state.users:
            raise UserNotFound()  # the foreign key the SQL schema enforces
        self._state.reset_tokens[token.user_id] = token

    async def find(self, digest: str, now: datetime) -> UUID | None:
        token = self._live(digest, now)
        return token.user_id if token else None

    async def consume(self, digest: str, now: datetime) -> UUID | None:
        token = self._live(digest, now)
        if token is None:
            return None
        del self._state.reset_tokens[token.user_id]
        return token.user_id

    async def purge(self, older_than: datetime) -> None:
        self._state.reset_tokens = {
            k: t for k, t in self._state.reset_tokens.items() if t.expires_at >= older_than
        }

    def _live(self, digest: str, now: datetime) -> ResetToken | None:
        return next(
            (t for t in self._state.reset_tokens.values() if t.digest == digest and t.is_live(now)),
            None,
        )


class InMemoryUnitOfWork:
    """Works on a private copy of the store; ``commit`` publishes it.

    The store's lock is held from entering to leaving, so every unit of work is
    serialisable here; ``transaction()`` adds only its rollback on leaving.
    """

    users: InMemoryUserRepository
    chats: InMemoryChatRepository
    messages: InMemoryMessageRepository
    sessions: InMemorySessionRepository
    idempotency: InMemoryIdempotencyStore
    attempts: InMemoryAttemptCounter
    reset_tokens: InMemoryResetTokenRepository

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self._state = InMemoryState()
        self._in_transaction = False

    async def __aenter__(self) -> Self:
        await self._store.lock.acquire()
        self._fork()
        return self

    def _fork(self) -> None:
        """Start over from the committed state (on entering, and on a rollback)."""
        self._state = self._store.state.copy()
        self.users = InMemoryUserRepository(self._state)
        self.chats = InMemoryChatRepository(self._state)
        self.messages = InMemoryMessageRepository(self._state)
        self.sessions = InMemorySessionRepository(self._state)
        self.idempotency = InMemoryIdempotencyStore(self._state, self._store)
        self.attempts = InMemoryAttemptCounter(self._state, self._store)
        self.reset_tokens = InMemoryResetTokenRepository(self._state)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._store.lock.release()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        if self._in_transaction:
            raise RuntimeError("a transaction is already open")
        self._in_transaction = True
        try:
            yield
        finally:
            if self._in_transaction:  # left without commit: roll back
                self._in_transaction = False
                self._fork()

    async def commit(self) -> None:
        self._store.state = self._state
        self._in_transaction = False
