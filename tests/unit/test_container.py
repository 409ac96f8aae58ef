"""The composition root, overridden to run every use case without a database."""

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from dependency_injector import providers
from pydantic import SecretStr

from adapters.mail.log import LogEmailSender
from adapters.mail.smtp import SmtpEmailSender
from adapters.memory.storage import InMemoryStorage
from adapters.memory.unit_of_work import InMemoryStore
from domain.chats import Role
from domain.errors import InvalidCredentials
from domain.paging import PageRequest
from entrypoints.container import Container, start, stop, use_memory_adapters
from entrypoints.settings import Settings
from tests.unit.conftest import FAKE_PREFIX, PASSWORD, SECRET, FakePasswordHasher


@pytest.fixture
def fake_hasher() -> FakePasswordHasher:
    return FakePasswordHasher()


@pytest.fixture
def container(fake_hasher: FakePasswordHasher) -> Iterator[Any]:
    # A long secret only so PyJWT does not warn about a short HMAC key.
    container = Container(settings=Settings(jwt_secret=SecretStr(SECRET)))
    use_memory_adapters(container)
    container.password_hasher.override(providers.Object(fake_hasher))
    yield container
    container.reset_override()


async def test_register_create_chat_post_message_without_a_database(
    container: Any, fake_hasher: FakePasswordHasher
) -> None:
    issued = await container.register_user().execute(email="Eve@Example.com", password=PASSWORD)
    caller = await container.authenticate_user().execute(token=issued.access.value)
    user_id = caller.user_id

    chat = await container.create_chat().execute(caller=caller, title=None)
    reply = await container.post_message().execute(caller=caller, chat_id=chat.id, content="Hello")

    assert chat.title == "New chat"
    assert reply.role is Role.ASSISTANT
    assert reply.content == "Message received"
    page = await container.list_messages().execute(
        caller=caller, chat_id=chat.id, page=PageRequest()
    )
    assert [m.role for m in page.items] == [Role.USER, Role.ASSISTANT]

    # Everything went to the container's one in-memory store, hashed by the fake.
    store: InMemoryStore = container.memory_store()
    assert store.state.users[user_id].email == "eve@example.com"
    assert store.state.users[user_id].password_hash == FAKE_PREFIX + PASSWORD
    assert list(store.state.chats) == [chat.id]
    assert len(store.state.messages) == 2
    assert fake_hasher.hashed == [PASSWORD]


async def test_login_through_the_container_uses_the_overridden_hasher(
    container: Any, fake_hasher: FakePasswordHasher
) -> None:
    await container.register_user().execute(email="eve@example.com", password=PASSWORD)
    issued = await container.login_user().execute(email="eve@example.com", password=PASSWORD)
    assert await container.authenticate_user().execute(token=issued.access.value)
    with pytest.raises(InvalidCredentials):
        await container.login_user().execute(email="nobody@example.com", password=PASSWORD)
    assert fake_hasher.burned == [PASSWORD]


def test_use_cases_are_singletons_over_the_uow_provider(container: Any) -> None:
    assert container.create_chat() is container.create_chat()
    # The memory store is shared by every unit of work the container hands out.
    assert container.uow()._store is container.memory_store()


def test_the_password_hasher_is_built_once_even_when_first_calls_race(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each build has its own pool of hashing threads: racing threads must share one."""
    import threading

    from adapters import password_hashing

    built: list[object] = []
    real_init = password_hashing.PwdlibPasswordHasher.__init__

    def counting_init(self: Any, *args: Any, **kwargs: Any) -> None:
        built.append(self)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(password_hashing.PwdlibPasswordHasher, "__init__", counting_init)
    container = Container(settings=Settings(jwt_secret=SecretStr(SECRET)))
    start = threading.Barrier(8)

    def first_login() -> None:
        start.wait()
        container.login_user()

    threads = [threading.Thread(target=first_login) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(built) == 1


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"smtp_host": "mail.example.org"}, SmtpEmailSender),
        ({"smtp_host": "mail.example.org", "app_env": "production"}, SmtpEmailSender),
        ({"app_env": "development"}, LogEmailSender),
        ({"app_env": "test"}, LogEmailSender),
        ({"app_env": "development", "smtp_host": ""}, LogEmailSender),
        ({"app_env": "production"}, type(None)),
    ],
)
def test_the_email_sender_follows_smtp_host_and_the_environment(
    overrides: dict[str, Any], expected: type
) -> None:
    """Production without SMTP_HOST gets no sender: resets answer 503, never a log line."""
    container = Container(settings=Settings(jwt_secret=SecretStr(SECRET), **overrides))
    assert type(container.email_sender()) is expected


class RecordingStorage(InMemoryStorage):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[str] = []

    async def start(self) -> None:
        self.events.append("start")

    async def stop(self) -> None:
        self.events.append("stop")


async def test_start_and_stop_run_the_storage_lifetime_and_the_housekeeping(
    container: Any,
) -> None:
    storage = RecordingStorage()
    container.storage.override(providers.Object(storage))

    await start(container)
    await asyncio.sleep(0)  # the housekeeping task's first round
    was_running = container.housekeeping().running()
    await stop(container)

    assert storage.events == ["start", "stop"]
    assert was_running
    assert not container.housekeeping().running()


def test_each_event_loop_starts_and_stops_its_own_housekeeping(container: Any) -> None:
    """One app may live in several loops in turn (test clients); none stops another's task."""
    container.storage.override(providers.Object(RecordingStorage()))
    housekeeping = container.housekeeping()

    async def start_only() -> None:
        await start(container)

    async def start_and_stop() -> bool:
        await start(container)
        running = housekeeping.running()
        await stop(container)
        return running and not housekeeping.running()

    first = asyncio.new_event_loop()
    try:
        first.run_until_complete(start_only())
        assert asyncio.run(start_and_stop())  # awaits only its own loop's task
        first.run_until_complete(stop(container))
    finally:
        first.close()


async def test_stop_is_safe_when_nothing_was_started(container: Any) -> None:
    storage = RecordingStorage()
    container.storage.override(providers.Object(storage))

    await stop(container)
    await stop(container)

    assert storage.events == ["stop", "stop"]


async def test_the_memory_storage_is_one_line_away_and_always_ready(container: Any) -> None:
    assert isinstance(container.storage(), InMemoryStorage)
    assert await container.readiness().problems() == []
    assert container.storage().pool_status() is None
