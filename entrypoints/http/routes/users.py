"""The caller's own account: profile, data export, erasure, password, sessions."""

from collections.abc import AsyncIterator
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Response, status
from fastapi.responses import StreamingResponse

from application.sessions import ListSessions, RevokeOtherSessions, RevokeSession
from application.users import ChangePassword, DeleteAccount, ExportUserData, GetProfile
from domain.chats import Chat, Message
from domain.users import User
from entrypoints.export import export_document
from entrypoints.http.dependencies import CurrentUser, use_case
from entrypoints.http.problems import problems
from entrypoints.http.schemas import AccountDelete, PasswordChange
from entrypoints.shapes import SessionResponse, UserResponse

router = APIRouter(prefix="/users/me", tags=["users"])


@router.get(
    "",
    response_model=UserResponse,
    responses=problems(401, 503),
    summary="My account",
)
async def me(
    caller: CurrentUser,
    get_profile: Annotated[GetProfile, Depends(use_case(lambda c: c.get_profile()))],
) -> UserResponse:
    return UserResponse.of(await get_profile.execute(user_id=caller.user_id))


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
    caller: CurrentUser,
    export_data: Annotated[ExportUserData, Depends(use_case(lambda c: c.export_user_data()))],
) -> StreamingResponse:
    items = export_data.execute(user_id=caller.user_id)
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
    caller: CurrentUser,
    delete_account: Annotated[DeleteAccount, Depends(use_case(lambda c: c.delete_account()))],
) -> Response:
    await delete_account.execute(user_id=caller.user_id, password=body.password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put(
    "/password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(401, 403, 413, 422, 503),
    summary="Change my password (every other session ends; this one goes on)",
)
async def change_password(
    body: PasswordChange,
    caller: CurrentUser,
    change: Annotated[ChangePassword, Depends(use_case(lambda c: c.change_password()))],
) -> Response:
    await change.execute(
        caller=caller, current_password=body.current_password, new_password=body.new_password
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/sessions",
    response_model=list[SessionResponse],
    responses=problems(401, 503),
    summary="Where I am signed in, most recently used first",
)
async def list_sessions(
    caller: CurrentUser,
    list_: Annotated[ListSessions, Depends(use_case(lambda c: c.list_sessions()))],
) -> list[SessionResponse]:
    return [
        SessionResponse.listed(session, current=session.id == caller.session_id)
        for session in await list_.execute(user_id=caller.user_id)
    ]


@router.delete(
    "/sessions/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(401, 404, 422, 503),
    summary="Sign out one of my sessions (a lost phone); its tokens stop working at once",
)
async def revoke_session(
    session_id: UUID,
    caller: CurrentUser,
    revoke: Annotated[RevokeSession, Depends(use_case(lambda c: c.revoke_session()))],
) -> Response:
    await revoke.execute(user_id=caller.user_id, session_id=session_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/sessions",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(401, 503),
    summary="Sign out everywhere else (every session but this one ends)",
)
async def revoke_other_sessions(
    caller: CurrentUser,
    revoke: Annotated[RevokeOtherSessions, Depends(use_case(lambda c: c.revoke_other_sessions()))],
) -> Response:
    await revoke.execute(user_id=caller.user_id, keep=caller.session_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
