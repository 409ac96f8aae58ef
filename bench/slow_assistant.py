"""``python -m bench.slow_assistant``: posts to an assistant that takes a second to answer.

The chat flow's target (see RESULTS.md): with a 1 s assistant and a pool of 5
connections, 40 concurrent posts all succeed in under 4 s, and ``GET /chats`` from
another client stays under 500 ms p95 meanwhile. The API runs under uvicorn in this
process (the assistant is the container's provider, overridden), on a throwaway
database of the server in ``BENCH_DATABASE_URL`` (else ``TEST_DATABASE_URL``, else
``DATABASE_URL``/``.env``); the clients speak HTTP to it over 127.0.0.1.

Knobs (environment): ``SLOW_POSTS`` (40), ``SLOW_REPLY_SECONDS`` (1.0),
``SLOW_POOL_SIZE`` (5), ``SLOW_RUNS`` (3; the medians are printed).
"""

import asyncio
import json
import os
import statistics
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import uvicorn
from dependency_injector import providers

from adapters.sqlalchemy import migrate
from bench.database import throwaway_database
from bench.log import loadavg, log
from bench.server import free_port
from domain.chats import Chat, Message
from entrypoints.container import Container
from entrypoints.http.app import create_app
from entrypoints.settings import Settings

PASSWORD = "bench passphrase, long enough"


class SlowAssistant:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    async def reply(self, chat: Chat, message: Message) -> AsyncIterator[str]:
        await asyncio.sleep(self.seconds)
        yield "Message received"


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def _one_run(base_url: str, posts: int) -> dict[str, Any]:
    async with httpx2.AsyncClient(base_url=base_url, timeout=30) as api:

        async def sign_up() -> dict[str, str]:
            body = {"email": f"slow-{os.urandom(6).hex()}@example.com", "password": PASSWORD}
            token = (await api.post("/auth/register", json=body)).json()["access_token"]
            return {"Authorization": f"Bearer {token}"}

        poster, reader = await sign_up(), await sign_up()
        chat = (await api.post("/chats", json={}, headers=poster)).json()
        path = f"/chats/{chat['id']}/messages"

        started = time.perf_counter()
        posting = asyncio.gather(
            *(api.post(path, json={"content": f"q{n}"}, headers=poster) for n in range(posts))
        )
        latencies: list[float] = []
        list_statuses: list[int] = []
        while not posting.done():
            before = time.perf_counter()
            listed = await api.get("/chats", headers=reader)
            latencies.append((time.perf_counter() - before) * 1000)
            list_statuses.append(listed.status_code)
        responses = await posting
        elapsed = time.perf_counter() - started
    statuses = [r.status_code for r in responses]
    return {
        "posts_seconds": round(elapsed, 2),
        "posts_ok": statuses.count(201),
        "posts_503": statuses.count(503),
        "get_chats_requests": len(latencies),
        "get_chats_not_200": sum(s != 200 for s in list_statuses),
        "get_chats_p50_ms": round(_percentile(latencies, 0.50), 1),
        "get_chats_p95_ms": round(_percentile(latencies, 0.95), 1),
        "get_chats_max_ms": round(max(latencies), 1),
    }


async def _main(database_url: str) -> list[dict[str, Any]]:
    posts = int(os.environ.get("SLOW_POSTS", "40"))
    settings = Settings(
        database_url=database_url,
        migrate_on_startup=False,
        db_pool_size=int(os.environ.get("SLOW_POOL_SIZE", "5")),
        login_max_failures_per_email=0,
        login_max_failures_per_client=0,
        register_max_per_client=0,
        log_level="WARNING",
    )
    container = Container(settings=settings)
    reply_seconds = float(os.environ.get("SLOW_REPLY_SECONDS", "1.0"))
    container.assistant.override(providers.Object(SlowAssistant(reply_seconds)))
    port = free_port()
    config = uvicorn.Config(
        create_app(container), host="127.0.0.1", port=port, log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():  # it failed to start: say why
            await serving
        await asyncio.sleep(0.05)
    try:
        return [
            await _one_run(f"http://127.0.0.1:{port}", posts)
            for _ in range(int(os.environ.get("SLOW_RUNS", "3")))
        ]
    finally:
        server.should_exit = True
        await serving


def main() -> int:
    server = (
        os.environ.get("BENCH_DATABASE_URL")
        or os.environ.get("TEST_DATABASE_URL")
        or Settings().database_url
    )
    log(f"load average before: {loadavg()}")
    with throwaway_database(server) as database_url:
        migrate.upgrade(database_url)
        runs = asyncio.run(_main(database_url))
    for run in runs:
        log(json.dumps(run))
    medians = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    print(json.dumps({"median": medians, "runs": runs, "loadavg": loadavg()}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
