"""The conversation inside one chat."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response, status

from domain.paging import Order
from entrypoints.http.dependencies import CallerFirstRoute, caller_of, get_container
from entrypoints.http.event_stream import (
    EVENT_STREAM,
    EVENT_STREAM_EXAMPLE,
    reply_stream,
    wants_event_stream,
)
from entrypoints.http.idempotency_key import OPENAPI_PARAMETER, idempotency_key_of
from entrypoints.http.paging import LINK_HEADER, Cursor, Limit, next_page_link, page_request
from entrypoints.http.problems import problems
from entrypoints.http.rendering import message_response, messages_response
from entrypoints.http.schemas import MessageCreate
from entrypoints.shapes import MessageResponse

# The busiest routes: the caller and the use case without FastAPI dependencies (see
# CallerFirstRoute); a token is checked first all the same.
router = APIRouter(
    prefix="/chats/{chat_id}/messages", tags=["messages"], route_class=CallerFirstRoute
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=MessageResponse,
    responses={
        201: {"description": "The assistant's reply, stored with the message (JSON)."},
        200: {
            "description": (
                "With `Accept: text/event-stream`: the reply as it is written. Zero or more "
                '`delta` events (`{"content": "<chunk>"}`), then one `done` event with '
                "the stored reply (as the 201 body), or one `error` event with a problem "
                "document if it failed after the stream began (nothing is stored then). "
                "Errors found before the stream are ordinary problem responses."
            ),
            "content": {
                EVENT_STREAM: {"schema": {"type": "string"}, "example": EVENT_STREAM_EXAMPLE}
            },
        },
        **problems(401, 404, 409, 413, 422, 503),
    },
    summary="Post a message; the assistant's reply comes back (JSON, or streamed)",
    openapi_extra={"parameters": [OPENAPI_PARAMETER]},  # read by idempotency_key_of
)
async def post_message(
    chat_id: UUID,
    body: MessageCreate,
    request: Request,
) -> Response:
    idempotency_key = idempotency_key_of(request)
    caller = caller_of(request)
    post = get_container(request).post_message()
    if wants_event_stream(request):
        exchange = await post.start(
            caller=caller, chat_id=chat_id, content=body.content, idempotency_key=idempotency_key
        )
        return reply_stream(exchange, request)
    reply = await post.execute(
        caller=caller, chat_id=chat_id, content=body.content, idempotency_key=idempotency_key
    )
    return message_response(reply, status.HTTP_201_CREATED)


@router.get(
    "",
    response_model=list[MessageResponse],
    responses={**LINK_HEADER, **problems(400, 401, 404, 422, 503)},
    summary="Read the conversation, a page at a time",
)
async def list_messages(
    chat_id: UUID,
    request: Request,
    limit: Limit = 100,
    cursor: Cursor = None,
    order: Annotated[
        Order,
        Query(description="`asc`: oldest first; `desc`: newest first, walking backwards."),
    ] = Order.ASC,
) -> Response:
    scope = f"messages:{chat_id}:{order.value}"
    list_messages = get_container(request).list_messages()
    page = await list_messages.execute(
        caller=caller_of(request),
        chat_id=chat_id,
        page=page_request(request, scope, limit, cursor, order),
    )
    return messages_response(page.items, next_page_link(request, scope, page.next))
