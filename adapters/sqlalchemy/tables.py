"""The schema, as SQLAlchemy Core tables. Alembic migrations create it; this mirrors them."""

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
    text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

users = Table(
    "users",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

chats = Table(
    "chats",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("user_id", Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("title", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # Listing is "my chats, most recently active first": one index answers it.
    Index("ix_chats_user_id_updated_at_id", "user_id", "updated_at", "id"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("chat_id", Uuid, ForeignKey("chats.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("role", String(16), nullable=False),
    Column("content", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("role IN ('user', 'assistant')", name="role"),
    # Reading a chat is a range scan on this index, whatever the chat's length.
    Index("ix_messages_chat_id_created_at_id", "chat_id", "created_at", "id"),
    # Deleting a user cascades through this foreign key.
    Index("ix_messages_user_id", "user_id"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("user_id", Uuid, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("result", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    Index("ix_idempotency_keys_created_at", "created_at"),
)

auth_failures = Table(
    "auth_failures",
    metadata,
    # One counter per throttled subject ("account:<email>", "login-client:<addr>", ...),
    # keyed by the SHA-256 of the subject in hex: any subject fits.
    Column("subject", String(64), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("window_start", DateTime(timezone=True), nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("user_id", Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    # SHA-256 (hex) of the session's current refresh token; the token itself is never stored.
    Column("refresh_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_used_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("user_agent", String(400), nullable=True),
    Column("client_address", String(100), nullable=True),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    # "My sessions", and ending them all; deleting a user cascades through it too.
    Index("ix_sessions_user_id", "user_id"),
)

rotated_refresh_tokens = Table(
    "rotated_refresh_tokens",
    metadata,
    # Refresh tokens already swapped for newer ones: presenting one again is a replay.
    Column("refresh_hash", String(64), primary_key=True),
    Column("session_id", Uuid, ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("rotated_at", DateTime(timezone=True), nullable=False),
    Index("ix_rotated_refresh_tokens_session_id", "session_id"),
)

password_reset_tokens = Table(
    "password_reset_tokens",
    metadata,
    # One row per user: a newer request replaces the row, so an older token stops working.
    Column("user_id", Uuid, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    # SHA-256 (hex) of the token sent by e-mail; the token itself is never stored.
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)
