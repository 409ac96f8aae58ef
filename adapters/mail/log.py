"""An ``EmailSender`` that writes each message to the log: development and tests only."""

import logging

from application.ports import EmailMessage

logger = logging.getLogger(__name__)


class LogEmailSender:
    """Logs the whole message, link and token included, so a developer can follow it.

    Never for production: a reset token in a log is a key to the account for anyone
    who reads the log. The composition root picks this adapter only outside production.
    """

    async def send(self, message: EmailMessage) -> None:
        logger.info(
            "e-mail not sent (no SMTP_HOST); it would have gone to %s:\nSubject: %s\n\n%s",
            message.to,
            message.subject,
            message.body,
            extra={"email_to": message.to, "email_subject": message.subject},
        )
