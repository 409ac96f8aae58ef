"""A reply as server-sent events, for clients that ask (``Accept: text/event-stream``).

Starlette's ``StreamingResponse`` carries it: the stream is one finite reply, so all
it needs beyond that is the event format and a keep-alive comment while the
assistant is quiet (proxies close idle connections).
"""

from collections.abc import AsyncIterator

from fastapi import Request
from fastapi.responses import StreamingResponse
from pydantic_core import to_json

from application.messages import Exchange
from entrypoints.http.problems import error_document
from entrypoints.http.rendering import message_fields

EVENT_STREAM = "text/event-stream"
KEEP_ALIVE_SECONDS = 15.0


def wants_event_stream(request: Request) -> bool:
    """Whether the client listed ``text/event-stream`` in Accept (and not with q=0)."""
    for part in request.headers.get("accept", "").split(","):
        media, *parameters = (piece.strip() for piece in part.split(";"))
        if media.lower() != EVENT_STREAM:
            continue
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q" and _weight(value) == 0:
                return False
        return True
    return False


def _weight(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return 1.0


def _event(name: str, data: bytes) -> bytes:
    # JSON text holds no raw line break, so one ``data:`` line carries it.
    return b"event: " + name.encode() + b"\ndata: " + data + b"\n\n"


async def reply_events(exchange: Exchange, request: Request) -> AsyncIterator[bytes]:
    """``delta`` per chunk, then ``done`` with the stored reply, or ``error`` with a problem."""
    try:
        async for chunk in exchange.chunks(idle=KEEP_ALIVE_SECONDS):
            if chunk is None:
                yield b": keep-alive\n\n"
            else:
                yield _event("delta", to_json({"content": chunk}))
        answer = await exchange.answer()
    except Exception as error:
        yield _event("error", to_json(error_document(request, error)))
        return
    yield _event("done", to_json(message_fields(answer)))


def reply_stream(exchange: Exchange, request: Request) -> StreamingResponse:
    return StreamingResponse(
        reply_events(exchange, request),
        media_type=EVENT_STREAM,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


EVENT_STREAM_EXAMPLE = (
    'event: delta\ndata: {"content":"Message "}\n\n'
    'event: delta\ndata: {"content":"received"}\n\n'
    'event: done\ndata: {"id":"…","chat_id":"…","role":"assistant",'
    '"content":"Message received","created_at":"…"}\n\n'
)
