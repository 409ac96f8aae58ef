"""The operator's view: every account and chat, without the owner checks of the API.

These use cases are for trusted entrypoints only (the command line run on the
server); no HTTP route exposes them.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from application.ports import EmailRule, UnitOfWork
from domain.chats import Chat, Message
from domain.errors import ChatNotFound, UserNotFound
from domain.paging import Page, PageRequest
from domain.users import User


@dataclass(frozen=True, slots=True)
class UserSummary:
    """An account as the operator sees it: never the password hash."""

    id: UUID
    email: str
    created_at: datetime
    chat_count: int


@dataclass(frozen=True, slots=True)
class ChatOverview:
    chat: Chat
    owner_email: str
    message_count: int


class ListUsers:
    """A page of every account, oldest first unless asked otherwise, with its number of chats.

    Rules: operator only; no password hash leaves this use case; a count is read right
    after the page, so a chat opened meanwhile may already be in it.
    """

    def __init__(self, uow: Callable[[], UnitOfWork]) -> None:
        self._uow = uow

    async def execute(self, *, page: PageRequest) -> Page[UserSummary]:
        async with self._uow() as uow:
            users = await uow.users.list_all(page)
            counts = await uow.chats.count_by_user([user.id for user in users.items])
        summaries = [
            UserSummary(u.id, u.email, u.created_at, counts.get(u.id, 0)) for u in users.items
        ]
        return Page(summaries, users.next)


async def _user_by_email(uow: UnitOfWork, email: str, *, for_update: bool = False) -> User:
    """The account registered with ``email`` in its normalised form (``UserNotFound``)."""
    user = await uow.users.get_by_email(email, for_update=for_update)
    if user is None:
        raise UserNotFound()
    return user


class FindUserByEmail:
    """The account registered with an email, in its normalised form (``EmailRule``;
    ``InvalidInput`` when it is no address, ``UserNotFound`` when nobody has it)."""

    def __init__(self, uow: Callable[[], UnitOfWork], emails: EmailRule) -> None:
        self._uow = uow
        self._emails = emails

    async def execute(self, *, email: str) -> User:
        email = self._emails.normalize(email)
        async with self._uow() as uow:
            return await _user_by_email(uow, email)


class DeleteUser:
    """Erase an account and everything it owns, as the operator: no password asked.

    Rules: the account is found by email as in ``FindUserByEmail``; the lookup and
    the erasure are one transaction, the account locked from one to the other; the
    erased user is returned for the record.
    """

    def __init__(self, uow: Callable[[], UnitOfWork], emails: EmailRule) -> None:
        self._uow = uow
        self._emails = emails

    async def execute(self, *, email: str) -> User:
        email = self._emails.normalize(email)
        async with self._uow() as uow, uow.transaction():
            user = await _user_by_email(uow, email, for_update=True)
            await uow.users.delete(user.id)
            await uow.commit()
        return user


class GetChatAdmin:
    """Any user's chat, its owner's email and its number of messages.

    Rules: no owner check (the operator sees every chat); ``ChatNotFound`` when
    there is no such chat.
    """

    def __init__(self, uow: Callable[[], UnitOfWork]) -> None:
        self._uow = uow

    async def execute(self, *, chat_id: UUID) -> ChatOverview:
        async with self._uow() as uow:
            chat = await uow.chats.get(chat_id)
            owner = await uow.users.get(chat.user_id) if chat is not None else None
            if chat is None or owner is None:
                raise ChatNotFound()
            return ChatOverview(chat, owner.email, await uow.messages.count_in_chat(chat_id))


class ListMessagesAdmin:
    """A page of any user's chat, oldest first unless asked otherwise (``ChatNotFound``)."""

    def __init__(self, uow: Callable[[], UnitOfWork]) -> None:
        self._uow = uow

    async def execute(self, *, chat_id: UUID, page: PageRequest) -> Page[Message]:
        async with self._uow() as uow:
            if await uow.chats.get(chat_id) is None:
                raise ChatNotFound()
            return await uow.messages.list_in_chat(chat_id, page)
