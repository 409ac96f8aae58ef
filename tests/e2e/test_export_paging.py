"""The export reads a page at a time: a client that stops reading holds no connection."""

import asyncio
import json
from typing import Any

import httpx2
from dependency_injector import providers
from starlette.types import Message

from application.users import ExportUserData
from entrypoints.container import Container, stop
from entrypoints.http.app import create_app
from entrypoints.settings import Settings
from tests.e2e.conftest import NO_LIMITS, PASSWORD, new_email


class StalledDownload:
    """An export whose client stops reading after ``read`` body chunks until ``resume``."""

    def __init__(self, token: str, read: int, resume: asyncio.Event) -> None:
        self.token, self.read, self.resume = token, read, resume
        self.stalled = asyncio.Event()
        self.status = 0
        self.body = b""
        self._asked = False

    async def run(self, app: Any) -> None:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/users/me/export",
            "raw_path": b"/users/me/export",
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"api"), (b"authorization", f"Bearer {self.token}".encode())],
            "client": ("127.0.0.1", 50000),
            "server": ("api", 80),
        }
        await app(scope, self._receive, self._send)

    async def _receive(self) -> Message:
        if not self._asked:
            self._asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the client never hangs up
        raise AssertionError("unreachable")

    async def _send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")
            self.read -= 1
            if self.read == 0:
                self.stalled.set()
                await self.resume.wait()  # a full socket buffer: the send blocks


async def test_exports_whose_clients_stop_reading_hold_no_connection(database_url: str) -> None:
    settings = Settings(
        database_url=database_url,
        migrate_on_startup=False,
        db_pool_size=2,
        db_pool_timeout_seconds=2,
        **NO_LIMITS,
    )
    container = Container(settings=settings)
    # Small pages, so every export takes several of them.
    container.export_user_data.override(
        providers.Singleton(ExportUserData, uow=container.uow.provider, page_size=2)
    )
    app = create_app(container)
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://api") as api:

        async def sign_up() -> dict[str, str]:
            body = {"email": new_email(), "password": PASSWORD}
            token = (await api.post("/auth/register", json=body)).json()["access_token"]
            return {"Authorization": f"Bearer {token}"}

        exporter, other = await sign_up(), await sign_up()
        for title in ("a", "b", "c"):
            chat = (await api.post("/chats", json={"title": title}, headers=exporter)).json()
            for n in range(2):
                await api.post(
                    f"/chats/{chat['id']}/messages", json={"content": f"{n}"}, headers=exporter
                )
        others_chat = (await api.post("/chats", json={}, headers=other)).json()

        resume = asyncio.Event()
        token = exporter["Authorization"].removeprefix("Bearer ")
        # Twice as many stalled downloads as connections, each stopped mid-chat.
        downloads = [StalledDownload(token, read=3, resume=resume) for _ in range(4)]
        running = [asyncio.create_task(d.run(app)) for d in downloads]
        async with asyncio.timeout(30):
            await asyncio.gather(*(d.stalled.wait() for d in downloads))

        checked_out = container.storage().pool.status().checked_out
        statuses = [(await api.get("/chats", headers=other)).status_code for _ in range(5)]
        posted = await api.post(
            f"/chats/{others_chat['id']}/messages", json={"content": "still here"}, headers=other
        )

        resume.set()
        async with asyncio.timeout(30):
            await asyncio.gather(*running)
    await stop(container)

    assert checked_out == 0
    assert statuses == [200] * 5
    assert posted.status_code == 201
    for download in downloads:
        assert download.status == 200
        document = json.loads(download.body)
        assert [c["title"] for c in document["chats"]] == ["a", "b", "c"]
        assert [len(c["messages"]) for c in document["chats"]] == [4, 4, 4]
