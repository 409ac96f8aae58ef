"""Talking in a chat: posting a message and reading the conversation."""

from collections.abc import Callable
from uuid import UUID

from application.chats import owned_chat
from application.idempotency import earlier_result
from application.ports import AssistantResponder, UnitOfWork
from application.snapshots import message_from_json, message_to_json
from domain.chats import Message, Role, TextLimits
from domain.paging import Page, PageRequest


class PostMessage:
    """Store the user's message and the assistant's reply; return the reply.

    Rules: only the chat's owner may post (anyone else gets ``ChatNotFound``, a
    deleted user ``InvalidToken``, and nothing is stored); the content holds
    something besides white space and is bounded; the message and its reply are
    written in one transaction, never one without the other; the chat's
    ``updated_at`` moves to the reply's time; a retry with the same Idempotency-Key
    and content returns the first reply unchanged.
    """

    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        assistant: AssistantResponder,
        limits: TextLimits,
    ) -> None:
        self._uow = uow
        self._assistant = assistant
        self._limits = limits

    async def execute(
        self,
        *,
        user_id: UUID,
        chat_id: UUID,
        content: str,
        idempotency_key: str | None = None,
    ) -> Message:
        content = self._limits.content(content)
        async with self._uow() as uow:
            earlier = await earlier_result(
                uow, user_id, idempotency_key, "post_message", chat_id, content
            )
            if earlier is not None:
                return message_from_json(earlier)
            chat = await owned_chat(uow, chat_id, user_id)
            question = Message(chat_id=chat_id, user_id=user_id, role=Role.USER, content=content)
            answer = Message(
                chat_id=chat_id,
                user_id=user_id,
                role=Role.ASSISTANT,
                content=await self._assistant.reply(chat, question),
            )
            await uow.messages.add_many([question, answer])
            await uow.chats.touch(chat_id, answer.created_at)
            if idempotency_key is not None:
                await uow.idempotency.complete(user_id, idempotency_key, message_to_json(answer))
            await uow.commit()
        return answer


class ListMessages:
    """A page of one of the user's chats, oldest first unless asked otherwise."""

    def __init__(self, uow: Callable[[], UnitOfWork]) -> None:
        self._uow = uow

    async def execute(self, *, user_id: UUID, chat_id: UUID, page: PageRequest) -> Page[Message]:
        async with self._uow() as uow:
            # One statement in the common case: the page, on condition of ownership.
            found = await uow.messages.list_in_chat(chat_id, page, owner=user_id)
            if not found.items:
                await owned_chat(uow, chat_id, user_id)  # 404, 401, or just an empty page
            return found
