"""One encoder for every entity an idempotent replay returns."""

import dataclasses
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID

from application.snapshots import restore, snapshot
from domain.chats import Chat, Message, Role
from domain.ids import new_id

_AT = datetime(2026, 11, 24, 3, 4, 5, 678901, tzinfo=timezone(timedelta(hours=5, minutes=30)))


def test_a_message_survives_the_round_trip_field_for_field() -> None:
    message = Message(
        chat_id=new_id(), user_id=new_id(), role=Role.ASSISTANT, content="Grüße 🦊", created_at=_AT
    )

    restored = restore(Message, snapshot(message))

    assert dataclasses.astuple(restored) == dataclasses.astuple(message)
    assert restored.role is Role.ASSISTANT
    assert restored.created_at.utcoffset() == timedelta(hours=5, minutes=30)


def test_a_chat_survives_the_round_trip_field_for_field() -> None:
    chat = Chat(user_id=new_id(), title="Trip", created_at=_AT, updated_at=datetime.now(UTC))

    restored = restore(Chat, snapshot(chat))

    assert dataclasses.astuple(restored) == dataclasses.astuple(chat)
    assert isinstance(restored.id, UUID)


def test_snapshots_stored_before_the_generic_encoder_still_restore() -> None:
    stored = json.dumps(
        {
            "id": "0d3e1c9a-6f4b-4b7e-9a51-0f0a4c1b2d3e",
            "chat_id": "5b1f2a3c-4d5e-4f60-8a7b-9c0d1e2f3a4b",
            "user_id": "7c8d9e0f-1a2b-4c3d-8e4f-5a6b7c8d9e0f",
            "role": "user",
            "content": "hello",
            "created_at": "2026-11-24T03:04:05.678901+00:00",
        }
    )

    message = restore(Message, stored)

    assert message.role is Role.USER
    assert message.chat_id == UUID("5b1f2a3c-4d5e-4f60-8a7b-9c0d1e2f3a4b")
    assert message.created_at == datetime(2026, 11, 24, 3, 4, 5, 678901, tzinfo=UTC)


@dataclass
class _Entity:
    name: str
    role: Role | None
    seen_at: datetime | None
    count: int = 0


def test_any_dataclass_with_optional_fields_round_trips() -> None:
    for entity in (_Entity("a", Role.USER, _AT, 3), _Entity("b", None, None)):
        assert restore(_Entity, snapshot(entity)) == entity
