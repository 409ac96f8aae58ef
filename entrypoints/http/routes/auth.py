"""Registration and login."""

from typing import Annotated

from fastapi import APIRouter, Depends, status

from application.auth import LoginUser, RegisterUser
from application.ports import IssuedToken
from entrypoints.http.dependencies import ClientAddress, use_case
from entrypoints.http.problems import problems
from entrypoints.http.schemas import TokenResponse, UserCreate, UserLogin

router = APIRouter(prefix="/auth", tags=["auth"])


def _token(issued: IssuedToken) -> TokenResponse:
    return TokenResponse(access_token=issued.value, expires_in=issued.expires_in)


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=TokenResponse,
    responses=problems(409, 413, 422, 429, 503),
    summary="Open an account and get an access token",
)
async def register(
    body: UserCreate,
    client: ClientAddress,
    register_user: Annotated[RegisterUser, Depends(use_case(lambda c: c.register_user()))],
) -> TokenResponse:
    return _token(
        await register_user.execute(email=body.email, password=body.password, client=client)
    )


@router.post(
    "/login",
    response_model=TokenResponse,
    responses=problems(401, 413, 422, 429, 503),
    summary="Exchange email and password for an access token",
)
async def login(
    body: UserLogin,
    client: ClientAddress,
    login_user: Annotated[LoginUser, Depends(use_case(lambda c: c.login_user()))],
) -> TokenResponse:
    return _token(await login_user.execute(email=body.email, password=body.password, client=client))
