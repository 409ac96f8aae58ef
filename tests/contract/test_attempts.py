"""The attempt counter's contract."""

import uuid
from datetime import UTC, datetime, timedelta

from tests.contract.conftest import UowFactory

WINDOW = timedelta(minutes=15)


def _subject() -> str:
    return f"login-email:{uuid.uuid4().hex}"


async def test_attempt_windows_count_and_restart(uow: UowFactory) -> None:
    subject, start = _subject(), datetime.now(UTC)
    async with uow() as work:
        await work.attempts.record([subject], start, WINDOW)
        await work.attempts.record([subject], start + timedelta(minutes=1), WINDOW)
        await work.commit()
    async with uow() as work:
        assert (await work.attempts.windows([subject]))[subject].count == 2
        await work.attempts.record([subject], start + timedelta(minutes=20), WINDOW)
        restarted = (await work.attempts.windows([subject]))[subject]
    assert (restarted.count, restarted.started_at) == (1, start + timedelta(minutes=20))


async def test_clear_and_purge_forget_windows(uow: UowFactory) -> None:
    cleared, old, recent = _subject(), _subject(), _subject()
    now = datetime.now(UTC)
    async with uow() as work:
        await work.attempts.record([cleared, recent], now, WINDOW)
        await work.attempts.record([old], now - timedelta(hours=2), WINDOW)
        await work.commit()

    async with uow() as work:
        await work.attempts.clear(cleared)
        await work.attempts.purge(now - timedelta(hours=1))
        await work.commit()

    async with uow() as work:
        assert set(await work.attempts.windows([cleared, old, recent])) == {recent}
