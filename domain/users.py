"""The account holder."""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

from domain.ids import new_id

MAX_EMAIL_CHARS = 320  # RFC 3696's bound; the column's width. The form is ``EmailRule``'s.


@dataclass(eq=False, slots=True)
class User:
    email: str
    password_hash: str
    id: UUID = field(default_factory=new_id)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, User) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)
