"""RowMapping: an entity's columns and fields paired once, by name, from the table."""

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Column, MetaData, String, Table, Uuid

from adapters.sqlalchemy import repositories, reset_tokens
from adapters.sqlalchemy.rows import RowMapping
from domain.chats import Chat, Message, Role
from domain.ids import new_id
from domain.password_resets import ResetToken
from domain.sessions import Session
from domain.users import User

NOW = datetime(2026, 12, 1, tzinfo=UTC)
USER = User(email="alice@example.com", password_hash="$argon2id$x", created_at=NOW)
CHAT = Chat(user_id=USER.id, title="Plans", created_at=NOW, updated_at=NOW)
SESSION = Session(USER.id, NOW + timedelta(days=30), "curl", "::1", last_used_at=NOW)
EXAMPLES: list[tuple[RowMapping[Any], Any]] = [
    (repositories._USERS, USER),
    (repositories._CHATS, CHAT),
    (repositories._MESSAGES, Message(CHAT.id, USER.id, Role.ASSISTANT, "Hi", created_at=NOW)),
    (repositories._SESSIONS, SESSION),
    (reset_tokens._TOKENS, ResetToken(USER.id, "ab" * 32, NOW, NOW + timedelta(minutes=30))),
]


@pytest.mark.parametrize(("mapping", "entity"), EXAMPLES)
def test_an_entity_survives_the_way_to_a_row_and_back(
    mapping: RowMapping[Any], entity: Any
) -> None:
    values = mapping.values(entity)
    row = tuple(values[c.key] for c in mapping.columns)  # as SELECT gives it back

    again = mapping.entity(row)

    assert dataclasses.astuple(again) == dataclasses.astuple(entity)


def test_a_field_stored_differently_is_converted_both_ways() -> None:
    message = Message(CHAT.id, USER.id, Role.USER, "Hello")

    values = repositories._MESSAGES.values(message, suffix="_0")

    assert values["role_0"] == "user"
    assert type(values["role_0"]) is str
    row = tuple(values[f"{c.key}_0"] for c in repositories._MESSAGES.columns)
    assert repositories._MESSAGES.entity(row).role is Role.USER


def test_a_secret_kept_beside_the_entity_is_neither_read_nor_written() -> None:
    assert "refresh_hash" not in repositories._SESSIONS.values(SESSION)
    assert "refresh_hash" not in [c.key for c in repositories._SESSIONS.columns]


@dataclasses.dataclass
class Note:
    id: Any
    text: str


def test_a_table_and_an_entity_that_disagree_fail_at_import() -> None:
    table = Table(
        "notes", MetaData(), Column("id", Uuid), Column("text", String), Column("extra", String)
    )

    with pytest.raises(RuntimeError, match="notes and Note disagree"):
        RowMapping(table, Note)
    assert RowMapping(table, Note, omit={"extra"}).entity((1, "x")) == Note(1, "x")


def test_a_renamed_column_maps_to_its_field() -> None:
    table = Table("notes", MetaData(), Column("id", Uuid), Column("body", String))
    mapping = RowMapping(table, Note, renamed={"body": "text"})
    note = Note(new_id(), "x")

    assert mapping.values(note) == {"id": note.id, "body": "x"}
    assert mapping.entity((note.id, "x")) == note
