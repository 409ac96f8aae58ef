"""Housekeeping that keeps bookkeeping tables small."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from application.ports import UnitOfWork


class PurgeExpiredRecords:
    """Forget Idempotency-Keys past their retention and throttle windows long over.

    Rules: a key is kept for at least ``idempotency_retention`` (24 hours or more),
    so a retry within that time is always answered from the first response; an
    attempt window is dropped once it is older than ``attempt_retention``, by
    which time it no longer blocks anyone; a session (and the refresh tokens rotated
    away from it) is forgotten ``session_retention`` after it expired or was revoked;
    a password reset token is forgotten once it expired.
    """

    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        idempotency_retention: timedelta,
        attempt_retention: timedelta,
        session_retention: timedelta = timedelta(days=7),
    ) -> None:
        self._uow = uow
        self._idempotency_retention = idempotency_retention
        self._attempt_retention = attempt_retention
        self._session_retention = session_retention

    async def execute(self, *, now: datetime | None = None) -> None:
        now = now or datetime.now(UTC)
        async with self._uow() as uow:
            await uow.idempotency.purge(now - self._idempotency_retention)
            await uow.attempts.purge(now - self._attempt_retention)
            await uow.sessions.purge(now - self._session_retention)
            await uow.reset_tokens.purge(now)
            await uow.commit()
