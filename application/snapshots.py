"""Entities to and from JSON text, so an idempotent replay returns what was first returned."""

import hashlib
import json
from datetime import datetime
from uuid import UUID

from domain.chats import Chat, Message, Role


def fingerprint(*parts: object) -> str:
    """A stable digest of a request's meaningful inputs."""
    return hashlib.sha256(json.dumps([str(p) for p in parts]).encode()).hexdigest()


def chat_to_json(chat: Chat) -> str:
    return json.dumps(
        {
            "id": str(chat.id),
            "user_id": str(chat.user_id),
            "title": chat.title,
            "created_at": chat.created_at.isoformat(),
            "updated_at": chat.updated_at.isoformat(),
        }
    )


def chat_from_json(text: str) -> Chat:
    data = json.loads(text)
    return Chat(
        id=UUID(data["id"]),
        user_id=UUID(data["user_id"]),
        title=data["title"],
        created_at=datetime.fromisoformat(data["created_at"]),
        updated_at=datetime.fromisoformat(data["updated_at"]),
    )


def message_to_json(message: Message) -> str:
    return json.dumps(
        {
            "id": str(message.id),
            "chat_id": str(message.chat_id),
            "user_id": str(message.user_id),
            "role": message.role.value,
            "content": message.content,
            "created_at": message.created_at.isoformat(),
        }
    )


def message_from_json(text: str) -> Message:
    data = json.loads(text)
    return Message(
        id=UUID(data["id"]),
        chat_id=UUID(data["chat_id"]),
        user_id=UUID(data["user_id"]),
        role=Role(data["role"]),
        content=data["content"],
        created_at=datetime.fromisoformat(data["created_at"]),
    )
