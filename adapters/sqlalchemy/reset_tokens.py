"""Password reset tokens in PostgreSQL: one row per user, found and spent by digest."""

from datetime import datetime
from uuid import UUID

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert

from adapters.sqlalchemy.rows import RowMapping
from adapters.sqlalchemy.statements import Statements
from adapters.sqlalchemy.tables import password_reset_tokens as tokens
from domain.password_resets import ResetToken

_TOKENS = RowMapping(tokens, ResetToken, renamed={"token_hash": "digest"})


class SqlAlchemyResetTokenRepository:
    def __init__(self, connection: Statements) -> None:
        self._connection = connection

    async def replace(self, token: ResetToken) -> None:
        # The user's row is overwritten in place: however many requests race, one token
        # per user survives, the last to commit.
        statement = insert(tokens).values(_TOKENS.values(token))
        await self._connection.execute(
            statement.on_conflict_do_update(
                index_elements=[tokens.c.user_id],
                set_={c.key: statement.excluded[c.key] for c in tokens.c if not c.primary_key},
            )
        )

    async def find(self, digest: str, now: datetime) -> UUID | None:
        query = select(tokens.c.user_id).where(
            tokens.c.token_hash == digest, tokens.c.expires_at > now
        )
        user_id: UUID | None = (await self._connection.execute(query)).scalar_one_or_none()
        return user_id

    async def consume(self, digest: str, now: datetime) -> UUID | None:
        # DELETE locks the row: a concurrent consume waits, then finds it gone (None).
        query = (
            delete(tokens)
            .where(tokens.c.token_hash == digest, tokens.c.expires_at > now)
            .returning(tokens.c.user_id)
        )
        user_id: UUID | None = (await self._connection.execute(query)).scalar_one_or_none()
        return user_id

    async def purge(self, older_than: datetime) -> None:
        await self._connection.execute(delete(tokens).where(tokens.c.expires_at < older_than))
