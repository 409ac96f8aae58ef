"""The caller's own account: profile, data export, erasure."""

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response, status
from fastapi.responses import StreamingResponse

from application.users import DeleteAccount, ExportUserData, GetProfile
from domain.chats import Chat, Message
from domain.users import User
from entrypoints.export import export_document
from entrypoints.http.dependencies import CurrentUser, use_case
from entrypoints.http.problems import problems
from entrypoints.http.schemas import AccountDelete
from entrypoints.shapes import UserResponse

router = APIRouter(prefix="/users/me", tags=["users"])


@router.get(
    "",
    response_model=UserResponse,
    responses=problems(401, 503),
    summary="My account",
)
async def me(
    user_id: CurrentUser,
    get_profile: Annotated[GetProfile, Depends(use_case(lambda c: c.get_profile()))],
) -> UserResponse:
    return UserResponse.of(await get_profile.execute(user_id=user_id))


EXPORT_EXAMPLE: dict[str, Any] = {
    "user": {"id": "…", "email": "ada@example.com", "created_at": "…"},
    "chats": [{"id": "…", "title": "New chat", "messages": [{"role": "user", "content": "…"}]}],
}


@router.get(
    "/export",
    responses={
        200: {
            "description": "Everything I own, as one JSON document (streamed).",
            "content": {"application/json": {"example": EXPORT_EXAMPLE}},
        },
        **problems(401, 503),
    },
    response_class=StreamingResponse,
    summary="Download all my data",
)
async def export(
    user_id: CurrentUser,
    export_data: Annotated[ExportUserData, Depends(use_case(lambda c: c.export_user_data()))],
) -> StreamingResponse:
    items = export_data.execute(user_id=user_id)
    # Read the first item before answering, so a failure still gets a proper error status.
    first = await anext(items)

    async def everything() -> AsyncIterator[User | Chat | Message]:
        yield first
        async for item in items:
            yield item

    return StreamingResponse(
        export_document(everything()),
        media_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="memory-agent-export.json"'},
    )


@router.delete(
    "",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(401, 403, 413, 422, 503),
    summary="Erase my account and everything in it (password required)",
)
async def delete_me(
    body: AccountDelete,
    user_id: CurrentUser,
    delete_account: Annotated[DeleteAccount, Depends(use_case(lambda c: c.delete_account()))],
) -> Response:
    await delete_account.execute(user_id=user_id, password=body.password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
