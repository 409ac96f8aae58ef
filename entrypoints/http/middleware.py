"""Pure ASGI middleware: cheap, and safe around streaming responses."""

import json
from http import HTTPStatus

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from entrypoints.http.problems import PROBLEM_JSON


class BodySizeLimit:
    """Refuse a request body over ``max_bytes`` with 413, before anything parses it.

    A declared ``Content-Length`` over the limit is refused at once; a chunked body
    is buffered up to the limit and refused as soon as it goes past.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.max_bytes
            except ValueError:
                await _send_problem(scope, send, 400, "The Content-Length header is not a number.")
                return
            if too_big:
                await _send_problem(scope, send, 413, self._detail)
                return
        if declared is not None:
            await self.app(scope, _capped(receive, self.max_bytes), send)
            return
        # No length given: read up to the limit, then replay what was read.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _send_problem(scope, send, 413, self._detail)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @property
    def _detail(self) -> str:
        return f"The request body is larger than {self.max_bytes} bytes."


def _capped(receive: Receive, max_bytes: int) -> Receive:
    """Guard against a client that sends more than its Content-Length promised."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > max_bytes:
                return {"type": "http.disconnect"}
        return message

    return wrapped


async def _send_problem(scope: Scope, send: Send, status: int, detail: str) -> None:
    problem = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": scope["path"],
    }
    if request_id := scope.get("state", {}).get("request_id"):
        problem["request_id"] = request_id
    body = json.dumps(problem).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                (b"x-content-type-options", b"nosniff"),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
