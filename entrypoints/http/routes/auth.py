"""Registration, login, refresh and logout."""

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Response, status

from application.auth import LoginUser, RegisterUser
from application.password_reset import DeliverEmail, RequestPasswordReset, ResetPassword
from application.sessions import EndSession, RefreshSession, SessionTokens
from entrypoints.http.dependencies import ClientAddress, TokenUser, UserAgent, use_case
from entrypoints.http.problems import problems
from entrypoints.http.schemas import (
    PasswordResetAccepted,
    PasswordResetConfirm,
    PasswordResetRequest,
    RefreshRequest,
    TokenResponse,
    UserCreate,
    UserLogin,
)

router = APIRouter(prefix="/auth", tags=["auth"])


def _tokens(issued: SessionTokens) -> TokenResponse:
    return TokenResponse(
        access_token=issued.access.value,
        expires_in=issued.access.expires_in,
        refresh_token=issued.refresh.value,
        refresh_expires_in=issued.refresh.expires_in,
    )


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=TokenResponse,
    responses=problems(409, 413, 422, 429, 503),
    summary="Open an account and sign in (a new session)",
)
async def register(
    body: UserCreate,
    client: ClientAddress,
    user_agent: UserAgent,
    register_user: Annotated[RegisterUser, Depends(use_case(lambda c: c.register_user()))],
) -> TokenResponse:
    return _tokens(
        await register_user.execute(
            email=body.email, password=body.password, client=client, user_agent=user_agent
        )
    )


@router.post(
    "/login",
    response_model=TokenResponse,
    responses=problems(401, 413, 422, 429, 503),
    summary="Exchange email and password for a new session's tokens",
)
async def login(
    body: UserLogin,
    client: ClientAddress,
    user_agent: UserAgent,
    login_user: Annotated[LoginUser, Depends(use_case(lambda c: c.login_user()))],
) -> TokenResponse:
    return _tokens(
        await login_user.execute(
            email=body.email, password=body.password, client=client, user_agent=user_agent
        )
    )


@router.post(
    "/refresh",
    response_model=TokenResponse,
    responses=problems(401, 413, 422, 503),
    summary="Swap the refresh token for new tokens (the old one stops working)",
    description=(
        "Every refresh token works once. Presenting one that was already swapped is taken "
        "for a stolen copy: the whole session ends, its newest tokens too (401)."
    ),
)
async def refresh(
    body: RefreshRequest,
    refresh_session: Annotated[RefreshSession, Depends(use_case(lambda c: c.refresh_session()))],
) -> TokenResponse:
    return _tokens(await refresh_session.execute(refresh_token=body.refresh_token))


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(401, 503),
    summary="End this session: its access and refresh tokens stop working at once",
)
async def logout(
    caller: TokenUser,
    end_session: Annotated[EndSession, Depends(use_case(lambda c: c.end_session()))],
) -> Response:
    await end_session.execute(caller=caller)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/password-reset",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=PasswordResetAccepted,
    responses=problems(413, 422, 429, 503),
    summary="Ask for a password reset token by e-mail",
    description=(
        "Answers 202 with the same body whether or not the email has an account; a "
        "registered one gets an e-mail with a single-use token (sent after the answer). "
        "Limited per email and per client address (429). 503 when the server has no way "
        "to send e-mail."
    ),
)
async def request_password_reset(
    body: PasswordResetRequest,
    client: ClientAddress,
    background: BackgroundTasks,
    request_reset: Annotated[
        RequestPasswordReset, Depends(use_case(lambda c: c.request_password_reset()))
    ],
    deliver_email: Annotated[DeliverEmail, Depends(use_case(lambda c: c.deliver_email()))],
) -> PasswordResetAccepted:
    message = await request_reset.execute(email=body.email, client=client)
    background.add_task(deliver_email.execute, message=message)
    return PasswordResetAccepted()


@router.post(
    "/password-reset/confirm",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problems(400, 413, 422, 503),
    summary="Choose a new password with a reset token",
    description=(
        "204: the password is changed and every session of the account ends. 400: the "
        "token is unknown, expired, already used or superseded by a newer one. 422: the "
        "password is refused; the token stays usable."
    ),
)
async def confirm_password_reset(
    body: PasswordResetConfirm,
    reset_password: Annotated[ResetPassword, Depends(use_case(lambda c: c.reset_password()))],
) -> Response:
    await reset_password.execute(token=body.token, new_password=body.new_password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
