"""Password rules after NIST SP 800-63B: length and a blocklist, no composition rules."""

from dataclasses import dataclass, field

from domain.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    min_chars: int = 8
    max_chars: int = 128
    common: frozenset[str] = field(default_factory=frozenset)

    def check(self, password: str) -> None:
        """Raise ``InvalidInput`` with a message a person can act on."""
        if len(password) < self.min_chars:
            raise InvalidInput(f"The password must be at least {self.min_chars} characters long.")
        if len(password) > self.max_chars:
            raise InvalidInput(f"The password must be at most {self.max_chars} characters long.")
        if "\x00" in password:
            raise InvalidInput("The password must not contain a NUL character.")
        if password.lower() in self.common:
            raise InvalidInput("This password is too common. Choose one that is harder to guess.")
