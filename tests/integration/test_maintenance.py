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
        # Reservations first: each is a transaction of its own, before the unit of work writes.
        await work.attempts.reserve({old_subject: timedelta(hours=1)}, now - timedelta(days=2))
        await work.attempts.reserve({new_subject: timedelta(hours=1)}, now)
        await work.idempotency.claim(
            saved_user.id, "recent", "h", in_flight_for=timedelta(minutes=2)
        )
        await work.commit()

    purge = PurgeExpiredRecords(uow, timedelta(hours=24), timedelta(hours=1))
    await purge.execute(now=now)
    async with uow() as work:
        kept = await work.idempotency.claim(
            saved_user.id, "recent", "other", in_flight_for=timedelta(minutes=2)
        )
    async with uow() as work:
        # A window long enough to take in both: a purged one starts again at 1.
        long = timedelta(days=3)
        counted = await work.attempts.reserve({old_subject: long, new_subject: long}, now)
    assert (counted[old_subject].count, counted[new_subject].count) == (1, 2)
    assert kept is not None  # younger than 24 hours: still remembered

    await purge.execute(now=now + timedelta(days=2))  # now the key is old too
    async with uow() as work:
        assert (
            await work.idempotency.claim(
                saved_user.id, "recent", "h", in_flight_for=timedelta(minutes=2)
            )
            is None
        )
