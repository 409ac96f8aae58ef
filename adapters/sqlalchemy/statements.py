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
- **SQLAlchemy writes the SQL; psycopg runs it.** Statements are built from the tables
  with SQLAlchemy Core (its SQL, its bind casts) and sent on the pool's psycopg
  connection (``adapters.sqlalchemy.database``). ``precompile`` turns a hot statement
  into psycopg's SQL once, at import; any other statement is compiled when it runs.
  SQLAlchemy's execution path (its pool, the greenlet hop, result objects) cost more
  than psycopg itself on the busiest routes (bench/RESULTS.md).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy import Executable
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.sql.compiler import Compiled
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.sql.selectable import ExecutableReturnsRows

from adapters.sqlalchemy.database import ConnectionPool, PooledConnection

Parameters = Mapping[str, Any] | Sequence[Mapping[str, Any]] | None
Row = tuple[Any, ...]


class Rows(list[Row]):
    """The rows a statement returned, with the few readers the repositories use."""

    def first(self) -> Row | None:
        return self[0] if self else None

    def scalar_one(self) -> Any:
        if len(self) != 1:
            raise LookupError(f"expected exactly one row, got {len(self)}")
        return self[0][0]

    def scalar_one_or_none(self) -> Any:
        if len(self) > 1:
            raise LookupError(f"expected at most one row, got {len(self)}")
        return self[0][0] if self else None

    def all(self) -> list[Row]:
        return self


# The dialect whose SQL psycopg runs: its SQL, its bind casts.
_DIALECT = make_url("postgresql+psycopg://").get_dialect()()


def _returns_nothing(statement: Executable) -> bool:
    """A DML statement without RETURNING: nothing to wait for until the commit."""
    return isinstance(statement, UpdateBase) and not statement.exported_columns


def _refuse_converting_types(compiled: Compiled, statement: Executable) -> None:
    """psycopg gets the values as they are and returns the rows as they come: a column
    type that SQLAlchemy would convert on the way in or out (none of this schema's do)
    would be run subtly differently, so it is refused instead."""
    for name, bind in compiled.binds.items():  # type: ignore[attr-defined]
        if bind.type.dialect_impl(_DIALECT).bind_processor(_DIALECT) is not None:
            raise ValueError(f"the type of parameter {name!r} converts values")
    for column in getattr(statement, "exported_columns", ()):
        if column.type.dialect_impl(_DIALECT).result_processor(_DIALECT, None) is not None:
            raise ValueError(f"the type of column {column.key!r} converts values")


@dataclass(frozen=True, slots=True)
class Precompiled:
    """A Core statement as psycopg's SQL, compiled once; see ``precompile``."""

    sql: bytes
    writes: bool  # INSERT, UPDATE or DELETE
    returns_rows: bool


def precompile(statement: ExecutableReturnsRows) -> Precompiled:
    """Compile ``statement`` for psycopg once, for ``Statements.fetch`` and ``write``.

    Every value must be a named parameter, given when the statement runs; anything
    else is refused here, at import time, rather than run subtly differently.
    """
    compiled = statement.compile(dialect=_DIALECT)
    for name, bind in compiled.binds.items():
        if bind.value is not None or bind.callable is not None or bind.expanding:
            raise ValueError(f"precompile: {name!r} must be a plain named parameter")
    _refuse_converting_types(compiled, statement)
    return Precompiled(
        compiled.string.encode(),
        writes=isinstance(statement, UpdateBase),
        returns_rows=bool(statement.exported_columns),
    )


def compile_now(statement: Executable) -> tuple[bytes, dict[str, Any]]:
    """A statement built per call (its values inside it) as psycopg's SQL and parameters."""
    if not isinstance(statement, ClauseElement):
        raise TypeError(f"not a SQL statement: {statement!r}")
    # render_postcompile: an IN list becomes one parameter per value, as psycopg needs.
    compiled = statement.compile(dialect=_DIALECT, compile_kwargs={"render_postcompile": True})
    _refuse_converting_types(compiled, statement)
    return compiled.string.encode(), dict(compiled.params)


class Statements:
    """One pooled connection: reads go out at once, writes wait for ``flush``/``commit``."""

    def __init__(self, pool: ConnectionPool, pooled: PooledConnection) -> None:
        self._pool = pool
        self._pooled = pooled
        self._driver = pooled.driver
        self._cursor = pooled.cursor
        self._queued: list[tuple[Executable | Precompiled, Parameters]] = []
        self._in_transaction = False

    async def close(self) -> None:
        """Give the connection back to the pool, rolling back an open transaction."""
        await self._pool.release(self._pooled)

    async def execute(self, statement: Executable) -> Rows:
        """Run ``statement`` now (its rows; none for a write without RETURNING), or queue
        it when it is a write that returns nothing."""
        if _returns_nothing(statement):
            self._queued.append((statement, None))
            return Rows()
        if self._queued or isinstance(statement, UpdateBase):
            await self._begin_and_flush()
        return Rows(await self._rows(*compile_now(statement)))

    async def execute_alone(self, statement: Executable) -> Rows:
        """Run a write with RETURNING now, as a transaction of its own (the connection is
        in autocommit mode): for bookkeeping that must hold whatever the unit of work does
        next. One round trip. Refused once the unit of work has written anything."""
        if self._queued or self._in_transaction:
            raise RuntimeError("execute_alone() must come before the unit of work writes")
        return Rows(await self._rows(*compile_now(statement)))

    async def fetch(self, statement: Precompiled, parameters: Mapping[str, Any]) -> list[Row]:
        """The rows of a precompiled query, or of a write with RETURNING, sent at once."""
        if self._queued or statement.writes:
            await self._begin_and_flush()
        return await self._rows(statement.sql, parameters, statement.returns_rows)

    def write(
        self, statement: Precompiled, parameters: Mapping[str, Any] | Sequence[Mapping[str, Any]]
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
        return await self._rows(statement.sql, parameters, statement.returns_rows)

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
            raise self._wrapped(error) from error

    async def commit(self) -> None:
        """BEGIN (unless open), the queued writes and COMMIT: one round trip.

        A lone write goes out alone: one statement is atomic on its own in autocommit,
        so BEGIN and COMMIT around it would add work and change nothing.
        """
        if not self._queued and not self._in_transaction:
            return  # nothing was written: nothing to commit
        if not self._in_transaction and len(self._queued) == 1:
            statement, parameters = self._queued[0]
            if parameters is None or isinstance(parameters, Mapping):  # one statement
                self._queued = []
                await self._rows(*_sql_of(statement, parameters), returns_rows=False)
                return
        await self._send(commit=True)

    async def _rows(
        self,
        sql: bytes,
        parameters: Mapping[str, Any] | None,
        returns_rows: bool | None = None,  # None: ask the result (it builds its columns)
    ) -> list[Row]:
        cursor = self._cursor
        try:
            await cursor.execute(sql, parameters)
            if returns_rows is None:
                returns_rows = cursor.description is not None
            return await cursor.fetchall() if returns_rows else []
        except psycopg.Error as error:
            raise self._wrapped(error) from error

    async def _begin_and_flush(self) -> None:
        if self._queued or not self._in_transaction:
            await self._send(commit=False)

    async def _send(self, *, commit: bool) -> None:
        """BEGIN if needed, the queue, COMMIT if asked, all in one pipeline (one round trip)."""
        queued, self._queued = self._queued, []
        driver = self._driver
        try:
            async with driver.pipeline():
                if not self._in_transaction:
                    await driver.execute(b"BEGIN")
                    self._in_transaction = True
                for statement, parameters in queued:
                    if isinstance(parameters, Mapping) or parameters is None:
                        await driver.execute(*_sql_of(statement, parameters))
                    else:
                        sql, _ = _sql_of(statement, None)
                        await driver.cursor().executemany(sql, parameters)
                if commit:
                    await driver.execute(b"COMMIT")
        except psycopg.Error as error:
            raise self._wrapped(error) from error
        if commit:
            self._in_transaction = False

    def _wrapped(self, error: psycopg.Error) -> StatementError:
        """A psycopg error as SQLAlchemy would have raised it, so ``errors.translate`` knows it.

        A broken connection means the server went away (a restart, a failover): every
        connection the pool opened before now is as dead as this one. They are all
        replaced at their next checkout, not only this one; otherwise each idle
        connection left in the pool fails one more request, spread over as long as the
        pool takes to hand them all out.
        """
        broken = self._driver.broken or self._driver.closed
        # Retired once: a second failure on it (the rollback after the first) must not
        # retire the pool's newer connections too.
        if broken and self._pooled.generation == self._pool.generation:
            self._pool.retire_all()
        return DBAPIError.instance(
            None, None, error, psycopg.Error, hide_parameters=True, connection_invalidated=broken
        )


def _sql_of(
    statement: Executable | Precompiled, parameters: Mapping[str, Any] | None
) -> tuple[bytes, Mapping[str, Any] | None]:
    if isinstance(statement, Precompiled):
        return statement.sql, parameters
    return compile_now(statement)
