"""The account holder's own data: profile, export, erasure, password."""

from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from uuid import UUID

from application.password_check import PasswordCheck, install_password
from application.ports import PasswordHasher, UnitOfWork
from domain.chats import Chat, Message
from domain.errors import InvalidToken, UserNotFound, WrongPassword
from domain.paging import Order, PageRequest
from domain.passwords import PasswordPolicy, normalize_password
from domain.sessions import Caller
from domain.users import User


class GetProfile:
    """The user's own account (never the password hash beyond this layer)."""

    def __init__(self, uow: Callable[[], UnitOfWork]) -> None:
        self._uow = uow

    async def execute(self, *, user_id: UUID) -> User:
        async with self._uow() as uow:
            user = await uow.users.get(user_id)
        if user is None:
            raise UserNotFound()
        return user


class ExportUserData:
    """Everything the user owns, streamed.

    Yields the ``User`` first, then each ``Chat`` (oldest first) followed by its
    messages (oldest first), so a large account never sits in memory at once.

    Rules: read in keyset pages, one short unit of work per page, so a connection is
    held only while a page is read, never while a slow client downloads. So it is
    not a snapshot: a message posted while the export runs may or may not be in it.
    """

    def __init__(self, uow: Callable[[], UnitOfWork], page_size: int = 500) -> None:
        self._uow = uow
        self._page_size = page_size

    async def execute(self, *, user_id: UUID) -> AsyncIterator[User | Chat | Message]:
        async with self._uow() as uow:
            user = await uow.users.get(user_id)
        if user is None:
            raise UserNotFound()
        yield user
        chats = PageRequest(limit=self._page_size)
        while True:
            async with self._uow() as uow:
                page = await uow.chats.list_owned_oldest_first(user_id, chats)
            for chat in page.items:
                yield chat
                async for message in self._messages(chat.id):
                    yield message
            if page.next is None:
                return
            chats = replace(chats, after=page.next)

    async def _messages(self, chat_id: UUID) -> AsyncIterator[Message]:
        messages = PageRequest(limit=self._page_size, order=Order.ASC)
        while True:
            async with self._uow() as uow:
                page = await uow.messages.list_in_chat(chat_id, messages)
            for message in page.items:
                yield message
            if page.next is None:
                return
            messages = replace(messages, after=page.next)


class DeleteAccount:
    """Erase the user and everything they own, in one transaction.

    Rules: the current password must be re-entered (``WrongPassword``
    otherwise), under the account's failure limit (``PasswordCheck``: past it,
    ``TooManyAttempts`` before any hashing); once done, the user's tokens no longer
    authenticate.
    """

    def __init__(self, uow: Callable[[], UnitOfWork], passwords: PasswordCheck) -> None:
        self._uow = uow
        self._passwords = passwords

    async def execute(self, *, user_id: UUID, password: str) -> None:
        async with self._uow() as uow:
            user = await uow.users.get(user_id)
        if user is None:
            raise UserNotFound()
        if not await self._passwords.verify(email=user.email, password=password, user=user):
            raise WrongPassword()
        async with self._uow() as uow:
            await uow.users.delete(user_id)
            await uow.commit()


class ChangePassword:
    """Replace the caller's password, knowing the current one.

    Rules: the new password passes the policy (``InvalidInput``); the current one must
    be re-entered (``WrongPassword`` otherwise), under the account's failure limit
    (``PasswordCheck``: past it, ``TooManyAttempts`` before any hashing); only a hash
    of the new one, normalised (NFKC), is stored; the caller's session goes on and
    every other session of the user ends, so a thief signed in elsewhere is out.
    Hashing runs outside any transaction.
    """

    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        passwords: PasswordCheck,
        hasher: PasswordHasher,
        policy: PasswordPolicy,
    ) -> None:
        self._uow = uow
        self._passwords = passwords
        self._hasher = hasher
        self._policy = policy

    async def execute(self, *, caller: Caller, current_password: str, new_password: str) -> None:
        async with self._uow() as uow:
            user = await uow.users.get(caller.user_id)
        if user is None:
            raise InvalidToken()
        self._policy.check(new_password, email=user.email)
        if not await self._passwords.verify(email=user.email, password=current_password, user=user):
            raise WrongPassword()
        new_hash = await self._hasher.hash(normalize_password(new_password))
        async with self._uow() as uow:
            await uow.users.update_password_hash(user.id, new_hash)
            await uow.sessions.revoke_all(user.id, except_session=caller.session_id)
            await uow.commit()


class SetPassword:
    """Give a user a new password without the old one (the operator, at the command line).

    Rules: the password passes the policy (``InvalidInput``); only a hash of it,
    normalised (NFKC), is stored; every session of the user ends, so they sign in
    again with the new password; the account's failed password checks are forgiven
    (a locked account opens).
    """

    def __init__(
        self, uow: Callable[[], UnitOfWork], hasher: PasswordHasher, policy: PasswordPolicy
    ) -> None:
        self._uow = uow
        self._hasher = hasher
        self._policy = policy

    async def execute(self, *, user_id: UUID, password: str) -> None:
        async with self._uow() as uow:
            user = await uow.users.get(user_id)
        if user is None:
            raise UserNotFound()
        self._policy.check(password, email=user.email)
        new_hash = await self._hasher.hash(normalize_password(password))
        async with self._uow() as uow:
            await install_password(uow, user, new_hash)
            await uow.commit()
