"""A pooled connection per use-case step, in as few round trips as it allows."""

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Self

from adapters.sqlalchemy.database import ConnectionPool
from adapters.sqlalchemy.errors import translate
from adapters.sqlalchemy.repositories import (
    SqlAlchemyAttemptCounter,
    SqlAlchemyChatRepository,
    SqlAlchemyIdempotencyStore,
    SqlAlchemyMessageRepository,
    SqlAlchemySessionRepository,
    SqlAlchemyUserRepository,
)
from adapters.sqlalchemy.reset_tokens import SqlAlchemyResetTokenRepository
from adapters.sqlalchemy.statements import Statements


class SqlAlchemyUnitOfWork:
    """A connection and the writes made on it; rolled back unless ``commit`` was called.

    The connection runs in autocommit mode and ``Statements`` opens the transaction
    only when something is written: reads before it need no BEGIN and no ROLLBACK,
    and the writes go out with BEGIN and COMMIT in one pipeline at ``commit``
    (see ``adapters.sqlalchemy.statements``). ``transaction()`` opens it at once
    instead, for a read and a write that must be atomic. Database exceptions leave it
    as domain errors (``adapters.sqlalchemy.errors``), so use cases and entrypoints
    never see a driver exception.
    """

    users: SqlAlchemyUserRepository
    chats: SqlAlchemyChatRepository
    messages: SqlAlchemyMessageRepository
    sessions: SqlAlchemySessionRepository
    idempotency: SqlAlchemyIdempotencyStore
    attempts: SqlAlchemyAttemptCounter
    reset_tokens: SqlAlchemyResetTokenRepository
    _statements: Statements

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool
        self._entered: Statements | None = None  # until __aexit__

    async def __aenter__(self) -> Self:
        try:
            # In autocommit mode (database.connect_arguments): transactions are opened
            # only when needed (see Statements).
            pooled = await self._pool.acquire()
        except Exception as error:
            raise (translate(error) or error) from error
        self._statements = self._entered = Statements(self._pool, pooled)
        self.users = SqlAlchemyUserRepository(self._statements)
        self.chats = SqlAlchemyChatRepository(self._statements)
        self.messages = SqlAlchemyMessageRepository(self._statements)
        self.sessions = SqlAlchemySessionRepository(self._statements)
        self.idempotency = SqlAlchemyIdempotencyStore(self._statements)
        self.attempts = SqlAlchemyAttemptCounter(self._statements)
        self.reset_tokens = SqlAlchemyResetTokenRepository(self._statements)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self._close()
        except Exception as close_error:
            if exc is None:
                raise (translate(close_error) or close_error) from close_error
        if exc is not None and (domain_error := translate(exc)) is not None:
            raise domain_error from exc

    async def commit(self) -> None:
        statements = self._entered
        assert statements is not None, "commit() outside 'async with'"
        try:
            await statements.commit()
        except Exception as error:
            raise (translate(error) or error) from error

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """BEGIN now; ``commit`` inside ends it, leaving without one rolls it back."""
        statements = self._entered
        assert statements is not None, "transaction() outside 'async with'"
        try:
            await statements.begin()
        except Exception as error:
            raise (translate(error) or error) from error
        try:
            yield
        except Exception:
            if statements.in_transaction:
                # The block's error is the one to report; closing rolls back at worst.
                with contextlib.suppress(Exception):
                    await statements.rollback()
            raise
        if statements.in_transaction:
            # Left without commit: roll back now, so the unit of work stays usable.
            try:
                await statements.rollback()
            except Exception as error:
                raise (translate(error) or error) from error

    async def _close(self) -> None:
        connection, self._entered = self._entered, None
        if connection is not None:
            await connection.close()  # rolls back an open transaction; drops queued writes
