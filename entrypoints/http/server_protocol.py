"""uvicorn's HTTP/1.1 protocol with the two limits it lacks: request-head size and read time.

uvicorn's httptools parser buffers a header of any size, and nothing bounds how long a
client may take to send its request: a 64 MB header or a connection that trickles one
byte at a time (slowloris) holds memory and a socket for as long as the client likes.
This protocol counts the bytes of each request's head (request line and headers) as
they arrive and answers 431 once they pass ``MAX_HEADER_BYTES``, without feeding them
to the parser; and it closes a connection whose request has not arrived completely
(head and body) within ``REQUEST_READ_TIMEOUT_SECONDS`` of its first byte, or of the
connection's opening (with 408 while the head is still incomplete).
"""

import asyncio
from functools import cache
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from entrypoints.settings import Settings


@cache
def _limits() -> tuple[int, float]:
    # Read in each worker process (uvicorn imports this class there by name).
    settings = Settings()
    return settings.max_header_bytes, settings.request_read_timeout_seconds


def _plain_response(status: bytes, text: str) -> bytes:
    body = text.encode("ascii")
    return b"".join(
        [
            b"HTTP/1.1 " + status + b"\r\n",
            b"content-type: text/plain; charset=utf-8\r\n",
            b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
            b"connection: close\r\n\r\n",
            body,
        ]
    )


LINGER_SECONDS = 2.0

HEADERS_TOO_LARGE = _plain_response(
    b"431 Request Header Fields Too Large", "Request header fields too large."
)
REQUEST_TIMEOUT = _plain_response(b"408 Request Timeout", "The request took too long to arrive.")


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` with a bound on each request head's size and arrival time."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.max_header_bytes, self.read_timeout = _limits()
        self._reading_head = True  # the next bytes belong to a request line or headers
        self._head_bytes = 0
        self._read_deadline: asyncio.TimerHandle | None = None
        self._refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_read_deadline()  # a connection that never sends a byte is closed too

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_read_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # read and dropped until the lingering close ends
        # Feed the head in pieces no larger than what is left of its budget, so the
        # parser never holds more than the limit, and stop as soon as it is spent.
        while data and self._reading_head:
            budget = self.max_header_bytes - self._head_bytes
            if budget <= 0:
                self._refuse(HEADERS_TOO_LARGE)
                return
            piece, data = data[:budget], data[budget:]
            self._head_bytes += len(piece)
            super().data_received(piece)
            if self.transport.is_closing():
                return
        if data:
            super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_read_deadline()

    def on_headers_complete(self) -> None:
        self._reading_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm_read_deadline()
        self._reading_head, self._head_bytes = True, 0
        super().on_message_complete()

    def _arm_read_deadline(self) -> None:
        self._disarm_read_deadline()
        self._read_deadline = self.loop.call_later(self.read_timeout, self._read_timed_out)

    def _disarm_read_deadline(self) -> None:
        if self._read_deadline is not None:
            self._read_deadline.cancel()
            self._read_deadline = None

    def _read_timed_out(self) -> None:
        self._read_deadline = None
        if self.cycle is not None and not self.cycle.response_complete:
            # The app has the request (its body is late): it sees a disconnect, and
            # nothing is written behind its back.
            self.transport.close()
        else:
            self._refuse(REQUEST_TIMEOUT)

    def _refuse(self, response: bytes) -> None:
        """Answer, then close gently: closing a socket with unread input resets it, and
        the reset can destroy the answer before the client reads it. So stop writing,
        drop what still arrives, and close shortly after (a lingering close)."""
        self._disarm_read_deadline()
        if self._refused or self.transport.is_closing():
            return
        self._refused = True
        self.transport.write(response)
        if self.transport.can_write_eof():
            self.transport.write_eof()
            self.loop.call_later(LINGER_SECONDS, self.transport.close)
        else:
            self.transport.close()
