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
  psycopg pipeline: one round trip for the whole transaction. A lone write needs no
  transaction around it (one statement is atomic), so it goes out alone: repositories
  write what belongs together (a chat's messages and its activity) as one statement.
  Errors those writes cause (a taken email, a vanished user) surface at ``commit``, as
  the ports allow.
- **Reads see the unit of work's own writes.** Anything that returns rows once a write is
  queued (a read, a RETURNING) first opens the transaction and sends the queue; so does
  a write with RETURNING.
- **A transaction on request.** ``begin`` opens one at once, for a use case that reads
  and then writes and needs both to see the same rows (``UnitOfWork.transaction``);
  ``rollback`` ends it without a trace.
- **One statement on its own.** ``fetch_committed`` runs a write with RETURNING outside
  the unit of work's transaction, committed as soon as it ran (an Idempotency-Key
  recorded as in flight must be visible to other requests at once).
- **Hot statements skip SQLAlchemy's execution path.** ``precompile`` turns a Core
  statement into psycopg's SQL once, at import; ``fetch`` and ``write`` hand that SQL and
  the parameters to psycopg directly. SQLAlchemy still writes every statement (from the
  tables, with its bind casts); what it no longer does per call (cache lookup, the
  greenlet hop, result objects) cost more than psycopg itself on the busiest routes.
  For the same reason a unit of work holds the pool's connection itself; SQLAlchemy's
  ``Connection`` around it is made only for a statement that needs it (``execute``).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVarTuple, cast, overload

import psycopg
from sqlalchemy import CursorResult, Executable
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.selectable import ExecutableReturnsRows, TypedReturnsRows
from sqlalchemy.util import greenlet_spawn

Ts = TypeVarTuple("Ts")

Parameters = dict[str, Any] | Sequence[dict[str, Any]] | None
Row = tuple[Any, ...]

# The dialect the engine uses (see database.psycopg_url): its SQL, its bind casts.
_DIALECT = make_url("postgresql+psycopg://").get_dialect(_is_async=True)()


def _returns_nothing(statement: Executable) -> bool:
    """A DML statement without RETURNING: nothing to wait for until the commit."""
    return isinstance(statement, UpdateBase) and not statement.exported_columns


@dataclass(frozen=True, slots=True)
class Precompiled:
    """A Core statement as psycopg's SQL, compiled once; see ``precompile``."""

    sql: bytes
    writes: bool  # INSERT, UPDATE or DELETE
    returns_rows: bool


def precompile(statement: ExecutableReturnsRows) -> Precompiled:
    """Compile ``statement`` for psycopg once, for ``Statements.fetch`` and ``write``.

    Only statements psycopg can run exactly as SQLAlchemy would are accepted: every
    value a named parameter, and no column type that converts values on the way in or
    out (none of this schema's do). Anything else is refused here, at import time,
    rather than run subtly differently.
    """
    compiled = statement.compile(dialect=_DIALECT)
    for name, bind in compiled.binds.items():
        if bind.value is not None or bind.callable is not None or bind.expanding:
            raise ValueError(f"precompile: {name!r} must be a plain named parameter")
        if bind.type.dialect_impl(_DIALECT).bind_processor(_DIALECT) is not None:
            raise ValueError(f"precompile: the type of {name!r} converts values")
    columns = list(statement.exported_columns)
    for column in columns:
        if column.type.dialect_impl(_DIALECT).result_processor(_DIALECT, None) is not None:
            raise ValueError(f"precompile: the type of column {column.key!r} converts values")
    return Precompiled(
        compiled.string.encode(),
        writes=isinstance(statement, UpdateBase),
        returns_rows=bool(columns),
    )


def _cursor_of(
    pooled: PoolProxiedConnection, driver: "psycopg.AsyncConnection[Any]"
) -> "psycopg.AsyncCursor[Any]":
    """The cursor for statements sent one at a time, made once per database connection.

    A cursor per statement, even per checkout, was a measurable share of a short request.
    The pool's ``info`` lives as long as the database connection behind it (it is
    cleared when that is replaced), and the identity check covers the rest.
    """
    cursor = pooled.info.get("statements_cursor")
    if cursor is None or cursor.connection is not driver:
        cursor = pooled.info["statements_cursor"] = driver.cursor()
    return cast("psycopg.AsyncCursor[Any]", cursor)


class Statements:
    """One pooled connection: reads go out at once, writes wait for ``flush``/``commit``."""

    def __init__(self, engine: AsyncEngine, pooled: PoolProxiedConnection) -> None:
        self._engine = engine
        self._pooled = pooled
        self._driver = cast("psycopg.AsyncConnection[Any]", pooled.driver_connection)
        self._cursor = _cursor_of(pooled, self._driver)
        self._core: AsyncConnection | None = None  # made on first use; see _connection
        self._queued: list[tuple[Executable | Precompiled, Parameters]] = []
        self._in_transaction = False

    @property
    def _connection(self) -> AsyncConnection:
        """SQLAlchemy's connection over the same pooled connection, made when a statement
        needs SQLAlchemy's execution path (``execute``): the hot statements never do."""
        if self._core is None:
            self._core = AsyncConnection(
                self._engine, Connection(self._engine.sync_engine, connection=self._pooled)
            )
        return self._core

    async def close(self) -> None:
        """Give the connection back to the pool, rolling back an open transaction."""
        if self._core is not None:
            await self._core.close()
        else:
            await greenlet_spawn(self._pooled.close)

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

    async def execute_alone(self, statement: TypedReturnsRows[*Ts]) -> CursorResult[*Ts]:
        """Run a write with RETURNING now, as a transaction of its own (the connection is
        in autocommit mode): for bookkeeping that must hold whatever the unit of work does
        next. One round trip. Refused once the unit of work has written anything."""
        if self._queued or self._in_transaction:
            raise RuntimeError("execute_alone() must come before the unit of work writes")
        return await self._connection.execute(statement)

    async def fetch(self, statement: Precompiled, parameters: Mapping[str, Any]) -> list[Row]:
        """The rows of a precompiled query, or of a write with RETURNING, sent at once."""
        if self._queued or statement.writes:
            await self._begin_and_flush()
        try:
            await self._cursor.execute(statement.sql, parameters)
            return await self._cursor.fetchall()
        except psycopg.Error as error:
            raise await self._wrapped(error) from error

    def write(
        self, statement: Precompiled, parameters: dict[str, Any] | Sequence[dict[str, Any]]
    ) -> None:
        """Queue a precompiled write that returns nothing (one row, or many) for the commit."""
        if statement.returns_rows or not statement.writes:
            raise ValueError("write() takes a write without RETURNING; use fetch()")
        self._queued.append((statement, parameters))

    async def fetch_committed(
        self, statement: Precompiled, parameters: Mapping[str, Any]
    ) -> list[Row]:
        """Run ``statement`` alone, in autocommit: it is committed when this returns."""
        if self._queued or self._in_transaction:
            raise RuntimeError("fetch_committed() runs before anything else is written")
        try:
            await self._cursor.execute(statement.sql, parameters)
            return await self._cursor.fetchall()
        except psycopg.Error as error:
            raise await self._wrapped(error) from error

    async def begin(self) -> None:
        """Open the transaction now (with any writes queued so far): one round trip."""
        if self._in_transaction:
            raise RuntimeError("a transaction is already open")
        await self._send(commit=False)

    @property
    def in_transaction(self) -> bool:
        return self._in_transaction

    async def rollback(self) -> None:
        """Forget the queued writes and end the open transaction, if any."""
        self._queued = []
        if not self._in_transaction:
            return
        self._in_transaction = False
        try:
            await self._driver.execute(b"ROLLBACK")
        except psycopg.Error as error:
            raise await self._wrapped(error) from error
        if self._core is not None:
            await self._core.rollback()  # SQLAlchemy's bookkeeping; no round trip

    async def commit(self) -> None:
        """BEGIN (unless open), the queued writes and COMMIT: one round trip.

        A lone write goes out alone: one statement is atomic on its own in autocommit,
        so BEGIN and COMMIT around it would add work and change nothing.
        """
        if not self._queued and not self._in_transaction:
            return  # nothing was written: nothing to commit
        if not self._in_transaction and len(self._queued) == 1:
            statement, parameters = self._queued.pop()
            if parameters is None or isinstance(parameters, Mapping):  # one statement
                await self._run_alone(statement, parameters)
                return
            self._queued.append((statement, parameters))  # many rows: a transaction
        await self._send(commit=True)
        if self._core is not None:
            await self._core.commit()  # SQLAlchemy's bookkeeping; no round trip

    async def _run_alone(
        self, statement: Executable | Precompiled, parameters: Mapping[str, Any] | None
    ) -> None:
        if not isinstance(statement, Precompiled):
            await self._connection.execute(statement, parameters)
            await self._connection.commit()  # SQLAlchemy's bookkeeping; no round trip
            return
        try:
            await self._cursor.execute(statement.sql, parameters)
        except psycopg.Error as error:
            raise await self._wrapped(error) from error

    async def _begin_and_flush(self) -> None:
        if self._queued or not self._in_transaction:
            await self._send(commit=False)

    async def _send(self, *, commit: bool) -> None:
        """BEGIN if needed, the queue, COMMIT if asked, all in one pipeline (one round trip)."""
        queued, self._queued = self._queued, []
        driver = self._driver
        try:
            async with driver.pipeline():
                # BEGIN and COMMIT straight to psycopg: SQLAlchemy adds nothing to them
                # but its per-statement overhead.
                if not self._in_transaction:
                    await driver.execute(b"BEGIN")
                    self._in_transaction = True
                for statement, parameters in queued:
                    if not isinstance(statement, Precompiled):
                        await self._connection.execute(statement, parameters)
                    elif isinstance(parameters, Mapping):
                        await driver.execute(statement.sql, parameters)
                    else:
                        await driver.cursor().executemany(statement.sql, parameters or ())
                if commit:
                    await driver.execute(b"COMMIT")
        except psycopg.Error as error:
            # Raised by the pipeline's sync, outside SQLAlchemy.
            raise await self._wrapped(error) from error
        if commit:
            self._in_transaction = False

    async def _wrapped(self, error: psycopg.Error) -> StatementError:
        """A psycopg error as SQLAlchemy would have raised it, so ``errors.translate`` knows it.

        A broken connection means the server went away (a restart, a failover): every
        connection the pool opened before now is as dead as this one. As SQLAlchemy does
        for the disconnects it sees itself, they are all replaced at their next checkout,
        not only this one; otherwise each idle connection left in the pool fails one more
        request, spread over as long as the pool takes to hand them all out.
        """
        broken = self._driver.broken or self._driver.closed
        # Invalidated once: a second failure on it (the rollback after the first) must
        # not mark the pool's newer connections stale again.
        if broken and self._pooled.is_valid:
            # Pool._invalidate: the call SQLAlchemy's Connection makes on a disconnect.
            self._engine.sync_engine.pool._invalidate(self._pooled, error, _checkin=False)
            if self._core is not None:
                await self._core.invalidate(error)
            else:
                await greenlet_spawn(self._pooled.invalidate, error)
        return DBAPIError.instance(
            None, None, error, psycopg.Error, hide_parameters=True, connection_invalidated=broken
        )
