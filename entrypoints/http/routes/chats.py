"""Chat sessions of the calling user."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Request, Response, status

from application.chats import CreateChat, DeleteChat, GetChat, ListChats, RenameChat
from entrypoints.http.dependencies import TokenUser, use_case
from entrypoints.http.idempotency_key import IdempotencyKey
from entrypoints.http.paging import LINK_HEADER, Cursor, Limit, next_page_link, page_request
from entrypoints.http.problems import problems
from entrypoints.http.rendering import chat_response, chats_response
from entrypoints.http.schemas import ChatCreate, ChatUpdate
from entrypoints.shapes import ChatResponse

router = APIRouter(prefix="/chats", tags=["chats"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ChatResponse,
    responses=problems(401, 413, 422, 503),
    summary="Open a new chat",
)
async def create_chat(
    body: ChatCreate,
    caller: TokenUser,
    create: Annotated[CreateChat, Depends(use_case(lambda c: c.create_chat()))],
    idempotency_key: IdempotencyKey = None,
) -> Response:
    chat = await create.execute(caller=caller, title=body.title, idempotency_key=idempotency_key)
    return chat_response(chat, status.HTTP_201_CREATED)


@router.get(
    "",
    response_model=list[ChatResponse],
    responses={**LINK_HEADER, **problems(400, 401, 422, 503)},
    summary="List my chats, most recently active first",
)
async def list_chats(
    request: Request,
    caller: TokenUser,
    list_: Annotated[ListChats, Depends(use_case(lambda c: c.list_chats()))],
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Response:
    scope = f"chats:{caller.user_id}"
    page = await list_.execute(caller=caller, page=page_request(request, scope, limit, cursor))
    return chats_response(page.items, next_page_link(request, scope, page.next))


@router.get(
    "/{chat_id}",
    response_model=ChatResponse,
    responses=problems(401, 404, 422, 503),
    summary="One of my chats",
)
async def get_chat(
    chat_id: UUID,
    caller: TokenUser,
    get: Annotated[GetChat, Depends(use_case(lambda c: c.get_chat()))],
) -> Response:
    return chat_response(await get.execute(caller=caller, chat_id=chat_id))


@router.patch(
    "/{chat_id}",
    response_model=ChatResponse,
    responses=problems(401, 404, 413, 422, 503),
    summary="Rename one of my chats",
)
async def rename_chat(
    chat_id: UUID,
    body: ChatUpdate,
    caller: TokenUser,
    rename: Annotated[RenameChat, Depends(use_case(lambda c: c.rename_chat()))],
) -> Response:
    return chat_response(await rename.execute(caller=caller, chat_id=chat_id, title=body.title))


@router.delete(
    "/{chat_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(401, 404, 422, 503),
    summary="Delete one of my chats and its messages",
)
async def delete_chat(
    chat_id: UUID,
    caller: TokenUser,
    delete: Annotated[DeleteChat, Depends(use_case(lambda c: c.delete_chat()))],
) -> Response:
    await delete.execute(caller=caller, chat_id=chat_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
