"""The assistant until a real model plugs into the ``AssistantResponder`` port."""

from collections.abc import AsyncIterator

from domain.chats import Chat, Message

PLACEHOLDER_REPLY = "Message received"


class PlaceholderAssistant:
    async def reply(self, chat: Chat, message: Message) -> AsyncIterator[str]:
        yield PLACEHOLDER_REPLY
