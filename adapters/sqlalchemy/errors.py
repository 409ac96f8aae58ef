"""Translate database failures into domain errors, in one place."""

import psycopg
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InterfaceError, OperationalError

from adapters.sqlalchemy.database import PoolTimeout
from domain.errors import (
    ChatNotFound,
    DomainError,
    EmailAlreadyRegistered,
    InvalidInput,
    InvalidToken,
    ServiceUnavailable,
    UserNotFound,
)


def _constraint(error: IntegrityError) -> str | None:
    diag = getattr(error.orig, "diag", None)
    return getattr(diag, "constraint_name", None)


def _null_column(error: IntegrityError) -> tuple[str | None, str | None]:
    """Table and column of a NOT NULL violation (SQLSTATE 23502), else ``(None, None)``."""
    if getattr(error.orig, "sqlstate", None) != "23502":
        return None, None
    diag = getattr(error.orig, "diag", None)
    return getattr(diag, "table_name", None), getattr(diag, "column_name", None)


def translate(error: BaseException) -> DomainError | None:
    """The domain error a database exception stands for, or None to let it through."""
    if isinstance(error, IntegrityError):
        constraint = _constraint(error)
        if _null_column(error) == ("chats", "user_id"):
            # A new chat takes its owner from the caller's live session: there was none.
            return InvalidToken()
        if constraint == "uq_users_email":
            return EmailAlreadyRegistered()
        if constraint == "fk_messages_chat_id_chats":
            # The chat was deleted between the ownership check and the insert.
            return ChatNotFound()
        if constraint in (
            "fk_chats_user_id_users",
            "fk_messages_user_id_users",
            "fk_idempotency_keys_user_id_users",
            "fk_sessions_user_id_users",
        ):
            # The token's user was deleted between authentication and this write.
            return InvalidToken()
        if constraint == "fk_password_reset_tokens_user_id_users":
            # The account was deleted while a reset token was being issued for it.
            return UserNotFound()
        return None
    if isinstance(error, DataError):
        # Input the domain rules let through but the column refuses (too long, bad bytes).
        return InvalidInput("A value in the request cannot be stored.")
    if isinstance(error, PoolTimeout | OperationalError | InterfaceError):
        return ServiceUnavailable()
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return ServiceUnavailable()
    if isinstance(error, psycopg.OperationalError | psycopg.InterfaceError):
        return ServiceUnavailable()  # a checkout's connect: the pool does not wrap its errors
    if isinstance(error, OSError):  # refused or reset before the driver wrapped it
        return ServiceUnavailable()
    return None
