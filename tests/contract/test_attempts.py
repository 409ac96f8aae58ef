"""The attempt counter's contract."""

import uuid
from datetime import UTC, datetime, timedelta

from tests.contract.conftest import UowFactory

WINDOW = timedelta(minutes=15)


def _subject() -> str:
    return f"login-email:{uuid.uuid4().hex}"


async def test_reservations_count_within_a_window_and_restart_after_it(uow: UowFactory) -> None:
    subject, start = _subject(), datetime.now(UTC)
    async with uow() as work:
        first = await work.attempts.reserve({subject: WINDOW}, start)
        second = await work.attempts.reserve({subject: WINDOW}, start + timedelta(minutes=1))
    async with uow() as work:
        restarted = await work.attempts.reserve({subject: WINDOW}, start + timedelta(minutes=20))

    assert (first[subject].count, second[subject].count) == (1, 2)
    assert (restarted[subject].count, restarted[subject].started_at) == (
        1,
        start + timedelta(minutes=20),
    )


async def test_a_reservation_counts_without_a_commit(uow: UowFactory) -> None:
    subject, now = _subject(), datetime.now(UTC)
    async with uow() as work:
        await work.attempts.reserve({subject: WINDOW}, now)  # no commit

    async with uow() as work:
        again = await work.attempts.reserve({subject: WINDOW}, now)
    assert again[subject].count == 2


async def test_release_takes_one_back_and_clear_and_purge_forget(uow: UowFactory) -> None:
    released, cleared, old = _subject(), _subject(), _subject()
    now = datetime.now(UTC)
    async with uow() as work:
        await work.attempts.reserve({released: WINDOW, cleared: WINDOW}, now)
        await work.attempts.reserve({released: WINDOW}, now)
        await work.attempts.reserve({old: WINDOW}, now - timedelta(hours=2))
    async with uow() as work:
        await work.attempts.release(released)
        await work.attempts.clear(cleared)
        await work.attempts.purge(now - timedelta(hours=1))
        await work.commit()

    async with uow() as work:
        counts = await work.attempts.reserve({released: WINDOW, cleared: WINDOW, old: WINDOW}, now)
    assert {s: w.count for s, w in counts.items()} == {released: 2, cleared: 1, old: 1}
