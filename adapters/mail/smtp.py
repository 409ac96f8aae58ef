"""Plain-text mail through an SMTP server (aiosmtplib): the ``EmailSender`` of production."""

import email.message
import email.utils
import ssl
from typing import Literal

import aiosmtplib

from application.ports import EmailMessage
from domain.errors import EmailNotSent

SmtpSecurity = Literal["starttls", "tls", "none"]


class SmtpEmailSender:
    """Sends each message over a connection of its own, closed right after.

    Mail is rare here (a password reset now and then): a kept-open connection would
    need keep-alives and reconnects for nothing. ``security`` is the whole choice of
    encryption: ``starttls`` upgrades a plain connection and refuses a server that
    cannot (never falling back to plain text), ``tls`` speaks TLS from the first byte
    (usually port 465), ``none`` sends in the clear (a relay on the same host or
    network). Certificates are verified against the system's trust store, or against
    ``tls_context`` when one is given. Every wait is bounded by ``timeout``.
    """

    def __init__(
        self,
        *,
        host: str,
        sender: str,
        port: int = 587,
        security: SmtpSecurity = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self._host = host
        self._port = port
        self._security = security
        self._username = username or None
        self._password = password if username else None
        self._sender = sender
        self._timeout = timeout
        self._tls_context = tls_context
        # make_msgid would otherwise ask the resolver for this host's name: a blocking call.
        self._message_id_domain = email.utils.parseaddr(sender)[1].rpartition("@")[2] or host

    async def send(self, message: EmailMessage) -> None:
        mime = self._mime(message)
        try:
            await aiosmtplib.send(
                mime,
                hostname=self._host,
                port=self._port,
                username=self._username,
                password=self._password,
                use_tls=self._security == "tls",
                # None would mean "upgrade if offered": a downgrade an attacker can force.
                start_tls=self._security == "starttls",
                tls_context=self._tls_context,
                timeout=self._timeout,
            )
        except (aiosmtplib.SMTPException, OSError) as error:
            # OSError covers refused and reset connections, TLS failures and timeouts.
            raise EmailNotSent() from error

    def _mime(self, message: EmailMessage) -> email.message.EmailMessage:
        mime = email.message.EmailMessage()
        mime["From"] = self._sender
        mime["To"] = message.to
        mime["Subject"] = message.subject
        mime["Date"] = email.utils.formatdate(usegmt=True)
        mime["Message-ID"] = email.utils.make_msgid(domain=self._message_id_domain)
        mime.set_content(message.body)  # text/plain; charset=utf-8
        return mime
