"""Password reset tokens: a secret sent by e-mail, of which the store keeps only a digest."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

# 256 random bits: guessing one is hopeless, so a fast digest protects it at rest as
# well as a slow password hash would (a slow hash defends guessable secrets).
_TOKEN_BYTES = 32


@dataclass(frozen=True, slots=True)
class ResetToken:
    """A user's one live reset token as the store keeps it: the digest, never the secret."""

    user_id: UUID
    digest: str
    created_at: datetime
    expires_at: datetime

    def is_live(self, now: datetime) -> bool:
        return now < self.expires_at


def new_reset_secret() -> str:
    """The secret for the e-mail: URL-safe, so it fits in a link as it is."""
    return secrets.token_urlsafe(_TOKEN_BYTES)


def reset_digest(secret: str) -> str:
    """What the store keeps of ``secret`` (SHA-256, hex)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()
