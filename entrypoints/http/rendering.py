"""Chat and message bodies written straight to JSON bytes by pydantic-core.

The routes still declare ``response_model`` (the OpenAPI document, and the schema
checks of the tests and the fuzzer, hold them to it) but hand FastAPI a finished
``Response``. Returning models instead makes FastAPI validate each of them again
before serialising: on a page of 50 messages that cost more than the query.
``tests/unit/test_rendering.py`` checks these bytes equal what the response models
themselves produce.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic_core import to_json
from starlette.responses import Response

from domain.chats import Chat, Message


def message_fields(message: Message) -> dict[str, Any]:
    """The fields of ``MessageResponse``, in its order."""
    return {
        "id": message.id,
        "chat_id": message.chat_id,
        "role": message.role.value,
        "content": message.content,
        "created_at": message.created_at,
    }


def chat_fields(chat: Chat) -> dict[str, Any]:
    """The fields of ``ChatResponse``, in its order."""
    return {
        "id": chat.id,
        "user_id": chat.user_id,
        "title": chat.title,
        "created_at": chat.created_at,
        "updated_at": chat.updated_at,
    }


def json_response(
    content: Mapping[str, Any] | Iterable[Mapping[str, Any]],
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body = to_json(content if isinstance(content, Mapping) else list(content))
    return Response(body, status_code, headers, media_type="application/json")


def message_response(message: Message, status_code: int = 200) -> Response:
    return json_response(message_fields(message), status_code)


def messages_response(messages: Iterable[Message], headers: Mapping[str, str]) -> Response:
    return json_response(map(message_fields, messages), headers=headers)


def chat_response(chat: Chat, status_code: int = 200) -> Response:
    return json_response(chat_fields(chat), status_code)


def chats_response(chats: Iterable[Chat], headers: Mapping[str, str]) -> Response:
    return json_response(map(chat_fields, chats), headers=headers)
