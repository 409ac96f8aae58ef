"""Background chores of a serving process: purging expired records now and then."""

import asyncio
import contextlib
import logging

from application.maintenance import PurgeExpiredRecords

logger = logging.getLogger(__name__)


class Housekeeping:
    """Drop expired idempotency keys and throttle windows, now and then every interval."""

    def __init__(self, purge: PurgeExpiredRecords, interval_seconds: float) -> None:
        self._purge = purge
        self._interval = interval_seconds
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="housekeeping")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            try:
                await self._purge.execute()
            except Exception:  # a failed round (database away) must not kill the worker
                logger.warning("purging expired records failed; will retry", exc_info=True)
            await asyncio.sleep(self._interval)
