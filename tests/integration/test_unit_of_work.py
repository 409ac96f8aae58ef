"""What only PostgreSQL shows: cascades, locks, concurrency, pooled connections (the contract
both stores share is in tests/contract/)."""

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from adapters.sqlalchemy.database import ConnectionPool, PoolSettings
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from application.ports import IdempotentRecord
from domain.chats import Chat, Message, Role
from domain.errors import EmailAlreadyRegistered, ServiceUnavailable
from domain.users import User

UowFactory = Callable[[], SqlAlchemyUnitOfWork]


def _user() -> User:
    return User(email=f"{uuid.uuid4().hex}@example.com", password_hash="$argon2id$fake")


async def test_unreachable_database_is_service_unavailable() -> None:
    pool = ConnectionPool(
        "postgresql://postgres@127.0.0.1:1/nowhere", PoolSettings(connect_timeout=1)
    )
    try:
        with pytest.raises(ServiceUnavailable):
            async with SqlAlchemyUnitOfWork(pool) as work:
                await work.users.exists(uuid.uuid4())
    finally:
        await pool.close()


async def test_deleting_a_user_cascades_to_everything_they_own(
    uow: UowFactory, database_url: str, saved_user: User, saved_chat: Chat
) -> None:
    message = Message(chat_id=saved_chat.id, user_id=saved_user.id, role=Role.USER, content="x")
    async with uow() as work:
        await work.idempotency.claim(
            saved_user.id, "key", "hash", in_flight_for=timedelta(minutes=2)
        )
        await work.messages.append([message])
        await work.commit()

    async with uow() as work:
        await work.users.delete(saved_user.id)
        await work.commit()

    with psycopg.connect(database_url) as connection:
        for table in ("chats", "messages", "idempotency_keys"):
            found = connection.execute(
                f"SELECT count(*) FROM {table} WHERE user_id = %s",
                [saved_user.id],
            ).fetchone()
            assert found == (0,), table


IN_FLIGHT = timedelta(minutes=2)


async def test_concurrent_claims_of_one_idempotency_key_let_exactly_one_through(
    uow: UowFactory, saved_user: User
) -> None:
    async def attempt() -> IdempotentRecord | None:
        async with uow() as work:
            return await work.idempotency.claim(
                saved_user.id, "same-key", "h", in_flight_for=IN_FLIGHT
            )

    results = await asyncio.gather(*(attempt() for _ in range(5)))

    assert sum(result is None for result in results) == 1
    others = [result for result in results if result is not None]
    assert all(other.result is None and other.request_hash == "h" for other in others)


async def test_a_claim_is_committed_at_once_and_holds_no_lock(
    uow: UowFactory, saved_user: User
) -> None:
    async with uow() as first:
        assert (
            await first.idempotency.claim(saved_user.id, "k", "h", in_flight_for=IN_FLIGHT) is None
        )
        # Still inside the first unit of work: another sees the key in flight, without waiting.
        async with uow() as second, asyncio.timeout(5):
            seen = await second.idempotency.claim(saved_user.id, "k", "h", in_flight_for=IN_FLIGHT)
        assert seen is not None
        assert seen.result is None
    async with uow() as later:  # the first left without commit: the claim stays
        assert await later.idempotency.claim(saved_user.id, "k", "h", in_flight_for=IN_FLIGHT)


async def test_a_completed_key_returns_its_result_and_is_never_taken_over(
    uow: UowFactory, saved_user: User
) -> None:
    async with uow() as work:
        await work.idempotency.claim(saved_user.id, "done", "h", in_flight_for=IN_FLIGHT)
        await work.idempotency.complete(saved_user.id, "done", "result")
        await work.commit()

    async with uow() as work:
        earlier = await work.idempotency.claim(
            saved_user.id, "done", "h", in_flight_for=timedelta(0)
        )
    assert earlier is not None
    assert earlier.result == "result"


async def test_a_key_in_flight_for_too_long_is_taken_over(
    uow: UowFactory, saved_user: User
) -> None:
    async with uow() as work:
        await work.idempotency.claim(saved_user.id, "stuck", "h", in_flight_for=IN_FLIGHT)
    async with uow() as work:
        recent = await work.idempotency.claim(saved_user.id, "stuck", "h", in_flight_for=IN_FLIGHT)
    await asyncio.sleep(0.01)
    async with uow() as work:
        stale = await work.idempotency.claim(
            saved_user.id, "stuck", "h2", in_flight_for=timedelta(milliseconds=1)
        )
    async with uow() as work:
        now_held = await work.idempotency.claim(
            saved_user.id, "stuck", "h", in_flight_for=IN_FLIGHT
        )

    assert recent is not None  # still within its bound
    assert stale is None  # taken over
    assert now_held is not None
    assert now_held.request_hash == "h2"


async def test_release_forgets_only_an_unfinished_key_of_that_request(
    uow: UowFactory, saved_user: User
) -> None:
    async with uow() as work:
        await work.idempotency.claim(saved_user.id, "failed", "h", in_flight_for=IN_FLIGHT)
        await work.idempotency.claim(saved_user.id, "finished", "h", in_flight_for=IN_FLIGHT)
        await work.idempotency.complete(saved_user.id, "finished", "result")
        await work.idempotency.release(saved_user.id, "failed", "other request")
        await work.commit()
    async with uow() as work:
        await work.idempotency.release(saved_user.id, "failed", "h")
        await work.idempotency.release(saved_user.id, "finished", "h")
        await work.commit()

    async with uow() as work:
        assert (
            await work.idempotency.claim(saved_user.id, "failed", "h", in_flight_for=IN_FLIGHT)
            is None
        )
        finished = await work.idempotency.claim(
            saved_user.id, "finished", "h", in_flight_for=IN_FLIGHT
        )
    assert finished is not None
    assert finished.result == "result"


async def test_attempt_windows_count_and_restart(uow: UowFactory) -> None:
    subject = f"account:{uuid.uuid4().hex}"
    start = datetime.now(UTC)
    window = timedelta(minutes=15)
    async with uow() as work:
        first = await work.attempts.reserve({subject: window}, start)
        second = await work.attempts.reserve({subject: window}, start + timedelta(minutes=1))
    assert (first[subject].count, second[subject].count) == (1, 2)
    assert second[subject].started_at == start
    async with uow() as work:
        restarted = await work.attempts.reserve({subject: window}, start + timedelta(minutes=20))
    assert (restarted[subject].count, restarted[subject].started_at) == (
        1,
        start + timedelta(minutes=20),
    )


async def test_a_reservation_holds_without_a_commit(uow: UowFactory) -> None:
    subject = f"account:{uuid.uuid4().hex}"
    now, window = datetime.now(UTC), timedelta(minutes=15)
    async with uow() as work:
        await work.attempts.reserve({subject: window}, now)
        # no commit: a unit of work that fails after counting must not uncount
    async with uow() as work:
        again = await work.attempts.reserve({subject: window}, now)
    assert again[subject].count == 2


async def test_release_takes_one_back_and_clear_forgets(uow: UowFactory) -> None:
    kept, cleared = f"client:{uuid.uuid4().hex}", f"account:{uuid.uuid4().hex}"
    now, window = datetime.now(UTC), timedelta(minutes=15)
    async with uow() as work:
        for _ in range(3):
            await work.attempts.reserve({kept: window, cleared: window}, now)
    async with uow() as work:
        await work.attempts.release(kept)
        await work.attempts.clear(cleared)
        await work.commit()
    async with uow() as work:
        counted = await work.attempts.reserve({kept: window, cleared: window}, now)
    assert (counted[kept].count, counted[cleared].count) == (3, 1)


async def test_any_subject_fits_its_counter(uow: UowFactory) -> None:
    """Subjects are stored as a digest: a subject of any length or content is counted."""
    huge = "x" * 10_000 + "\u0130" * 1000 + "\ud800"
    now, window = datetime.now(UTC), timedelta(minutes=15)
    async with uow() as work:
        await work.attempts.reserve({huge: window}, now)
    async with uow() as work:
        assert (await work.attempts.reserve({huge: window}, now))[huge].count == 2


async def test_concurrent_reservations_each_see_their_own_count(pool: ConnectionPool) -> None:
    subject = f"account:{uuid.uuid4().hex}"
    now, window = datetime.now(UTC), timedelta(minutes=15)

    async def reserve() -> int:
        async with SqlAlchemyUnitOfWork(pool) as work:
            return (await work.attempts.reserve({subject: window}, now))[subject].count

    counts = await asyncio.gather(*(reserve() for _ in range(15)))

    assert sorted(counts) == list(range(1, 16))


async def test_a_failed_commit_leaves_the_pool_usable(uow: UowFactory) -> None:
    first = _user()
    async with uow() as work:
        await work.users.add(first)
        await work.commit()

    for _ in range(3):  # enough to reuse the connection the failed commit ran on
        with pytest.raises(EmailAlreadyRegistered):
            async with uow() as work:
                await work.users.add(User(email=first.email, password_hash="x"))
                await work.commit()
        async with uow() as work:
            assert await work.users.exists(first.id)


async def test_a_transaction_sees_its_own_writes_and_rolls_back_unless_committed(
    uow: UowFactory,
) -> None:
    dropped, kept = _user(), _user()
    async with uow() as work:
        async with work.transaction():
            await work.users.add(dropped)
            assert await work.users.get_by_email(dropped.email) == dropped
        async with work.transaction():  # the unit of work stays usable after a rollback
            await work.users.add(kept)
            await work.commit()

    async with uow() as work:
        assert await work.users.get(dropped.id) is None
        assert await work.users.get(kept.id) == kept


async def test_a_row_read_for_update_stays_locked_until_the_transaction_ends(
    uow: UowFactory, saved_user: User
) -> None:
    async def read_locked() -> User | None:
        async with uow() as work, work.transaction():
            return await work.users.get_by_email(saved_user.email, for_update=True)

    async with uow() as first, first.transaction():
        assert await first.users.get_by_email(saved_user.email, for_update=True) == saved_user
        second = asyncio.create_task(read_locked())
        await asyncio.sleep(0.2)  # let it reach the lock
        await first.users.delete(saved_user.id)
        await first.commit()

    # It waited for the lock, then found the row gone; without the lock it would have
    # read the user before the delete.
    assert await second is None


async def test_an_error_inside_a_transaction_rolls_it_back(uow: UowFactory) -> None:
    user = _user()
    with pytest.raises(RuntimeError):
        async with uow() as work, work.transaction():
            await work.users.add(user)
            await work.users.get(user.id)  # sends the insert, inside the transaction
            raise RuntimeError("boom")

    async with uow() as work:
        assert await work.users.get(user.id) is None


async def test_a_connection_dropped_inside_a_transaction_is_given_up_once(
    database_url: str, pool: ConnectionPool, uow: UowFactory, saved_user: User
) -> None:
    """The read fails, then the rollback on the same dead connection fails too: the pool's
    connections are retired the first time only, and the pool serves the next request."""
    generation = pool.generation
    with pytest.raises(ServiceUnavailable):
        async with uow() as work, work.transaction():
            backend = work._statements._driver.info.backend_pid
            with psycopg.connect(database_url, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", [backend])
            await work.users.get(saved_user.id)
    assert pool.generation == generation + 1

    async with uow() as work:
        assert await work.users.get(saved_user.id) == saved_user
