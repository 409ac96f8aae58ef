"""Chat sessions and the messages in them."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from uuid import UUID

from domain.errors import InvalidInput
from domain.ids import new_id

DEFAULT_CHAT_TITLE = "New chat"


def _now() -> datetime:
    return datetime.now(UTC)


class Role(StrEnum):
    USER = "user"
    ASSISTANT = "assistant"


@dataclass(frozen=True, slots=True)
class TextLimits:
    """Upper bounds on what a client may store; the entrypoint's settings choose them."""

    max_title_chars: int = 200
    max_content_chars: int = 32_000

    def title(self, raw: str | None) -> str:
        """A trimmed title, or the default when none (or only blanks) was given."""
        title = (raw or "").strip()
        if not title:
            return DEFAULT_CHAT_TITLE
        if len(title) > self.max_title_chars:
            raise InvalidInput(
                f"The title is longer than {self.max_title_chars} characters.", "title"
            )
        _reject_nul(title, "title")
        return title

    def content(self, raw: str) -> str:
        """Message text as sent; it must hold something other than white space."""
        if not raw.strip():
            raise InvalidInput("The message content must not be empty.", "content")
        if len(raw) > self.max_content_chars:
            raise InvalidInput(
                f"The message content is longer than {self.max_content_chars} characters.",
                "content",
            )
        _reject_nul(raw, "content")
        return raw


def _reject_nul(text: str, what: str) -> None:
    # PostgreSQL text cannot hold U+0000; refuse it here rather than fail at insert.
    if "\x00" in text:
        raise InvalidInput(f"The {what} must not contain a NUL character.", what)


@dataclass(eq=False, slots=True)
class Chat:
    user_id: UUID
    title: str
    id: UUID = field(default_factory=new_id)
    created_at: datetime = field(default_factory=_now)
    updated_at: datetime = field(default_factory=_now)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Chat) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)


@dataclass(eq=False, slots=True)
class Message:
    chat_id: UUID
    user_id: UUID
    role: Role
    content: str
    id: UUID = field(default_factory=new_id)
    created_at: datetime = field(default_factory=_now)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Message) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)


def one_chat(messages: Sequence[Message]) -> UUID:
    """The chat all of ``messages`` (at least one) belong to; ValueError if several."""
    chat_id = messages[0].chat_id
    if any(m.chat_id != chat_id for m in messages):
        raise ValueError("the messages of one chat were expected")
    return chat_id
