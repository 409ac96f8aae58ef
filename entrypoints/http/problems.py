"""Every error leaves as RFC 9457 ``application/problem+json``, from this one module."""

import logging
import re
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain.errors import (
    DomainError,
    EmailAlreadyRegistered,
    IdempotencyKeyReused,
    InvalidCredentials,
    InvalidCursor,
    InvalidInput,
    InvalidResetToken,
    InvalidToken,
    NotFound,
    PasswordResetUnavailable,
    ServiceUnavailable,
    TooManyAttempts,
    WrongPassword,
)
from entrypoints.http.schemas import Problem

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

# Most specific first: the first matching class decides.
_STATUS: list[tuple[type[DomainError], int, str]] = [
    (InvalidToken, 401, "invalid-token"),
    (InvalidCredentials, 401, "invalid-credentials"),
    (WrongPassword, 403, "wrong-password"),
    (EmailAlreadyRegistered, 409, "email-taken"),
    (NotFound, 404, "not-found"),
    (TooManyAttempts, 429, "too-many-attempts"),
    (IdempotencyKeyReused, 422, "idempotency-key-reused"),
    (InvalidCursor, 400, "invalid-cursor"),
    (InvalidInput, 422, "invalid-input"),
    (ServiceUnavailable, 503, "service-unavailable"),
    (InvalidResetToken, 400, "invalid-reset-token"),
    (PasswordResetUnavailable, 503, "password-reset-unavailable"),
]


def problem(
    status: int,
    detail: str | None = None,
    *,
    slug: str | None = None,
    headers: dict[str, str] | None = None,
    request: Request | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"/problems/{slug}" if slug else "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if request is not None:
        body["instance"] = request.url.path
        request_id = getattr(request.state, "request_id", None)
        if request_id:
            body["request_id"] = request_id
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


async def _domain_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DomainError)
    status, slug = next(((s, g) for cls, s, g in _STATUS if isinstance(error, cls)), (400, None))
    headers: dict[str, str] = {}
    if isinstance(error, InvalidToken):
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    if isinstance(error, TooManyAttempts | ServiceUnavailable):
        headers["Retry-After"] = str(error.retry_after)
    if isinstance(error, ServiceUnavailable):
        logger.warning("database unavailable: %s", type(error.__cause__).__name__)
    return problem(status, str(error), slug=slug, headers=headers, request=request)


def _clean(error: dict[str, Any]) -> dict[str, Any]:
    # Never echo the input back: it may be a password.
    return {
        "loc": [str(part) for part in error.get("loc", ())],
        "msg": str(error.get("msg", "")),
        "type": str(error.get("type", "")),
    }


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = [_clean(e) for e in error.errors()]
    return problem(
        422,
        "The request is not valid; see `errors`.",
        slug="validation-error",
        request=request,
        errors=errors,
    )


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    detail: str | None = error.detail if isinstance(error.detail, str) else None
    if detail == HTTPStatus(error.status_code).phrase:
        detail = None
    headers = dict(error.headers) if error.headers else {}
    if error.status_code == 405:
        headers["Allow"] = _allowed_methods(request)
    return problem(error.status_code, detail, headers=headers, request=request)


def _allowed_methods(request: Request) -> str:
    """Every method the API serves at this path, read from its own OpenAPI document."""
    path = request.url.path
    methods: set[str] = set()
    for template, operations in request.app.openapi().get("paths", {}).items():
        if re.fullmatch(re.sub(r"\{[^/]+\}", "[^/]+", template), path):
            methods |= {method.upper() for method in operations}
    return ", ".join(sorted(methods))


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    logger.exception("unhandled error", exc_info=error)
    return problem(500, "Something went wrong on our side.", request=request)


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the error statuses a route can answer."""
    return {
        code: {
            "model": Problem,
            "description": HTTPStatus(code).phrase,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for code in codes
    }
