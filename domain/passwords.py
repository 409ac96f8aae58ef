"""Password rules after NIST SP 800-63B: length and a blocklist, no composition rules."""

import unicodedata
from dataclasses import dataclass, field

from domain.errors import InvalidInput

# Categories a reader cannot see: separators (Z*) and "other" (C*: controls, format
# characters such as zero-width joiners, unassigned, private use).
_INVISIBLE_CATEGORIES = ("Z", "C")


def normalize_password(password: str) -> str:
    """The form every password is checked and hashed in (NFKC, as 800-63B asks).

    The same password typed with full-width letters, a ligature or a decomposed accent
    is the same password. Hashes made before this rule keep verifying (see
    ``PasswordCheck``).
    """
    return unicodedata.normalize("NFKC", password)


def _invisible(char: str) -> bool:
    return char.isspace() or unicodedata.category(char).startswith(_INVISIBLE_CATEGORIES)


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    min_chars: int = 8
    max_chars: int = 128
    common: frozenset[str] = field(default_factory=frozenset)

    def check(self, password: str, *, email: str | None = None, field: str = "password") -> None:
        """Raise ``InvalidInput`` with a message a person can act on, naming ``field``.

        The password is judged in its normalised form; spaces and invisible characters
        do not hide a common password (``pass word 1`` is ``password1``), and neither do
        case or full-width letters.
        """
        password = normalize_password(password)
        if len(password) < self.min_chars:
            raise InvalidInput(
                f"The password must be at least {self.min_chars} characters long.", field
            )
        if len(password) > self.max_chars:
            raise InvalidInput(
                f"The password must be at most {self.max_chars} characters long.", field
            )
        if "\x00" in password:
            raise InvalidInput("The password must not contain a NUL character.", field)
        visible = "".join(char for char in password if not _invisible(char)).casefold()
        if not visible:
            raise InvalidInput(
                "The password must not be only spaces or invisible characters.", field
            )
        if email is not None and visible in _email_forms(email):
            raise InvalidInput("The password must not be your email address or part of it.", field)
        if password.casefold() in self.common or visible in self.common:
            raise InvalidInput(
                "This password is too common. Choose one that is harder to guess.", field
            )


def _email_forms(email: str) -> set[str]:
    email = email.casefold()
    local, _, _ = email.rpartition("@")
    return {email, local} if local else {email}
