"""Background chores of a serving process: purging expired records now and then."""

import asyncio
import contextlib
import logging
import weakref

from application.maintenance import PurgeExpiredRecords

logger = logging.getLogger(__name__)


class Housekeeping:
    """Drop expired idempotency keys and throttle windows, now and then every interval.

    One task per event loop: tests and the fuzzer run one app's lifespan in several
    loops, and a task may only be awaited from its own.
    """

    def __init__(self, purge: PurgeExpiredRecords, interval_seconds: float) -> None:
        self._purge = purge
        self._interval = interval_seconds
        self._tasks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task[None]]
        self._tasks = weakref.WeakKeyDictionary()

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        task = self._tasks.get(loop)
        if task is None or task.done():
            self._tasks[loop] = loop.create_task(self._run(), name="housekeeping")

    def running(self) -> bool:
        task = self._tasks.get(asyncio.get_running_loop())
        return task is not None and not task.done()

    async def stop(self) -> None:
        task = self._tasks.pop(asyncio.get_running_loop(), None)
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
