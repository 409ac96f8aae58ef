"""The one error hierarchy of the service.

Adapters translate library exceptions into these; the HTTP and CLI entrypoints
map them to status codes and exit codes in one place each.
"""


class DomainError(Exception):
    """Base of every business error. ``str(error)`` is safe to show a client."""


class InvalidInput(DomainError):
    """A value breaks a business rule (too long, empty, too common...).

    ``field`` names the value when one is to blame (``"password"``, ``"title"``...).
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class EmailAlreadyRegistered(DomainError):
    def __init__(self) -> None:
        super().__init__("An account with this email already exists.")


class InvalidCredentials(DomainError):
    """Wrong password or unknown email: deliberately indistinguishable."""

    def __init__(self) -> None:
        super().__init__("Incorrect email or password.")


class WrongPassword(DomainError):
    """A signed-in user confirmed a sensitive action with the wrong password."""

    def __init__(self) -> None:
        super().__init__("The password is not correct.")


class InvalidToken(DomainError):
    """A bearer token that is missing, malformed, expired, forged or orphaned."""

    def __init__(self, reason: str = "The access token is invalid or has expired.") -> None:
        super().__init__(reason)


class NotFound(DomainError):
    """The thing does not exist, or belongs to someone else (same answer on purpose)."""


class ChatNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Chat not found.")


class UserNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("User not found.")


class SessionNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Session not found.")


class TooManyAttempts(DomainError):
    """A rate limit was hit; ``retry_after`` is in whole seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("Too many attempts. Try again later.")
        self.retry_after = retry_after


class IdempotencyKeyReused(DomainError):
    def __init__(self) -> None:
        super().__init__("This Idempotency-Key was already used with a different request body.")


class IdempotencyKeyInFlight(DomainError):
    """The first request with this key is still running; ``retry_after`` in whole seconds."""

    def __init__(self, retry_after: int = 1) -> None:
        super().__init__(
            "A request with this Idempotency-Key is still in progress. Retry shortly to get "
            "its result."
        )
        self.retry_after = retry_after


class AssistantUnavailable(DomainError):
    """The assistant could not answer; nothing of the exchange was stored."""

    def __init__(self, retry_after: int = 5) -> None:
        super().__init__("The assistant could not answer. Try again shortly.")
        self.retry_after = retry_after


class InvalidCursor(DomainError):
    def __init__(self) -> None:
        super().__init__("The paging cursor is malformed or does not belong to this listing.")


class ServiceUnavailable(DomainError):
    """A dependency (the database) cannot be reached right now."""

    def __init__(self, retry_after: int = 5) -> None:
        super().__init__("The service is temporarily unavailable. Try again shortly.")
        self.retry_after = retry_after


class InvalidResetToken(DomainError):
    """A password reset token that is unknown, expired, used or superseded (one answer)."""

    def __init__(self) -> None:
        super().__init__(
            "The password reset token is invalid, expired or already used. Ask for a new one."
        )


class PasswordResetUnavailable(DomainError):
    """No way to send e-mail is configured, so a reset could never reach its owner."""

    def __init__(self) -> None:
        super().__init__("Password reset by e-mail is not available on this server.")


class EmailNotSent(DomainError):
    """The mail server refused or could not be reached; the caller decides what it means."""

    def __init__(self) -> None:
        super().__init__("The e-mail could not be sent.")
