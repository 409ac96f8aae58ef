"""The server ``memory-agent serve`` runs bounds request heads and the time they take.

Against the real server process, over raw sockets: the client controls every byte.
"""

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tests.e2e.servers import ApiServer, api_server

# The socket's own timeout: a bound on the test, far above the server's read timeout.
GIVE_UP_SECONDS = 60


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[ApiServer]:
    with api_server(
        database_url, MAX_HEADER_BYTES="16384", REQUEST_READ_TIMEOUT_SECONDS="2"
    ) as running:
        yield running


def _connect(server: ApiServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=GIVE_UP_SECONDS)


def _read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _request(path: str, *headers: str) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: api", *headers, "Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1")


def _send_ignoring_close(sock: socket.socket, data: bytes) -> None:
    # The server may answer and close before it has read everything we send.
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        sock.sendall(data)


def test_headers_within_the_limit_are_served(server: ApiServer) -> None:
    with _connect(server) as sock:
        sock.sendall(_request("/health", f"X-Padding: {'a' * 12_000}"))
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 200")
    head = answer.partition(b"\r\n\r\n")[0].lower()
    assert b"\r\nserver:" not in head  # the server does not name itself
    assert b"\r\ndate:" in head


@pytest.mark.parametrize("size", [17_000, 8 * 1024 * 1024])
def test_headers_over_the_limit_get_431_before_the_app(server: ApiServer, size: int) -> None:
    with _connect(server) as sock:
        _send_ignoring_close(sock, _request("/health", f"X-Padding: {'a' * size}"))
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 431")


def test_many_small_headers_count_together(server: ApiServer) -> None:
    headers = [f"X-H{n}: {'b' * 100}" for n in range(200)]  # 200 headers of ~108 bytes
    with _connect(server) as sock:
        _send_ignoring_close(sock, _request("/health", *headers))
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 431")


def test_a_request_that_never_completes_is_closed_with_408(server: ApiServer) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: api\r\n")  # the head never ends
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 408")


def test_a_silent_connection_is_closed(server: ApiServer) -> None:
    with _connect(server) as sock:
        answer = _read_all(sock)  # returns only once the server closes
    assert answer.startswith(b"HTTP/1.1 408")


def test_a_body_that_never_completes_is_closed(server: ApiServer) -> None:
    head = (
        b"POST /auth/login HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n{"
    )
    with _connect(server) as sock:
        sock.sendall(head)
        answer = _read_all(sock)
    assert not answer.startswith(b"HTTP/1.1 2")


def test_slowloris_is_closed_although_it_keeps_sending(server: ApiServer) -> None:
    """One header byte at a time, never finishing: the deadline is for the whole request."""
    with _connect(server) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: api\r\nX-Slow: ")
        closed = threading.Event()

        def trickle() -> None:
            while not closed.is_set():
                try:
                    sock.send(b"a")
                except OSError:
                    return
                time.sleep(0.2)

        sender = threading.Thread(target=trickle, daemon=True)
        sender.start()
        try:
            answer = _read_all(sock)
        finally:
            closed.set()
            sender.join(timeout=5)
    assert answer.startswith(b"HTTP/1.1 408")


def test_health_keeps_answering_next_to_an_oversized_header(server: ApiServer) -> None:
    with _connect(server) as big, _connect(server) as small:
        _send_ignoring_close(big, _request("/health", f"X-Padding: {'a' * 4_000_000}"))
        small.sendall(_request("/health"))
        assert _read_all(small).startswith(b"HTTP/1.1 200")
        assert _read_all(big).startswith(b"HTTP/1.1 431")
