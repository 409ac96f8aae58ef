"""Housekeeping on real PostgreSQL: old bookkeeping goes, recent stays."""

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from application.maintenance import PurgeExpiredRecords
from domain.users import User


async def test_expired_keys_and_windows_are_purged_and_recent_ones_kept(
    uow: Callable[[], SqlAlchemyUnitOfWork], saved_user: User
) -> None:
    old_subject, new_subject = f"old:{uuid.uuid4()}", f"new:{uuid.uuid4()}"
    now = datetime.now(UTC)
    async with uow() as work:
        await work.idempotency.claim(
            saved_user.id, "recent", "h", in_flight_for=timedelta(minutes=2)
        )
        await work.attempts.record([old_subject], now - timedelta(days=2), timedelta(hours=1))
        await work.attempts.record([new_subject], now, timedelta(hours=1))
        await work.commit()

    purge = PurgeExpiredRecords(uow, timedelta(hours=24), timedelta(hours=1))
    await purge.execute(now=now)
    async with uow() as work:
        windows = await work.attempts.windows([old_subject, new_subject])
        kept = await work.idempotency.claim(
            saved_user.id, "recent", "other", in_flight_for=timedelta(minutes=2)
        )
    assert set(windows) == {new_subject}
    assert kept is not None  # younger than 24 hours: still remembered

    await purge.execute(now=now + timedelta(days=2))  # now the key is old too
    async with uow() as work:
        assert (
            await work.idempotency.claim(
                saved_user.id, "recent", "h", in_flight_for=timedelta(minutes=2)
            )
            is None
        )
