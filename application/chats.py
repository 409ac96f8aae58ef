"""Opening, listing, renaming and deleting chat sessions.

The callers come from ``IdentifyCaller``, which does not look the session up: every
query here carries the condition that the caller's session is live, so finding rows
proves it, and only finding none asks (``confirm_caller``): a logged-out session's or
a deleted user's token gets ``InvalidToken``, not a 404 or an empty list. Creating a
chat takes its owner from the live session, so a dead one cannot insert.
"""

from collections.abc import Callable
from datetime import timedelta
from uuid import UUID

from application.auth import confirm_caller
from application.idempotency import DEFAULT_IN_FLIGHT, claim_key, release_key
from application.ports import UnitOfWork
from application.snapshots import restore, snapshot
from domain.chats import Chat, TextLimits
from domain.errors import ChatNotFound
from domain.paging import Page, PageRequest
from domain.sessions import Caller


async def owned_chat(uow: UnitOfWork, chat_id: UUID, caller: Caller) -> Chat:
    """The caller's chat.

    ``ChatNotFound`` when it is missing or someone else's; ``InvalidToken`` when the
    caller's session ended or the user is gone (the lookup finds nothing then, so this
    is where it shows).
    """
    chat = await uow.chats.get_owned(chat_id, caller)
    if chat is None:
        await confirm_caller(uow, caller)
        raise ChatNotFound()
    return chat


class CreateChat:
    """Open a chat for a user.

    Rules: the title is trimmed, bounded, and defaults to "New chat"; a retry with
    the same Idempotency-Key and title returns the first chat, with another title
    it is refused (``IdempotencyKeyReused``), and while the first is still running it
    is told to retry (``IdempotencyKeyInFlight``); a failed request releases its key.
    """

    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        limits: TextLimits,
        in_flight_for: timedelta = DEFAULT_IN_FLIGHT,
    ) -> None:
        self._uow = uow
        self._limits = limits
        self._in_flight_for = in_flight_for

    async def execute(
        self, *, caller: Caller, title: str | None, idempotency_key: str | None = None
    ) -> Chat:
        user_id = caller.user_id
        chat = Chat(user_id=user_id, title=self._limits.title(title))
        claim = None
        try:
            async with self._uow() as uow:
                claimed = await claim_key(
                    uow, user_id, idempotency_key, self._in_flight_for, "create_chat", chat.title
                )
                if isinstance(claimed, str):
                    await confirm_caller(uow, caller)  # a retry is no way around a logout
                    return restore(Chat, claimed)
                claim = claimed
                await uow.chats.add(chat, caller)
                if claim is not None:
                    await uow.idempotency.complete(user_id, claim.key, snapshot(chat))
                await uow.commit()
        except BaseException:
            await release_key(self._uow, claim)
            raise
        return chat


class ListChats:
    """A page of the user's chats, most recently active first. Nobody sees another's."""

    def __init__(self, uow: Callable[[], UnitOfWork]) -> None:
        self._uow = uow

    async def execute(self, *, caller: Caller, page: PageRequest) -> Page[Chat]:
        async with self._uow() as uow:
            chats = await uow.chats.list_owned(caller, page)
            if not chats.items:
                await confirm_caller(uow, caller)
            return chats


class GetChat:
    """One chat of the user; someone else's is as missing as a missing one."""

    def __init__(self, uow: Callable[[], UnitOfWork]) -> None:
        self._uow = uow

    async def execute(self, *, caller: Caller, chat_id: UUID) -> Chat:
        async with self._uow() as uow:
            return await owned_chat(uow, chat_id, caller)


class RenameChat:
    """Give one of the user's chats a new title (same rules as at creation)."""

    def __init__(self, uow: Callable[[], UnitOfWork], limits: TextLimits) -> None:
        self._uow = uow
        self._limits = limits

    async def execute(self, *, caller: Caller, chat_id: UUID, title: str | None) -> Chat:
        async with self._uow() as uow:
            chat = await uow.chats.rename(chat_id, caller, self._limits.title(title))
            if chat is None:
                await confirm_caller(uow, caller)
                raise ChatNotFound()
            await uow.commit()
        return chat


class DeleteChat:
    """Delete one of the user's chats and every message in it."""

    def __init__(self, uow: Callable[[], UnitOfWork]) -> None:
        self._uow = uow

    async def execute(self, *, caller: Caller, chat_id: UUID) -> None:
        async with self._uow() as uow:
            if not await uow.chats.delete_owned(chat_id, caller):
                await confirm_caller(uow, caller)
                raise ChatNotFound()
            await uow.commit()
