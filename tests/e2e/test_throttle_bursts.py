"""Throttles under bursts: the real app and PostgreSQL, requests sent all at once.

A throttle that checks, then hashes, then counts lets a whole burst through before the
first failure is counted. These send the burst at once (and hold the hashes that do run,
so the burst is really in flight together) and count how many passwords were verified.
"""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pytest
from dependency_injector import providers
from fastapi import FastAPI

from application.ports import PasswordHasher
from entrypoints.container import stop
from tests.e2e.conftest import PASSWORD, make_app, new_email


@dataclass
class CountingHasher:
    """The real hasher, counting its work; verifications wait for ``release`` when held."""

    inner: PasswordHasher
    hashed: int = 0
    verified: int = 0
    burned: int = 0
    hold: bool = False
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def hash(self, password: str) -> str:
        self.hashed += 1
        return await self.inner.hash(password)

    async def verify(self, password: str, password_hash: str) -> tuple[bool, str | None]:
        self.verified += 1
        if self.hold:
            await self.release.wait()
        return await self.inner.verify(password, password_hash)

    async def burn(self, password: str) -> None:
        self.burned += 1
        await self.inner.burn(password)


@dataclass
class Api:
    app: FastAPI
    client: httpx2.AsyncClient
    hasher: CountingHasher

    async def register(self, email: str, password: str = PASSWORD) -> httpx2.Response:
        return await self.client.post("/auth/register", json={"email": email, "password": password})

    async def login(self, email: str, password: str) -> httpx2.Response:
        return await self.client.post("/auth/login", json={"email": email, "password": password})


async def _api(database_url: str, **limits: Any) -> AsyncIterator[Api]:
    app = make_app(database_url, migrate_on_startup=False, **limits)
    container = app.state.container
    hasher = CountingHasher(container.password_hasher())
    container.password_hasher.override(providers.Object(hasher))
    transport = httpx2.ASGITransport(app=app, client=("203.0.113.50", 40000))
    async with httpx2.AsyncClient(transport=transport, base_url="http://api") as client:
        yield Api(app, client, hasher)
    await stop(container)


@pytest.fixture
async def api(database_url: str) -> AsyncIterator[Api]:
    async for api in _api(database_url, login_max_failures_per_email=5):
        yield api


@pytest.fixture
async def registering(database_url: str) -> AsyncIterator[Api]:
    async for api in _api(database_url, register_max_per_client=20):
        yield api


def _statuses(responses: list[httpx2.Response]) -> list[int]:
    return sorted(r.status_code for r in responses)


async def test_twenty_simultaneous_wrong_logins_verify_at_most_five(api: Api) -> None:
    email = new_email()
    assert (await api.register(email)).status_code == 201

    responses = await asyncio.gather(*(api.login(email, "wrong password") for _ in range(20)))

    assert _statuses(responses) == [401] * 5 + [429] * 15
    assert api.hasher.verified == 5
    assert all(int(r.headers["Retry-After"]) > 0 for r in responses if r.status_code == 429)


async def test_the_right_password_inside_a_burst_past_the_limit_gets_429(api: Api) -> None:
    email = new_email()
    assert (await api.register(email)).status_code == 201
    api.hasher.hold = True  # the burst's verifications stay in flight

    burst = [asyncio.ensure_future(api.login(email, "wrong password")) for _ in range(20)]
    refused = 0
    while refused < 15 or api.hasher.verified < 5:
        await asyncio.sleep(0.01)
        refused = sum(1 for f in burst if f.done() and f.result().status_code == 429)
    right = await api.login(email, PASSWORD)  # not one failure has been answered yet
    api.hasher.release.set()
    responses = await asyncio.gather(*burst)

    assert right.status_code == 429
    assert int(right.headers["Retry-After"]) > 0
    assert _statuses(responses) == [401] * 5 + [429] * 15
    assert api.hasher.verified == 5


async def test_unknown_emails_are_limited_alike_under_a_burst(api: Api) -> None:
    email = new_email()  # never registered

    responses = await asyncio.gather(*(api.login(email, "a guess") for _ in range(12)))

    assert _statuses(responses) == [401] * 5 + [429] * 7
    assert (api.hasher.verified, api.hasher.burned) == (0, 5)


async def test_forty_simultaneous_registrations_from_one_address_make_at_most_twenty(
    registering: Api,
) -> None:
    responses = await asyncio.gather(*(registering.register(new_email()) for _ in range(40)))

    assert _statuses(responses) == [201] * 20 + [429] * 20
    assert registering.hasher.hashed == 20


async def test_an_email_too_long_once_lowered_is_refused_before_hashing_and_counted(
    api: Api,
) -> None:
    email = "\u0130" * 320  # 320 characters that lower to 640

    statuses = [(await api.login(email, "a guess")).status_code for _ in range(6)]

    assert statuses == [422] * 5 + [429]
    assert (api.hasher.verified, api.hasher.burned) == (0, 0)


async def _delete_me(api: Api, token: str, password: str) -> httpx2.Response:
    return await api.client.request(
        "DELETE",
        "/users/me",
        json={"password": password},
        headers={"Authorization": f"Bearer {token}"},
    )


async def test_account_deletion_shares_the_login_failure_limit(api: Api) -> None:
    email = new_email()
    token = (await api.register(email)).json()["access_token"]

    responses = await asyncio.gather(*(_delete_me(api, token, "wrong") for _ in range(12)))

    assert _statuses(responses) == [403] * 5 + [429] * 7
    assert api.hasher.verified == 5
    # The right password waits out the window too, and so does a login.
    assert (await _delete_me(api, token, PASSWORD)).status_code == 429
    assert (await api.login(email, PASSWORD)).status_code == 429
    assert api.hasher.verified == 5
