"""Talking in a chat: posting a message and reading the conversation."""

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from uuid import UUID

from application.chats import owned_chat
from application.idempotency import DEFAULT_IN_FLIGHT, Claim, claim_key, release_key
from application.ports import AssistantResponder, UnitOfWork
from application.snapshots import restore, snapshot
from domain.chats import Chat, Message, Role, TextLimits
from domain.paging import Page, PageRequest
from domain.sessions import Caller


class Exchange:
    """A reply on its way: its text as it comes (``chunks``), then the stored answer.

    The reply is obtained and stored by a task of its own, so whoever listens may
    stop listening (a client that disconnected) without losing anything: the
    exchange is stored when the reply is complete. A replayed exchange (same
    Idempotency-Key) has no chunks, only the answer stored the first time.
    """

    def __init__(
        self, answer: "asyncio.Future[Message]", chunks: "asyncio.Queue[str | None]"
    ) -> None:
        self._answer = answer
        self._chunks = chunks

    @classmethod
    def replayed(cls, answer: Message) -> "Exchange":
        done: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        done.set_result(answer)
        chunks: asyncio.Queue[str | None] = asyncio.Queue()
        chunks.put_nowait(None)
        return cls(done, chunks)

    async def chunks(self, *, idle: float | None = None) -> AsyncIterator[str | None]:
        """The reply's chunks in order; with ``idle``, None after that many quiet seconds."""
        while True:
            try:
                chunk = await asyncio.wait_for(self._chunks.get(), idle)
            except TimeoutError:
                yield None
                continue
            if chunk is None:
                return
            yield chunk

    async def answer(self) -> Message:
        """The stored reply once it is stored; raises what stopped it."""
        # Shielded: a caller cancelled while waiting (a client gone) does not stop it.
        return await asyncio.shield(self._answer)


class PostMessage:
    """Store the user's message and the assistant's reply; return the reply.

    Rules: only the chat's owner may post (anyone else gets ``ChatNotFound``, a
    logged-out session or a deleted user ``InvalidToken``, and nothing is stored); the content holds
    something besides white space and is bounded; no database connection is held
    while the assistant answers; the message and its reply are written together in
    one transaction once the reply is complete, never one without the other, and
    not at all when the assistant fails or the chat is deleted meanwhile
    (``ChatNotFound``); the chat's ``updated_at`` moves to the reply's time; a retry
    with the same Idempotency-Key and content returns the first reply unchanged, or
    ``IdempotencyKeyInFlight`` while the first is still running; a failed request
    releases its key.
    """

    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        assistant: AssistantResponder,
        limits: TextLimits,
        in_flight_for: timedelta = DEFAULT_IN_FLIGHT,
    ) -> None:
        self._uow = uow
        self._assistant = assistant
        self._limits = limits
        self._in_flight_for = in_flight_for
        # Tasks are only weakly referenced by the event loop: keep the running ones.
        self._running: set[asyncio.Task[Message]] = set()

    async def execute(
        self,
        *,
        caller: Caller,
        chat_id: UUID,
        content: str,
        idempotency_key: str | None = None,
    ) -> Message:
        exchange = await self.start(
            caller=caller, chat_id=chat_id, content=content, idempotency_key=idempotency_key
        )
        return await exchange.answer()

    async def start(
        self,
        *,
        caller: Caller,
        chat_id: UUID,
        content: str,
        idempotency_key: str | None = None,
    ) -> Exchange:
        """Check everything that can be checked up front, then set the reply going.

        Every error of the checks (not the owner, key reused or in flight, database
        away) is raised here, before anything streams.
        """
        content = self._limits.content(content)
        async with self._uow() as uow:
            chat = await owned_chat(uow, chat_id, caller)
            claimed = await claim_key(
                uow,
                caller.user_id,
                idempotency_key,
                self._in_flight_for,
                "post_message",
                chat_id,
                content,
            )
        if isinstance(claimed, str):
            return Exchange.replayed(restore(Message, claimed))
        question = Message(chat_id=chat_id, user_id=caller.user_id, role=Role.USER, content=content)
        chunks: asyncio.Queue[str | None] = asyncio.Queue()
        task = asyncio.create_task(self._reply_and_store(chat, question, claimed, chunks))
        self._running.add(task)
        task.add_done_callback(self._finished)
        return Exchange(task, chunks)

    async def _reply_and_store(
        self,
        chat: Chat,
        question: Message,
        claim: Claim | None,
        chunks: "asyncio.Queue[str | None]",
    ) -> Message:
        try:
            parts: list[str] = []
            async for chunk in self._assistant.reply(chat, question):
                parts.append(chunk)
                chunks.put_nowait(chunk)
            answer = Message(
                chat_id=chat.id,
                user_id=question.user_id,
                role=Role.ASSISTANT,
                content="".join(parts),
            )
            async with self._uow() as uow:
                await uow.messages.append([question, answer])
                if claim is not None:
                    await uow.idempotency.complete(claim.user_id, claim.key, snapshot(answer))
                await uow.commit()
        except BaseException:
            await release_key(self._uow, claim)
            raise
        finally:
            chunks.put_nowait(None)
        return answer

    async def finish_replies(self) -> None:
        """Wait for replies still being written (their clients may be gone) to be stored:
        at shutdown, before the pool closes; the caller bounds the wait."""
        if self._running:
            await asyncio.wait(set(self._running))

    def _finished(self, task: "asyncio.Task[Message]") -> None:
        self._running.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: nobody may be left to await a failed reply


class ListMessages:
    """A page of one of the user's chats, oldest first unless asked otherwise."""

    def __init__(self, uow: Callable[[], UnitOfWork]) -> None:
        self._uow = uow

    async def execute(self, *, caller: Caller, chat_id: UUID, page: PageRequest) -> Page[Message]:
        async with self._uow() as uow:
            # One statement in the common case: the page, on condition of ownership and
            # of a live session.
            found = await uow.messages.list_in_chat(chat_id, page, owner=caller)
            if not found.items:
                await owned_chat(uow, chat_id, caller)  # 404, 401, or just an empty page
            return found
