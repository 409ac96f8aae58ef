"""SmtpEmailSender against a real SMTP server (aiosmtpd), in each security mode."""

import email.utils
import logging
import ssl

import pytest

from adapters.mail.log import LogEmailSender
from adapters.mail.smtp import SmtpEmailSender
from application.ports import EmailMessage
from domain.errors import EmailNotSent
from tests.smtp import SmtpServer, ThrowawayCertificate, body_of, free_port, running_smtp_server

MESSAGE = EmailMessage(
    to="alice@example.com",
    subject="Réinitialiser — Memory Agent",
    body="Hello Alice,\n\ntoken=abc-DEF_123\n\nÇa marche.\n",
)
SENDER = "Memory Agent <no-reply@example.org>"


def _sender(server: SmtpServer, **options: object) -> SmtpEmailSender:
    settings: dict[str, object] = {"security": "none", "sender": SENDER, "timeout": 5.0}
    settings.update(options)
    return SmtpEmailSender(host=server.host, port=server.port, **settings)  # type: ignore[arg-type]


async def test_a_plain_text_message_arrives_whole(smtp_server: SmtpServer) -> None:
    await _sender(smtp_server).send(MESSAGE)

    [received] = smtp_server.messages
    assert received["To"] == "alice@example.com"
    assert received["From"] == SENDER
    assert received["Subject"] == MESSAGE.subject
    assert received.get_content_type() == "text/plain"
    assert body_of(received) == MESSAGE.body
    assert email.utils.parsedate_to_datetime(received["Date"]) is not None
    assert received["Message-ID"].endswith("@example.org>")


async def test_starttls_encrypts_and_logs_in(certificate: ThrowawayCertificate) -> None:
    with running_smtp_server(
        tls_context=certificate.server_context(), credentials=("mailer", "s3cret")
    ) as server:
        sender = _sender(
            server,
            security="starttls",
            username="mailer",
            password="s3cret",
            tls_context=certificate.client_context(),
        )
        await sender.send(MESSAGE)

    assert server.logins == [("mailer", "s3cret")]
    assert [m["To"] for m in server.messages] == ["alice@example.com"]


async def test_tls_from_the_first_byte(certificate: ThrowawayCertificate) -> None:
    with running_smtp_server(tls_context=certificate.server_context(), implicit_tls=True) as server:
        await _sender(server, security="tls", tls_context=certificate.client_context()).send(
            MESSAGE
        )

    assert len(server.messages) == 1


async def test_starttls_refuses_a_server_that_does_not_offer_it(smtp_server: SmtpServer) -> None:
    """No silent fallback to plain text: that is the downgrade an attacker would force."""
    with pytest.raises(EmailNotSent):
        await _sender(smtp_server, security="starttls").send(MESSAGE)
    assert smtp_server.messages == []


async def test_a_certificate_nobody_vouches_for_is_refused(
    certificate: ThrowawayCertificate,
) -> None:
    with running_smtp_server(tls_context=certificate.server_context()) as server:
        sender = _sender(server, security="starttls", tls_context=ssl.create_default_context())
        with pytest.raises(EmailNotSent):
            await sender.send(MESSAGE)
    assert server.messages == []


async def test_wrong_credentials_are_not_sent(certificate: ThrowawayCertificate) -> None:
    with running_smtp_server(
        tls_context=certificate.server_context(), credentials=("mailer", "s3cret")
    ) as server:
        sender = _sender(
            server,
            security="starttls",
            username="mailer",
            password="wrong",
            tls_context=certificate.client_context(),
        )
        with pytest.raises(EmailNotSent):
            await sender.send(MESSAGE)
    assert server.messages == []


async def test_a_server_that_refuses_the_recipient(smtp_server: SmtpServer) -> None:
    smtp_server.handler.refuse_recipients = True
    with pytest.raises(EmailNotSent) as raised:
        await _sender(smtp_server).send(MESSAGE)
    assert raised.value.__cause__ is not None  # the library's reason stays for the log
    assert smtp_server.messages == []


async def test_nothing_listening() -> None:
    sender = SmtpEmailSender(
        host="127.0.0.1", port=free_port(), security="none", sender=SENDER, timeout=5.0
    )
    with pytest.raises(EmailNotSent):
        await sender.send(MESSAGE)


async def test_the_log_sender_writes_the_whole_message(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="adapters.mail.log"):
        await LogEmailSender().send(MESSAGE)

    [record] = caplog.records
    assert "alice@example.com" in record.getMessage()
    assert "token=abc-DEF_123" in record.getMessage()
