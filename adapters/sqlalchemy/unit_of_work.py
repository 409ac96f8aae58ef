"""One database transaction per use-case step."""

from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.sqlalchemy.errors import translate
from adapters.sqlalchemy.repositories import (
    SqlAlchemyAttemptCounter,
    SqlAlchemyChatRepository,
    SqlAlchemyIdempotencyStore,
    SqlAlchemyMessageRepository,
    SqlAlchemyUserRepository,
)


class SqlAlchemyUnitOfWork:
    """A connection and its transaction; rolled back unless ``commit`` was called.

    Database exceptions leave it as domain errors (``adapters.sqlalchemy.errors``),
    so use cases and entrypoints never see a driver exception.
    """

    users: SqlAlchemyUserRepository
    chats: SqlAlchemyChatRepository
    messages: SqlAlchemyMessageRepository
    idempotency: SqlAlchemyIdempotencyStore
    attempts: SqlAlchemyAttemptCounter

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None

    async def __aenter__(self) -> Self:
        try:
            self._connection = await self._engine.connect()
            await self._connection.begin()
        except Exception as error:
            await self._close()
            raise (translate(error) or error) from error
        self.users = SqlAlchemyUserRepository(self._connection)
        self.chats = SqlAlchemyChatRepository(self._connection)
        self.messages = SqlAlchemyMessageRepository(self._connection)
        self.idempotency = SqlAlchemyIdempotencyStore(self._connection)
        self.attempts = SqlAlchemyAttemptCounter(self._connection)
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
        assert self._connection is not None, "commit() outside 'async with'"
        try:
            await self._connection.commit()
        except Exception as error:
            raise (translate(error) or error) from error

    async def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()  # rolls back whatever was not committed
