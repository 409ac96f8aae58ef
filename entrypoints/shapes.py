"""What users, chats and messages look like from outside: the HTTP API and the CLI's JSON.

Each shape lists its fields once; pydantic reads them from the entity by name
(``from_attributes``), and ``entrypoints/http/rendering.py`` derives its fast path from
the same list.
"""

from datetime import datetime
from typing import Literal, Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from domain.sessions import Session


class Shape(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def of(cls, entity: object) -> Self:
        """The shape of ``entity``, read from its attributes of the same names."""
        return cls.model_validate(entity)


class UserResponse(Shape):
    id: UUID
    email: str
    created_at: datetime


class ChatResponse(Shape):
    id: UUID
    user_id: UUID
    title: str
    created_at: datetime
    updated_at: datetime = Field(description="Last activity: creation or the latest message.")


class MessageResponse(Shape):
    id: UUID
    chat_id: UUID
    role: Literal["user", "assistant"]
    content: str
    created_at: datetime


class SessionResponse(BaseModel):
    """A signed-in device; no token material."""

    id: UUID
    created_at: datetime
    last_used_at: datetime = Field(description="The last sign-in or refresh of this session.")
    user_agent: str | None
    client_address: str | None
    current: bool = Field(description="Whether this is the session making the request.")

    @classmethod
    def listed(cls, session: Session, current: bool) -> "SessionResponse":
        return cls(
            id=session.id,
            created_at=session.created_at,
            last_used_at=session.last_used_at or session.created_at,
            user_agent=session.user_agent,
            client_address=session.client_address,
            current=current,
        )
