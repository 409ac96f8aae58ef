"""A signed-in device: what one login opened, until it ends."""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

from domain.ids import new_id


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a request speaks for: the user, and the session its access token belongs to.

    Without ``session_id`` it is the operator at the command line acting for the user:
    only that the user exists is checked, since no login stands behind it.
    """

    user_id: UUID
    session_id: UUID | None = None


@dataclass(eq=False, slots=True)
class Session:
    """One login (or registration) and the refreshes that kept it going.

    It is live until ``expires_at`` (each refresh moves it) unless ``revoked_at`` is
    set: by logout, by the user from another session, by a password change or by a
    replayed refresh token. Token material never sits here; the store keeps a hash.
    """

    user_id: UUID
    expires_at: datetime
    user_agent: str | None = None
    client_address: str | None = None
    id: UUID = field(default_factory=new_id)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.last_used_at is None:
            self.last_used_at = self.created_at

    def is_live(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Session) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)
