"""Every verification of an account's password, under one failure limit per account."""

from collections.abc import Callable

from application.attempts import reserve_attempt
from application.ports import PasswordHasher, UnitOfWork
from domain.passwords import normalize_password
from domain.throttling import Limit
from domain.users import User


def account_subject(email: str) -> str:
    """The throttle subject of one account's password, whichever route checks it."""
    return f"account:{email}"


def client_subject(client: str) -> str:
    return f"login-client:{client}"


async def install_password(uow: UnitOfWork, user: User, password_hash: str) -> None:
    """Give ``user`` a password they did not prove with the old one (a reset by e-mail,
    the operator): the new hash, every session ended, and the account's failed checks
    forgiven, so an account locked by someone's guesses opens for its owner. The caller
    commits."""
    await uow.users.update_password_hash(user.id, password_hash)
    await uow.sessions.revoke_all(user.id)
    await uow.attempts.clear(account_subject(user.email))


class PasswordCheck:
    """Verify a password (login, account deletion, password change), counted before it runs.

    Rules: every verification of an account's password counts against one limit per
    account (``per_account``, keyed by its normalised email, so an unknown email is
    limited too) and, when the caller's address is known, one per address
    (``per_client``). The attempt is counted before any hashing: past either limit the
    answer is ``TooManyAttempts`` without verifying, for the right password as for a
    wrong one, until the window ends. A wrong password stays counted; the right one
    clears the account's count and takes its attempt back from the address's. An
    unknown account costs the time of a verification all the same. A hash with
    outdated parameters (or a bcrypt one) is replaced when the password matches, and
    so is one made before passwords were normalised (NFKC).
    """

    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        hasher: PasswordHasher,
        per_account: Limit,
        per_client: Limit,
    ) -> None:
        self._uow = uow
        self._hasher = hasher
        self._per_account = per_account
        self._per_client = per_client

    async def count_attempt(self, *, email: str, client: str | None = None) -> None:
        """Count an attempt that fails before any verification (e.g. a malformed email)."""
        await reserve_attempt(self._uow, self._checks(email, client))

    async def verify(
        self, *, email: str, password: str, user: User | None, client: str | None = None
    ) -> bool:
        """Whether ``password`` is ``user``'s (False for no user, after the same work).

        ``email`` is the normalised address the caller named (``user.email`` when the
        account is known); ``TooManyAttempts`` before any hashing when past a limit.
        """
        await reserve_attempt(self._uow, self._checks(email, client))
        normalized = normalize_password(password)
        # Hashes made before passwords were normalised hold the password as typed: when
        # normalising changes it, that form is tried too (and the hash replaced).
        forms = [normalized] if normalized == password else [normalized, password]
        if user is None:
            for form in forms:  # as much work as for a known account
                await self._hasher.burn(form)
            return False
        valid, new_hash = await self._hasher.verify(normalized, user.password_hash)
        if not valid and len(forms) > 1:
            valid, _ = await self._hasher.verify(password, user.password_hash)
            new_hash = await self._hasher.hash(normalized) if valid else None
        if not valid:
            return False
        counted = [subject for subject, limit in self._checks(email, client) if limit.enabled]
        if new_hash is not None or counted:
            async with self._uow() as uow:
                if new_hash is not None:
                    await uow.users.update_password_hash(user.id, new_hash)
                for subject in counted:
                    if subject == account_subject(email):
                        await uow.attempts.clear(subject)
                    else:
                        await uow.attempts.release(subject)
                await uow.commit()
        return True

    def _checks(self, email: str, client: str | None) -> list[tuple[str, Limit]]:
        checks = [(account_subject(email), self._per_account)]
        if client:
            checks.append((client_subject(client), self._per_client))
        return checks
