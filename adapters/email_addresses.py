"""The one rule for e-mail addresses, on every path (API, command line, password reset)."""

import unicodedata

from email_validator import EmailNotValidError, validate_email

from domain.errors import InvalidInput
from domain.users import MAX_EMAIL_CHARS

INVALID = "Enter a valid email address, like name@example.com."


def normalize_email_address(email: str) -> str:
    """The form an address is stored and compared in; ``InvalidInput`` when it is none.

    Compatibility forms are folded first (NFKC: full-width letters, ligatures), then
    case (``casefold``: ``ß`` is ``ss``, ``İ`` is ``i̇``), then email-validator checks
    the syntax and gives its normalised form (NFC, the domain in lower case and IDNA
    mapped). The same person typing the same address on another keyboard gets the same
    account. The message never repeats the input.
    """
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", email.strip()).casefold())
    if len(folded) > MAX_EMAIL_CHARS:
        raise InvalidInput(INVALID, "email")
    try:
        normalized = validate_email(folded, check_deliverability=False).normalized
    except EmailNotValidError:
        raise InvalidInput(INVALID, "email") from None
    if len(normalized) > MAX_EMAIL_CHARS:
        raise InvalidInput(INVALID, "email")
    return normalized


class EmailValidatorEmailRule:
    """``EmailRule`` by email-validator (syntax only: no DNS lookups)."""

    def normalize(self, email: str) -> str:
        return normalize_email_address(email)
