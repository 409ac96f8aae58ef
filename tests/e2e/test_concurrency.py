"""Simultaneous requests against the real app and PostgreSQL: no lost or half writes."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import psycopg
import pytest

from entrypoints.container import stop
from tests.e2e.conftest import PASSWORD, make_app, new_email


@pytest.fixture
async def api(database_url: str) -> AsyncIterator[httpx2.AsyncClient]:
    app = make_app(database_url, migrate_on_startup=False)  # the run's database is migrated
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://api") as client:
        yield client
    await stop(app.state.container)


async def test_ten_simultaneous_registrations_of_one_email_make_one_account(
    api: httpx2.AsyncClient, database_url: str
) -> None:
    email = new_email()
    body = {"email": email, "password": PASSWORD}

    responses = await asyncio.gather(*(api.post("/auth/register", json=body) for _ in range(10)))

    assert sorted(r.status_code for r in responses) == [201] + [409] * 9
    with psycopg.connect(database_url) as connection:
        count = connection.execute("SELECT count(*) FROM users WHERE email = %s", (email,))
        assert count.fetchone() == (1,)


async def test_simultaneous_posts_into_one_chat_are_all_stored_whole(
    api: httpx2.AsyncClient, database_url: str
) -> None:
    token = (
        await api.post("/auth/register", json={"email": new_email(), "password": PASSWORD})
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    chat: dict[str, Any] = (await api.post("/chats", json={}, headers=headers)).json()
    path = f"/chats/{chat['id']}/messages"

    responses = await asyncio.gather(
        *(api.post(path, json={"content": f"message {n}"}, headers=headers) for n in range(20))
    )

    assert [r.status_code for r in responses] == [201] * 20
    with psycopg.connect(database_url) as connection:
        roles = connection.execute(
            "SELECT role, count(*) FROM messages WHERE chat_id = %s GROUP BY role ORDER BY role",
            (chat["id"],),
        ).fetchall()
    assert roles == [("assistant", 20), ("user", 20)]
    listed = (await api.get(f"{path}?limit=500", headers=headers)).json()
    contents = [m["content"] for m in listed if m["role"] == "user"]
    assert sorted(contents) == sorted(f"message {n}" for n in range(20))
