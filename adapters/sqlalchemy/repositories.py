"""Repositories over one unit of work's ``Statements``: SQL in, domain entities out.

They never commit. A write without RETURNING is only queued until the commit
(``adapters.sqlalchemy.statements``), so nothing here reads the result of one.
"""

import functools
import hashlib
import operator
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import (
    Column,
    Float,
    Integer,
    Select,
    String,
    Table,
    bindparam,
    case,
    delete,
    exists,
    func,
    literal_column,
    select,
    true,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.sql.elements import ColumnElement

from adapters.sqlalchemy.rows import RowMapping
from adapters.sqlalchemy.statements import Precompiled, Statements, precompile
from adapters.sqlalchemy.tables import (
    auth_failures,
    chats,
    idempotency_keys,
    messages,
    rotated_refresh_tokens,
    sessions,
    users,
)
from application.ports import IdempotentRecord
from domain.chats import Chat, Message, Role, one_chat
from domain.paging import Order, Page, PageRequest, Position
from domain.sessions import Caller, Session
from domain.throttling import AttemptWindow
from domain.users import User

_USERS = RowMapping(users, User)
_CHATS = RowMapping(chats, Chat)
# A dictionary lookup, not Role(value): Enum's call costs more than the rest of a row.
_ROLES = {role.value: role for role in Role}
_MESSAGES = RowMapping(
    messages,
    Message,
    load={"role": _ROLES.__getitem__},
    dump={"role": operator.attrgetter("value")},
)
# The refresh token's hash stays in the store: it is looked up, never handed out.
_SESSIONS = RowMapping(sessions, Session, omit={"refresh_hash"})
_SESSION_COLUMNS = _SESSIONS.columns


def _keyset(
    at: ColumnElement[datetime], id_: ColumnElement[UUID], start: Position | None, order: Order
) -> tuple[ColumnElement[bool] | None, list[ColumnElement[Any]]]:
    """The WHERE and ORDER BY of a keyset page over ``(at, id)``, resuming after ``start``."""
    ascending = order is Order.ASC
    after = None
    if start is not None:
        key = tuple_(at, id_)
        bound = tuple_(start.at, start.id)
        after = key > bound if ascending else key < bound
    sort: list[ColumnElement[Any]] = [at.asc(), id_.asc()] if ascending else [at.desc(), id_.desc()]
    return after, sort


def live_session(
    session_id: ColumnElement[UUID] | Any, user_id: ColumnElement[UUID] | Any
) -> ColumnElement[bool]:
    """EXISTS a live session by that id of that user: the condition every caller passes.

    Judged by the database's clock, in the statement that serves the request, so a
    revocation committed by any process is seen by the very next statement.
    """
    return exists().where(
        sessions.c.id == session_id,
        sessions.c.user_id == user_id,
        sessions.c.revoked_at.is_(None),
        sessions.c.expires_at > func.now(),
    )


# The hot statements are built once, with bound parameters, and precompiled for psycopg
# (adapters.sqlalchemy.statements): building a statement and its cache key on every
# call, and SQLAlchemy's execution path, cost more than running it.


def _page_of(
    table: Table, at: Column[datetime], scope: ColumnElement[bool], resume: bool, order: Order
) -> Select[Any]:
    """Rows of ``table`` in ``scope``, ordered by ``(at, id)``; after ``after_at, after_id``
    when ``resume``; ``limit`` of them."""
    id_ = table.c.id
    query = select(table).where(scope)
    if resume:
        key = tuple_(at, id_)
        bound = tuple_(bindparam("after_at", type_=at.type), bindparam("after_id", type_=id_.type))
        query = query.where(key > bound if order is Order.ASC else key < bound)
    sort = [at.asc(), id_.asc()] if order is Order.ASC else [at.desc(), id_.desc()]
    return query.order_by(*sort).limit(bindparam("limit", type_=Integer()))


def _live(session: bool, user_id: str = "user_id") -> ColumnElement[bool]:
    """The caller's condition on a hot statement: a live session (``session_id`` and
    ``user_id`` parameters), or nothing for the operator, whose user the scope proves."""
    if not session:
        return true()
    # Uncorrelated: PostgreSQL checks it once (a one-time filter), not per row.
    return live_session(bindparam("session_id"), bindparam(user_id))


def _caller_parameters(caller: Caller, user_id: str = "user_id") -> dict[str, Any]:
    if caller.session_id is None:
        return {user_id: caller.user_id}
    return {user_id: caller.user_id, "session_id": caller.session_id}


@functools.cache
def _chat_page(resume: bool, session: bool) -> Precompiled:
    scope = (chats.c.user_id == bindparam("user_id")) & _live(session)
    return precompile(_page_of(chats, chats.c.updated_at, scope, resume, Order.DESC))


@functools.cache
def _chat_page_by_creation(resume: bool) -> Precompiled:
    scope = chats.c.user_id == bindparam("user_id")
    return precompile(_page_of(chats, chats.c.created_at, scope, resume, Order.ASC))


@functools.cache
def _message_page(resume: bool, order: Order, owned: bool, session: bool) -> Precompiled:
    scope = messages.c.chat_id == bindparam("chat_id")
    if owned:
        # Uncorrelated: PostgreSQL checks it once (a one-time filter), not per row.
        scope = scope & exists().where(
            chats.c.id == bindparam("chat_id"), chats.c.user_id == bindparam("owner")
        )
        scope = scope & _live(session, user_id="owner")
    return precompile(_page_of(messages, messages.c.created_at, scope, resume, order))


def _page_parameters(page: PageRequest, **scope: UUID) -> dict[str, Any]:
    parameters: dict[str, Any] = {**scope, "limit": page.limit + 1}
    if page.after is not None:
        parameters.update(after_at=page.after.at, after_id=page.after.id)
    return parameters


@functools.cache
def _get_owned(session: bool) -> Precompiled:
    return precompile(
        select(chats).where(
            chats.c.id == bindparam("chat_id"),
            chats.c.user_id == bindparam("user_id"),
            _live(session),
        )
    )


@functools.cache
def _add_chat(session: bool) -> Precompiled:
    if not session:
        return precompile(chats.insert())  # every column a parameter named after it
    # The owner comes from the caller's live session: none (logged out, expired) makes
    # it NULL, which the NOT NULL column refuses, and errors.translate says InvalidToken.
    # The check rides in the insert: no round trip of its own.
    owner = (
        select(sessions.c.user_id)
        .where(
            sessions.c.id == bindparam("session_id"),
            sessions.c.user_id == bindparam("user_id"),
            sessions.c.revoked_at.is_(None),
            sessions.c.expires_at > func.now(),
        )
        .scalar_subquery()
    )
    values = {c.key: bindparam(c.key, type_=c.type) for c in chats.c if c.key != "user_id"}
    return precompile(chats.insert().values(user_id=owner, **values))


_USER_BY_ID = precompile(select(users).where(users.c.id == bindparam("user_id")))
_USER_BY_EMAIL = precompile(select(users).where(users.c.email == bindparam("email")))
_USER_EXISTS = precompile(select(exists().where(users.c.id == bindparam("user_id"))))
_ADD_USER = precompile(users.insert())  # every column a parameter named after it


@functools.lru_cache(maxsize=8)
def _append(count: int) -> Precompiled:
    """``count`` messages into the chat ``chat_id`` and the chat's ``updated_at`` moved to
    ``at``, as one statement: atomic on its own, so a commit with nothing else to write
    sends it without BEGIN and COMMIT (``Statements.commit``)."""
    # Each row's columns are parameters named after them, plus the row's number.
    rows = [
        {c.key: bindparam(f"{c.key}_{n}", type_=c.type) for c in messages.c} for n in range(count)
    ]
    added = messages.insert().values(rows).cte("added")
    at = bindparam("at", type_=chats.c.updated_at.type)
    return precompile(
        update(chats)
        .where(chats.c.id == bindparam("chat_id", type_=chats.c.id.type))
        .values(updated_at=func.greatest(chats.c.updated_at, at))
        .add_cte(added)
    )


_USER_BY_EMAIL_FOR_UPDATE = precompile(
    select(users).where(users.c.email == bindparam("email")).with_for_update()
)

_claimed = insert(idempotency_keys).values(
    user_id=bindparam("user_id"),
    key=bindparam("key"),
    request_hash=bindparam("request_hash"),
    created_at=func.now(),
)
# A key still in flight after this long was left by a request that died: take it over.
_abandoned = idempotency_keys.c.result.is_(None) & (
    idempotency_keys.c.created_at
    < func.now()
    - literal_column("interval '1 second'") * bindparam("in_flight_seconds", type_=Float())
)
_CLAIM_KEY = precompile(
    _claimed.on_conflict_do_update(
        index_elements=[idempotency_keys.c.user_id, idempotency_keys.c.key],
        set_={"request_hash": _claimed.excluded.request_hash, "created_at": func.now()},
        where=_abandoned,
    ).returning(idempotency_keys.c.key)
)
_KEY_RECORD = precompile(
    select(
        idempotency_keys.c.request_hash, idempotency_keys.c.result, idempotency_keys.c.created_at
    ).where(
        idempotency_keys.c.user_id == bindparam("user_id"),
        idempotency_keys.c.key == bindparam("key"),
    )
)


def _caller_live(caller: Caller) -> ColumnElement[bool]:
    """``_live`` for statements built per call, with the values inline as parameters."""
    if caller.session_id is None:
        return true()
    return live_session(caller.session_id, caller.user_id)


class SqlAlchemyUserRepository:
    def __init__(self, connection: Statements) -> None:
        self._connection = connection

    async def add(self, user: User) -> None:
        self._connection.write(_ADD_USER, _USERS.values(user))

    async def get(self, user_id: UUID) -> User | None:
        rows = await self._connection.fetch(_USER_BY_ID, {"user_id": user_id})
        return _USERS.entity(rows[0]) if rows else None

    async def get_by_email(self, email: str, *, for_update: bool = False) -> User | None:
        query = _USER_BY_EMAIL_FOR_UPDATE if for_update else _USER_BY_EMAIL
        rows = await self._connection.fetch(query, {"email": email})
        return _USERS.entity(rows[0]) if rows else None

    async def exists(self, user_id: UUID) -> bool:
        rows = await self._connection.fetch(_USER_EXISTS, {"user_id": user_id})
        return bool(rows[0][0])

    async def update_password_hash(self, user_id: UUID, password_hash: str) -> None:
        await self._connection.execute(
            update(users).where(users.c.id == user_id).values(password_hash=password_hash)
        )

    async def delete(self, user_id: UUID) -> None:
        # Foreign keys cascade to chats, messages and idempotency keys.
        await self._connection.execute(delete(users).where(users.c.id == user_id))

    async def list_all(self, page: PageRequest) -> Page[User]:
        after, order = _keyset(users.c.created_at, users.c.id, page.after, page.order)
        query = select(users)
        if after is not None:
            query = query.where(after)
        rows = (await self._connection.execute(query.order_by(*order).limit(page.limit + 1))).all()
        items = [_USERS.entity(row) for row in rows[: page.limit]]
        more = len(rows) > page.limit
        return Page(items, Position(items[-1].created_at, items[-1].id) if more else None)


class SqlAlchemyChatRepository:
    def __init__(self, connection: Statements) -> None:
        self._connection = connection

    async def add(self, chat: Chat, caller: Caller) -> None:
        self._connection.write(
            _add_chat(caller.session_id is not None),
            {
                **_CHATS.values(chat),
                **_caller_parameters(Caller(chat.user_id, caller.session_id)),
            },
        )

    async def get(self, chat_id: UUID) -> Chat | None:
        row = (await self._connection.execute(select(chats).where(chats.c.id == chat_id))).first()
        return _CHATS.entity(row) if row else None

    async def count_by_user(self, user_ids: Sequence[UUID]) -> dict[UUID, int]:
        if not user_ids:
            return {}
        query = (
            select(chats.c.user_id, func.count())
            .where(chats.c.user_id.in_(user_ids))
            .group_by(chats.c.user_id)
        )
        return {row[0]: row[1] for row in (await self._connection.execute(query)).all()}

    async def get_owned(self, chat_id: UUID, caller: Caller) -> Chat | None:
        query = _get_owned(caller.session_id is not None)
        parameters = {"chat_id": chat_id, **_caller_parameters(caller)}
        rows = await self._connection.fetch(query, parameters)
        return _CHATS.entity(rows[0]) if rows else None

    async def list_owned(self, caller: Caller, page: PageRequest) -> Page[Chat]:
        query = _chat_page(page.after is not None, caller.session_id is not None)
        parameters = {**_page_parameters(page), **_caller_parameters(caller)}
        rows = await self._connection.fetch(query, parameters)
        items = [_CHATS.entity(row) for row in rows[: page.limit]]
        more = len(rows) > page.limit
        return Page(items, Position(items[-1].updated_at, items[-1].id) if more else None)

    async def rename(self, chat_id: UUID, caller: Caller, title: str) -> Chat | None:
        query = (
            update(chats)
            .where(chats.c.id == chat_id, chats.c.user_id == caller.user_id, _caller_live(caller))
            .values(title=title)
            .returning(*chats.c)
        )
        row = (await self._connection.execute(query)).first()
        return _CHATS.entity(row) if row else None

    async def delete_owned(self, chat_id: UUID, caller: Caller) -> bool:
        query = delete(chats).where(
            chats.c.id == chat_id, chats.c.user_id == caller.user_id, _caller_live(caller)
        )
        result = await self._connection.execute(query.returning(chats.c.id))
        return result.first() is not None

    async def list_owned_oldest_first(self, user_id: UUID, page: PageRequest) -> Page[Chat]:
        query = _chat_page_by_creation(page.after is not None)
        rows = await self._connection.fetch(query, _page_parameters(page, user_id=user_id))
        items = [_CHATS.entity(row) for row in rows[: page.limit]]
        more = len(rows) > page.limit
        return Page(items, Position(items[-1].created_at, items[-1].id) if more else None)


class SqlAlchemyMessageRepository:
    def __init__(self, connection: Statements) -> None:
        self._connection = connection

    async def append(self, new: Sequence[Message]) -> None:
        if not new:
            return
        parameters = {"chat_id": one_chat(new), "at": max(m.created_at for m in new)}
        for n, message in enumerate(new):
            parameters.update(_MESSAGES.values(message, suffix=f"_{n}"))
        self._connection.write(_append(len(new)), parameters)

    async def list_in_chat(
        self, chat_id: UUID, page: PageRequest, *, owner: Caller | None = None
    ) -> Page[Message]:
        session = owner is not None and owner.session_id is not None
        query = _message_page(page.after is not None, page.order, owner is not None, session)
        parameters = _page_parameters(page, chat_id=chat_id)
        if owner is not None:
            parameters.update(_caller_parameters(owner, user_id="owner"))
        rows = await self._connection.fetch(query, parameters)
        items = [_MESSAGES.entity(row) for row in rows[: page.limit]]
        more = len(rows) > page.limit
        return Page(items, Position(items[-1].created_at, items[-1].id) if more else None)

    async def count_in_chat(self, chat_id: UUID) -> int:
        query = select(func.count()).select_from(messages).where(messages.c.chat_id == chat_id)
        return int((await self._connection.execute(query)).scalar_one())


_ADD_SESSION = precompile(sessions.insert())
_SESSION_IS_LIVE = precompile(select(live_session(bindparam("session_id"), bindparam("user_id"))))


class SqlAlchemySessionRepository:
    def __init__(self, connection: Statements) -> None:
        self._connection = connection

    async def add(self, session: Session, refresh_hash: str) -> None:
        self._connection.write(
            _ADD_SESSION,
            {**_SESSIONS.values(session), "refresh_hash": refresh_hash},
        )

    async def rotate(
        self, refresh_hash: str, new_refresh_hash: str, expires_at: datetime
    ) -> Session | None:
        # One statement, so atomic even in autocommit: the conditional UPDATE takes the
        # row lock, and a concurrent rotation with the same token waits for it, then finds
        # the hash changed and updates nothing. The retired hash is recorded alongside.
        rotated = (
            update(sessions)
            .where(
                sessions.c.refresh_hash == refresh_hash,
                sessions.c.revoked_at.is_(None),
                sessions.c.expires_at > func.now(),
            )
            .values(refresh_hash=new_refresh_hash, expires_at=expires_at, last_used_at=func.now())
            .returning(*_SESSION_COLUMNS)
            .cte("rotated")
        )
        retired = (
            insert(rotated_refresh_tokens)
            .from_select(
                ["refresh_hash", "session_id", "rotated_at"],
                select(
                    bindparam("retired_hash", refresh_hash, type_=String(64)),
                    rotated.c.id,
                    func.now(),
                ),
            )
            .returning(rotated_refresh_tokens.c.session_id)
            .cte("retired")
        )
        query = select(*[rotated.c[c.key] for c in _SESSION_COLUMNS]).add_cte(retired)
        row = (await self._connection.execute(query)).first()
        return _SESSIONS.entity(row) if row else None

    async def revoke_rotated(self, refresh_hash: str) -> bool:
        known = (
            select(rotated_refresh_tokens.c.session_id)
            .where(rotated_refresh_tokens.c.refresh_hash == refresh_hash)
            .cte("known")
        )
        ended = (
            update(sessions)
            .where(sessions.c.id.in_(select(known.c.session_id)), sessions.c.revoked_at.is_(None))
            .values(revoked_at=func.now())
            .returning(sessions.c.id)
            .cte("ended")
        )
        query = select(func.count()).select_from(known).add_cte(ended)
        return bool((await self._connection.execute(query)).scalar_one())

    async def is_live(self, caller: Caller) -> bool:
        parameters = {"session_id": caller.session_id, "user_id": caller.user_id}
        rows = await self._connection.fetch(_SESSION_IS_LIVE, parameters)
        return bool(rows[0][0])

    async def list_live(self, user_id: UUID) -> list[Session]:
        query = (
            select(*_SESSION_COLUMNS)
            .where(
                sessions.c.user_id == user_id,
                sessions.c.revoked_at.is_(None),
                sessions.c.expires_at > func.now(),
            )
            .order_by(sessions.c.last_used_at.desc(), sessions.c.id.desc())
        )
        return [_SESSIONS.entity(row) for row in (await self._connection.execute(query)).all()]

    async def revoke(self, session_id: UUID, user_id: UUID) -> bool:
        ended = (
            update(sessions)
            .where(
                sessions.c.id == session_id,
                sessions.c.user_id == user_id,
                sessions.c.revoked_at.is_(None),
                sessions.c.expires_at > func.now(),
            )
            .values(revoked_at=func.now())
            .returning(sessions.c.id)
            .cte("ended")
        )
        # A SELECT around the UPDATE: atomic on its own, and one round trip where an
        # UPDATE ... RETURNING would open a transaction first (see Statements).
        query = select(func.count()).select_from(ended)
        return bool((await self._connection.execute(query)).scalar_one())

    async def revoke_all(self, user_id: UUID, except_session: UUID | None = None) -> None:
        query = (
            update(sessions)
            .where(sessions.c.user_id == user_id, sessions.c.revoked_at.is_(None))
            .values(revoked_at=func.now())
        )
        if except_session is not None:
            query = query.where(sessions.c.id != except_session)
        await self._connection.execute(query)

    async def purge(self, older_than: datetime) -> None:
        await self._connection.execute(
            delete(sessions).where(
                (sessions.c.expires_at < older_than) | (sessions.c.revoked_at < older_than)
            )
        )


class SqlAlchemyIdempotencyStore:
    def __init__(self, connection: Statements) -> None:
        self._connection = connection

    async def claim(
        self, user_id: UUID, key: str, request_hash: str, *, in_flight_for: timedelta
    ) -> IdempotentRecord | None:
        # One statement, committed on its own: a fresh key is inserted, an abandoned one
        # taken over; either way a row comes back. No row: the key is someone's already.
        parameters = {
            "user_id": user_id,
            "key": key,
            "request_hash": request_hash,
            "in_flight_seconds": in_flight_for.total_seconds(),
        }
        if await self._connection.fetch_committed(_CLAIM_KEY, parameters):
            return None
        rows = await self._connection.fetch(_KEY_RECORD, {"user_id": user_id, "key": key})
        if not rows:  # released or purged between the two statements: try once more
            if await self._connection.fetch_committed(_CLAIM_KEY, parameters):
                return None
            rows = await self._connection.fetch(_KEY_RECORD, {"user_id": user_id, "key": key})
            if not rows:
                return None
        found_hash, result, created_at = rows[0]
        return IdempotentRecord(request_hash=found_hash, result=result, created_at=created_at)

    async def complete(self, user_id: UUID, key: str, result: str) -> None:
        await self._connection.execute(
            update(idempotency_keys)
            .where(idempotency_keys.c.user_id == user_id, idempotency_keys.c.key == key)
            .values(result=result)
        )

    async def release(self, user_id: UUID, key: str, request_hash: str) -> None:
        await self._connection.execute(
            delete(idempotency_keys).where(
                idempotency_keys.c.user_id == user_id,
                idempotency_keys.c.key == key,
                idempotency_keys.c.request_hash == request_hash,
                idempotency_keys.c.result.is_(None),
            )
        )

    async def purge(self, older_than: datetime) -> None:
        await self._connection.execute(
            delete(idempotency_keys).where(idempotency_keys.c.created_at < older_than)
        )


def subject_digest(subject: str) -> str:
    """The fixed-size key a subject is stored under: no subject can overflow the column."""
    return hashlib.sha256(subject.encode("utf-8", "surrogatepass")).hexdigest()


class SqlAlchemyAttemptCounter:
    def __init__(self, connection: Statements) -> None:
        self._connection = connection

    async def reserve(
        self, subjects: Mapping[str, timedelta], now: datetime
    ) -> dict[str, AttemptWindow]:
        by_digest = {subject_digest(s): s for s in subjects}
        counted: dict[str, AttemptWindow] = {}
        for window in sorted(set(subjects.values())):
            # Digests in one order, so two reservations never wait for each other crosswise.
            digests = sorted(d for d, s in by_digest.items() if subjects[s] == window)
            # One upsert counts and answers, a statement of its own in autocommit: the row
            # lock orders concurrent reservations of a subject, each sees its own count,
            # and nothing holds the lock while the caller goes on to hash.
            expired = auth_failures.c.window_start <= now - window
            statement = (
                insert(auth_failures)
                .values([{"subject": d, "failures": 1, "window_start": now} for d in digests])
                .on_conflict_do_update(
                    index_elements=[auth_failures.c.subject],
                    set_={
                        "failures": case((expired, 1), else_=auth_failures.c.failures + 1),
                        "window_start": case((expired, now), else_=auth_failures.c.window_start),
                    },
                )
                .returning(
                    auth_failures.c.subject, auth_failures.c.failures, auth_failures.c.window_start
                )
            )
            for subject, failures, window_start in await self._connection.execute_alone(statement):
                counted[by_digest[subject]] = AttemptWindow(failures, window_start)
        return counted

    async def release(self, subject: str) -> None:
        await self._connection.execute(
            update(auth_failures)
            .where(auth_failures.c.subject == subject_digest(subject))
            .values(failures=func.greatest(auth_failures.c.failures - 1, 0))
        )

    async def clear(self, subject: str) -> None:
        await self._connection.execute(
            delete(auth_failures).where(auth_failures.c.subject == subject_digest(subject))
        )

    async def purge(self, older_than: datetime) -> None:
        await self._connection.execute(
            delete(auth_failures).where(auth_failures.c.window_start < older_than)
        )
