"""The user-data export document, shared by ``GET /users/me/export`` and ``memory-agent export``."""

from collections.abc import AsyncIterator

from domain.chats import Chat, Message
from domain.users import User
from entrypoints.shapes import ChatResponse, MessageResponse, UserResponse


def _json(model: UserResponse | ChatResponse | MessageResponse) -> str:
    return model.model_dump_json()


async def export_document(items: AsyncIterator[User | Chat | Message]) -> AsyncIterator[str]:
    """``{"user": ..., "chats": [{..., "messages": [...]}, ...]}``, written as it is read."""
    in_chat = False
    first_chat = True
    first_message = True
    async for item in items:
        if isinstance(item, User):
            yield '{"user":' + _json(UserResponse.of(item)) + ',"chats":['
        elif isinstance(item, Chat):
            chat = ChatResponse.of(item).model_dump_json()
            yield (
                ("]}" if in_chat else "")
                + ("" if first_chat else ",")
                + chat[:-1]
                + ',"messages":['
            )
            in_chat, first_chat, first_message = True, False, True
        else:
            yield ("" if first_message else ",") + _json(MessageResponse.of(item))
            first_message = False
    yield ("]}" if in_chat else "") + "]}"
