"""FastAPI dependencies: the container's use cases, the caller, the client address."""

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar
from uuid import UUID

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from domain.errors import InvalidToken
from entrypoints.container import Container
from entrypoints.http.client_address import client_address

T = TypeVar("T")

_bearer = HTTPBearer(auto_error=False, description="The access token from /auth/login.")


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def use_case(resolve: Callable[[Container], T]) -> Callable[[Request], Awaitable[T]]:
    """A dependency that hands a route one use case from the app's container.

    ``async`` although it never awaits: FastAPI runs a plain ``def`` dependency in a
    worker thread, and that hop cost more than the rest of a short request.
    """

    async def dependency(request: Request) -> T:
        return resolve(get_container(request))

    return dependency


async def get_current_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> UUID:
    """The id of the user whose bearer token came with the request (401 otherwise)."""
    if credentials is None:
        raise InvalidToken("Missing bearer token.")
    user_id = (
        await get_container(request).authenticate_user().execute(token=credentials.credentials)
    )
    request.state.user_id = user_id  # for the access log
    return user_id


async def get_token_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> UUID:
    """The id a valid bearer token speaks for, without looking the user up (401 otherwise).

    Only for routes whose use case confirms the user exists itself (``IdentifyCaller``,
    ``confirm_caller``): the chat and message routes. A deleted user's token still gets
    401 there (tests/e2e/test_deleted_user_token.py), one round trip cheaper.
    """
    if credentials is None:
        raise InvalidToken("Missing bearer token.")
    user_id = get_container(request).identify_caller().execute(token=credentials.credentials)
    request.state.user_id = user_id  # for the access log
    return user_id


async def get_client_address(request: Request) -> str | None:  # async: no thread hop
    return client_address(request, request.app.state.trusted_proxies)


CurrentUser = Annotated[UUID, Depends(get_current_user)]
TokenUser = Annotated[UUID, Depends(get_token_user)]
ClientAddress = Annotated[str | None, Depends(get_client_address)]
