"""FastAPI dependencies: the container's use cases, the caller, the client address."""

from collections.abc import Awaitable, Callable, Coroutine
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param

from domain.errors import InvalidToken
from domain.sessions import Caller
from entrypoints.container import Container
from entrypoints.http.client_address import client_address

T = TypeVar("T")

USER_AGENT_CHARS = 400  # the column's width; the rest says nothing a person needs


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


class BearerCaller(HTTPBearer):
    """The user and session whose valid bearer token came with the request (401 otherwise).

    A security scheme itself, so the OpenAPI document shows the bearer requirement, and
    one dependency where the scheme plus a function were two: FastAPI's cost per
    dependency showed on the busiest routes.

    ``look_up_user=False`` trusts the token without a query. Only for routes whose use
    case confirms the session is live itself, in the statements it runs anyway
    (``IdentifyCaller``, ``confirm_caller``): the chat and message routes. A logged-out
    session's or a deleted user's token still gets 401 there
    (tests/e2e/test_deleted_user_token.py, test_sessions_api.py), one round trip cheaper.
    """

    def __init__(self, *, look_up_user: bool) -> None:
        super().__init__(
            scheme_name="HTTPBearer",
            description="The access token from /auth/login.",
            auto_error=False,
        )
        self._look_up_user = look_up_user

    async def __call__(self, request: Request) -> Caller:  # type: ignore[override]
        if not self._look_up_user:
            return identify_caller(request)
        token = bearer_token(request)
        if token is None:
            raise InvalidToken("Missing bearer token.")
        caller = await get_container(request).authenticate_user().execute(token=token)
        request.state.user_id = caller.user_id  # for the access log
        return caller


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, read as HTTPBearer reads it."""
    authorization = request.headers.get("Authorization")
    scheme, token = get_authorization_scheme_param(authorization)
    if not (authorization and scheme and token) or scheme.lower() != "bearer":
        return None
    return token


def identify_caller(request: Request) -> Caller:
    """The caller a valid bearer token names, trusted without a query (see ``BearerCaller``)."""
    token = bearer_token(request)
    if token is None:
        raise InvalidToken("Missing bearer token.")
    caller = get_container(request).identify_caller().execute(token=token)
    request.state.user_id = caller.user_id  # for the access log
    return caller


class CallerFirstRoute(APIRoute):
    """A route that identifies its caller as ``TokenUser`` does, before FastAPI reads
    anything else of the request: a request without a valid token is 401, whatever
    else is wrong with it.

    For the busiest routes (the chat's messages): the endpoint takes the caller from
    ``caller_of(request)`` instead of a dependency: FastAPI's resolution of each
    dependency was a measurable share of a post (bench/RESULTS.md). OpenAPI shows the
    bearer requirement all the same.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        kwargs["openapi_extra"] = {
            "security": [{"HTTPBearer": []}],
            **(kwargs.get("openapi_extra") or {}),
        }
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def identified_first(request: Request) -> Response:
            request.state.caller = identify_caller(request)
            return await handle(request)

        return identified_first


def caller_of(request: Request) -> Caller:
    """The caller a ``CallerFirstRoute`` identified."""
    caller: Caller = request.state.caller
    return caller


async def get_client_address(request: Request) -> str | None:  # async: no thread hop
    return client_address(request, request.app.state.trusted_proxies)


CurrentUser = Annotated[Caller, Depends(BearerCaller(look_up_user=True))]
TokenUser = Annotated[Caller, Depends(BearerCaller(look_up_user=False))]


async def get_user_agent(request: Request) -> str | None:  # async: no thread hop
    agent = request.headers.get("user-agent")
    return agent[:USER_AGENT_CHARS] if agent else None


UserAgent = Annotated[str | None, Depends(get_user_agent)]
ClientAddress = Annotated[str | None, Depends(get_client_address)]
