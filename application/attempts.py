"""Counting an attempt before the work it guards, so a burst cannot outrun its own count.

A check-then-count throttle lets every request of a burst pass the check before the
first one is counted. Here the attempt is counted first, atomically, and the count
that comes back decides: however many arrive at once, at most the limit go ahead.
"""

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from application.ports import UnitOfWork
from domain.errors import TooManyAttempts
from domain.throttling import Limit


async def reserve_attempt(
    uow: Callable[[], UnitOfWork],
    checks: Sequence[tuple[str | None, Limit]],
    now: datetime | None = None,
) -> None:
    """Count one attempt against every subject whose limit is on; then refuse it
    (``TooManyAttempts``, with the longest wait) when any of them went past its limit.

    A refused attempt stays counted: whoever keeps trying keeps the window full.
    """
    enabled = {subject: limit for subject, limit in checks if subject and limit.enabled}
    if not enabled:
        return
    now = now or datetime.now(UTC)
    async with uow() as unit:
        counted = await unit.attempts.reserve(
            {subject: limit.window for subject, limit in enabled.items()}, now
        )
        await unit.commit()
    waits = [
        wait
        for subject, limit in enabled.items()
        if (wait := counted[subject].refuses(limit, now)) is not None
    ]
    if waits:
        raise TooManyAttempts(max(waits))
