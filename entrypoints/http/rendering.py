"""Chat and message bodies written straight to JSON bytes by pydantic-core.

The routes still declare ``response_model`` (the OpenAPI document, and the schema
checks of the tests and the fuzzer, hold them to it) but hand FastAPI a finished
``Response``. Returning models instead makes FastAPI validate each of them again
before serialising: on a page of 50 messages that cost more than the query.
The fields come from the shapes (``entrypoints/shapes.py``), so a field added there
appears here too; ``tests/unit/test_rendering.py`` checks these bytes equal what the
shapes themselves produce.
"""

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pydantic_core import to_json
from starlette.responses import Response

from domain.chats import Chat, Message
from entrypoints.shapes import ChatResponse, MessageResponse, Shape


def _fields_of(shape: type[Shape]) -> Callable[[Any], dict[str, Any]]:
    """The attributes ``shape`` lists, read from an entity, in the shape's order."""
    names = tuple(shape.model_fields)

    def fields(entity: Any) -> dict[str, Any]:
        return {name: getattr(entity, name) for name in names}

    return fields


message_fields = _fields_of(MessageResponse)
chat_fields = _fields_of(ChatResponse)


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
