"""The account holder."""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

from domain.errors import InvalidInput
from domain.ids import new_id

MAX_EMAIL_CHARS = 320  # RFC 3696's bound; the column's width


def normalize_email(email: str) -> str:
    """Emails are compared case-insensitively, so they are stored in one case.

    ``InvalidInput`` when the result is longer than any address can be: case folding
    can lengthen a string (``İ`` becomes two characters).
    """
    normalized = email.strip().lower()
    if len(normalized) > MAX_EMAIL_CHARS:
        raise InvalidInput(f"The email address must be at most {MAX_EMAIL_CHARS} characters long.")
    return normalized


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
