"""A real SMTP server for tests (aiosmtpd), and a throwaway certificate for its TLS.

The server runs in a thread of its own (aiosmtpd's ``Controller``), so both async
tests and the synchronous TestClient can send to it, and keeps every message it
accepts. ``refuse_recipients`` makes it answer 550 to every recipient; ``hold``
keeps each message waiting until the event is set.
"""

import asyncio
import email
import email.message
import email.policy
import re
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

TOKEN = re.compile(r"token=([A-Za-z0-9_-]+)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class CollectingHandler:
    messages: list[email.message.EmailMessage] = field(default_factory=list)
    refuse_recipients: bool = False
    # While set and not yet released, a message is held before it is accepted.
    hold: threading.Event | None = None

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if self.refuse_recipients:
            return "550 5.1.1 Refused by the test server"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.hold is not None:
            await asyncio.to_thread(self.hold.wait, 60)
        content = envelope.original_content or b""
        parsed = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(parsed, email.message.EmailMessage)
        self.messages.append(parsed)
        return "250 Message accepted"


@dataclass
class SmtpServer:
    host: str
    port: int
    handler: CollectingHandler
    logins: list[tuple[str, str]]

    @property
    def messages(self) -> list[email.message.EmailMessage]:
        return self.handler.messages

    def tokens(self) -> list[str]:
        """The reset tokens in the messages received so far, oldest first."""
        found = []
        for message in self.messages:
            match = TOKEN.search(body_of(message))
            assert match, body_of(message)
            found.append(match.group(1))
        return found


def body_of(message: email.message.EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None, "no text/plain part"
    content: str = part.get_content()
    return content.replace("\r\n", "\n")  # lines end in CRLF on the wire


@contextmanager
def running_smtp_server(
    *,
    tls_context: ssl.SSLContext | None = None,
    implicit_tls: bool = False,
    credentials: tuple[str, str] | None = None,
) -> Iterator[SmtpServer]:
    """An SMTP server on a free loopback port; STARTTLS (required) with ``tls_context``,
    or TLS from the first byte with ``implicit_tls``; AUTH with ``credentials``."""
    handler = CollectingHandler()
    logins: list[tuple[str, str]] = []
    options: dict[str, Any] = {}
    if tls_context is not None and not implicit_tls:
        options.update(tls_context=tls_context, require_starttls=True)
    if implicit_tls:
        options.update(ssl_context=tls_context)
    if credentials is not None:

        def authenticate(
            server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
        ) -> AuthResult:
            assert isinstance(data, LoginPassword)
            given = (data.login.decode(), data.password.decode())
            logins.append(given)
            # handled=False: aiosmtpd answers (535 on failure) instead of staying silent.
            return AuthResult(success=given == credentials, handled=False)

        options.update(authenticator=authenticate, auth_required=True)
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **options)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", controller.port, handler, logins)
    finally:
        controller.stop()


@dataclass(frozen=True)
class ThrowawayCertificate:
    """A self-signed certificate for 127.0.0.1, made by the openssl command for one run."""

    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


def make_certificate(directory: Path) -> ThrowawayCertificate:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-nodes", "-days", "1",
            "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-keyout", str(key), "-out", str(cert),
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return ThrowawayCertificate(cert, key)
