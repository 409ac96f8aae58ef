"""Precompiled statements: refused when psycopg could not run them as SQLAlchemy would."""

from collections.abc import Callable

import pytest
from sqlalchemy import bindparam, select

from adapters.sqlalchemy.statements import precompile
from adapters.sqlalchemy.tables import chats, users
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from domain.users import User


def test_named_parameters_compile_to_psycopg_sql_with_sqlalchemy_casts() -> None:
    compiled = precompile(select(users.c.id).where(users.c.email == bindparam("email")))
    assert b"%(email)s::VARCHAR" in compiled.sql
    assert compiled.returns_rows
    assert not compiled.writes


@pytest.mark.parametrize(
    "statement",
    [
        select(users).where(users.c.email == "someone@example.com"),  # a value baked in
        select(users).where(users.c.id.in_(bindparam("ids", expanding=True))),
    ],
    ids=["literal value", "expanding list"],
)
def test_a_statement_psycopg_would_run_differently_is_refused(statement: object) -> None:
    with pytest.raises(ValueError, match="plain named parameter"):
        precompile(statement)  # type: ignore[arg-type]


async def test_write_takes_only_writes_that_return_nothing(
    uow: Callable[[], SqlAlchemyUnitOfWork], saved_user: User
) -> None:
    query = precompile(select(chats).where(chats.c.user_id == bindparam("user_id")))
    returning = precompile(chats.delete().returning(chats.c.id))
    async with uow() as work:
        statements = work._statements
        for wrong in (query, returning):
            with pytest.raises(ValueError, match="use fetch"):
                statements.write(wrong, {"user_id": saved_user.id})
        assert await statements.fetch(query, {"user_id": saved_user.id}) == []
