"""The bytes the chat and message routes send are exactly what their response models make."""

import json
from datetime import UTC, datetime, timedelta, timezone

from pydantic import TypeAdapter

from domain.chats import Chat, Message, Role
from domain.ids import new_id
from entrypoints.http.rendering import (
    chat_response,
    chats_response,
    message_response,
    messages_response,
)
from entrypoints.shapes import ChatResponse, MessageResponse

# Odd on purpose: a non-UTC offset, microseconds, non-ASCII and characters JSON escapes.
_AT = datetime(2026, 11, 24, 3, 4, 5, 678901, tzinfo=timezone(timedelta(hours=5, minutes=30)))
_TEXT = 'Grüße, "quotes", back\\slash, tab\t, newline\n, emoji 🦊, <script>'


def _chat() -> Chat:
    return Chat(user_id=new_id(), title=_TEXT, created_at=_AT, updated_at=datetime.now(UTC))


def _message(role: Role) -> Message:
    return Message(chat_id=new_id(), user_id=new_id(), role=role, content=_TEXT, created_at=_AT)


def test_a_message_renders_as_its_response_model() -> None:
    message = _message(Role.ASSISTANT)
    expected = MessageResponse.of(message).model_dump_json()
    response = message_response(message, 201)
    assert response.body == expected.encode()
    assert response.status_code == 201
    assert response.media_type == "application/json"


def test_a_page_of_messages_renders_as_a_list_of_response_models() -> None:
    page = [_message(Role.USER), _message(Role.ASSISTANT)]
    models = [MessageResponse.of(m) for m in page]
    response = messages_response(page, {"Link": '<http://x/?cursor=a>; rel="next"'})
    assert response.body == TypeAdapter(list[MessageResponse]).dump_json(models)
    assert response.headers["link"] == '<http://x/?cursor=a>; rel="next"'
    assert [item["role"] for item in json.loads(bytes(response.body))] == ["user", "assistant"]


def test_a_chat_renders_as_its_response_model() -> None:
    chat = _chat()
    expected = ChatResponse.of(chat).model_dump_json()
    assert chat_response(chat).body == expected.encode()


def test_a_list_of_chats_renders_as_a_list_of_response_models_and_empty_as_empty() -> None:
    chats = [_chat(), _chat()]
    models = [ChatResponse.of(c) for c in chats]
    assert chats_response(chats, {}).body == TypeAdapter(list[ChatResponse]).dump_json(models)
    assert chats_response([], {}).body == b"[]"
    assert "link" not in chats_response([], {}).headers
