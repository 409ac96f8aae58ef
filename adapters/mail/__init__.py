"""Adapters of the ``EmailSender`` port: SMTP for real mail, the log for development."""
