"""The account holder's own data: profile, export, erasure."""

from collections.abc import AsyncIterator, Callable
from uuid import UUID

from application.ports import PasswordHasher, UnitOfWork
from domain.chats import Chat, Message
from domain.errors import UserNotFound, WrongPassword
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
    """

    def __init__(self, uow: Callable[[], UnitOfWork]) -> None:
        self._uow = uow

    async def execute(self, *, user_id: UUID) -> AsyncIterator[User | Chat | Message]:
        async with self._uow() as uow:
            user = await uow.users.get(user_id)
            if user is None:
                raise UserNotFound()
            yield user
            async for chat in uow.chats.iter_owned(user_id):
                yield chat
                async for message in uow.messages.iter_in_chat(chat.id):
                    yield message


class DeleteAccount:
    """Erase the user and everything they own, in one transaction.

    Rules: the current password must be re-entered (``WrongPassword``
    otherwise); once done, the user's tokens no longer authenticate.
    """

    def __init__(self, uow: Callable[[], UnitOfWork], hasher: PasswordHasher) -> None:
        self._uow = uow
        self._hasher = hasher

    async def execute(self, *, user_id: UUID, password: str) -> None:
        async with self._uow() as uow:
            user = await uow.users.get(user_id)
        if user is None:
            raise UserNotFound()
        valid, _ = await self._hasher.verify(password, user.password_hash)
        if not valid:
            raise WrongPassword()
        async with self._uow() as uow:
            await uow.users.delete(user_id)
            await uow.commit()
