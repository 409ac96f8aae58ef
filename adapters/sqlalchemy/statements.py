"""The connection as a unit of work's repositories see it: few round trips, same meaning.

Every request is a handful of short statements, so the time goes into round trips to
PostgreSQL, not into the statements. ``Statements`` spends them carefully:

- **No transaction for reads.** The connection is in autocommit mode until something
  is written: reads before that cost one round trip each, with no BEGIN before them and
  no ROLLBACK after them. At READ COMMITTED (PostgreSQL's default, and this app's) every
  statement takes a fresh snapshot anyway, so a read sees exactly what it would have
  seen inside a transaction; no read here locks rows.
- **Writes wait for the commit.** A write that returns nothing (INSERT, UPDATE or DELETE
  without RETURNING) is queued. ``commit`` sends BEGIN, the queue and COMMIT in one
  psycopg pipeline: one round trip for the whole transaction. Errors those writes cause
  (a taken email, a vanished user) surface at ``commit``, as the ports allow.
- **Reads see the unit of work's own writes.** Anything that returns rows once a write is
  queued (a read, a RETURNING, a stream) first opens the transaction and sends the queue;
  so does a write with RETURNING, and a stream (server-side cursors need a transaction).
"""

from collections.abc import Sequence
from typing import Any, TypeVarTuple, cast, overload

import psycopg
from sqlalchemy import CursorResult, Executable
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncResult
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.selectable import TypedReturnsRows

Ts = TypeVarTuple("Ts")

Parameters = dict[str, Any] | Sequence[dict[str, Any]] | None


def _returns_nothing(statement: Executable) -> bool:
    """A DML statement without RETURNING: nothing to wait for until the commit."""
    return isinstance(statement, UpdateBase) and not statement.exported_columns


class Statements:
    """One pooled connection: reads go out at once, writes wait for ``flush``/``commit``."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection
        self._queued: list[tuple[Executable, Parameters]] = []
        self._in_transaction = False

    # A DML statement with RETURNING matches both: the first, which wins, is the right one.
    @overload
    async def execute(
        self, statement: TypedReturnsRows[*Ts], parameters: Parameters = None
    ) -> CursorResult[*Ts]: ...

    @overload
    async def execute(self, statement: UpdateBase, parameters: Parameters = None) -> None: ...

    async def execute(
        self, statement: Executable, parameters: Parameters = None
    ) -> CursorResult[*tuple[Any, ...]] | None:
        """Run ``statement`` now, or queue it when it is a write that returns nothing."""
        if _returns_nothing(statement):
            self._queued.append((statement, parameters))
            return None
        if self._queued or isinstance(statement, UpdateBase):
            await self._begin_and_flush()
        return await self._connection.execute(statement, parameters)

    async def stream(self, statement: TypedReturnsRows[*Ts]) -> AsyncResult[*Ts]:
        await self._begin_and_flush()  # a server-side cursor lives in a transaction
        return await self._connection.stream(statement)

    async def commit(self) -> None:
        """BEGIN (unless open), the queued writes and COMMIT: one round trip."""
        if not self._queued and not self._in_transaction:
            return  # nothing was written: nothing to commit
        await self._send(commit=True)
        await self._connection.commit()  # SQLAlchemy's bookkeeping; no round trip

    async def _begin_and_flush(self) -> None:
        if self._queued or not self._in_transaction:
            await self._send(commit=False)

    async def _send(self, *, commit: bool) -> None:
        """BEGIN if needed, the queue, COMMIT if asked, all in one pipeline (one round trip)."""
        queued, self._queued = self._queued, []
        raw = await self._connection.get_raw_connection()
        driver = cast("psycopg.AsyncConnection[Any]", raw.driver_connection)
        try:
            async with driver.pipeline():
                # BEGIN and COMMIT straight to psycopg: SQLAlchemy adds nothing to them
                # but its per-statement overhead.
                if not self._in_transaction:
                    await driver.execute(b"BEGIN")
                    self._in_transaction = True
                for statement, parameters in queued:
                    await self._connection.execute(statement, parameters)
                if commit:
                    await driver.execute(b"COMMIT")
        except psycopg.Error as error:
            # Raised by the pipeline's sync, outside SQLAlchemy: wrap it as SQLAlchemy would,
            # and drop a connection that broke rather than hand it to the next request.
            broken = driver.broken or driver.closed
            if broken:
                await self._connection.invalidate(error)
            raise DBAPIError.instance(
                None,
                None,
                error,
                psycopg.Error,
                hide_parameters=True,
                connection_invalidated=broken,
            ) from error
        if commit:
            self._in_transaction = False
