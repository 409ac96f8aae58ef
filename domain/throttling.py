"""Counting failed attempts in fixed windows, to slow down password guessing."""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class Limit:
    """At most ``max_attempts`` per ``window``; 0 turns the limit off."""

    max_attempts: int
    window: timedelta

    @property
    def enabled(self) -> bool:
        return self.max_attempts > 0


@dataclass(frozen=True, slots=True)
class AttemptWindow:
    """How many attempts a subject made since ``started_at``."""

    count: int
    started_at: datetime

    def retry_after(self, limit: Limit, now: datetime) -> int | None:
        """Whole seconds until the subject may try again, or None when it may now."""
        if not limit.enabled:
            return None
        ends = self.started_at + limit.window
        if now >= ends or self.count < limit.max_attempts:
            return None
        return max(1, math.ceil((ends - now).total_seconds()))

    def refuses(self, limit: Limit, now: datetime) -> int | None:
        """For a window that already counts this attempt: seconds to wait when it went past
        the limit, or None when this attempt is within it and may go ahead."""
        return AttemptWindow(self.count - 1, self.started_at).retry_after(limit, now)
