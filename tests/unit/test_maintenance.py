"""PurgeExpiredRecords on the in-memory adapters."""

from datetime import UTC, datetime, timedelta

from adapters.memory.unit_of_work import InMemoryStore, InMemoryUnitOfWork
from application.maintenance import PurgeExpiredRecords
from domain.users import User


async def test_purge_drops_only_what_is_past_its_retention() -> None:
    store = InMemoryStore()
    now = datetime.now(UTC)
    user = User(email="eve@example.com", password_hash="x")
    user_id = user.id
    async with InMemoryUnitOfWork(store) as uow:
        await uow.users.add(user)  # a key belongs to a user who exists
        await uow.idempotency.claim(user_id, "key", "hash", in_flight_for=timedelta(minutes=2))
        await uow.attempts.reserve({"old": timedelta(hours=1)}, now - timedelta(hours=3))
        await uow.attempts.reserve({"fresh": timedelta(hours=1)}, now)
        await uow.commit()
    purge = PurgeExpiredRecords(
        lambda: InMemoryUnitOfWork(store), timedelta(hours=24), timedelta(hours=1)
    )

    await purge.execute(now=now)
    assert set(store.state.attempts) == {"fresh"}
    assert (user_id, "key") in store.state.idempotency

    await purge.execute(now=now + timedelta(hours=25))
    assert store.state.idempotency == {}
