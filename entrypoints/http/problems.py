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
    AssistantUnavailable,
    DomainError,
    EmailAlreadyRegistered,
    IdempotencyKeyInFlight,
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
    (IdempotencyKeyInFlight, 409, "idempotency-key-in-flight"),
    (InvalidCursor, 400, "invalid-cursor"),
    (InvalidInput, 422, "invalid-input"),
    (ServiceUnavailable, 503, "service-unavailable"),
    (InvalidResetToken, 400, "invalid-reset-token"),
    (PasswordResetUnavailable, 503, "password-reset-unavailable"),
    (AssistantUnavailable, 503, "assistant-unavailable"),
]


# What a client is told when nothing more specific is known; every problem has a detail.
_DEFAULT_DETAIL = {
    404: "There is nothing at this path.",
    405: "This path does not accept this method; the Allow header lists those it does.",
}


def problem_document(
    status: int,
    detail: str | None = None,
    *,
    slug: str | None = None,
    request: Request | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"/problems/{slug}" if slug else "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail or _DEFAULT_DETAIL.get(status) or f"{HTTPStatus(status).description}.",
    }
    if request is not None:
        body["instance"] = request.url.path
        request_id = getattr(request.state, "request_id", None)
        if request_id:
            body["request_id"] = request_id
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


def problem(
    status: int,
    detail: str | None = None,
    *,
    slug: str | None = None,
    headers: dict[str, str] | None = None,
    request: Request | None = None,
    **extra: Any,
) -> JSONResponse:
    body = problem_document(status, detail, slug=slug, request=request, **extra)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def _status_of(error: DomainError) -> tuple[int, str | None]:
    return next(((s, g) for cls, s, g in _STATUS if isinstance(error, cls)), (400, None))


async def _domain_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DomainError)
    status, slug = _status_of(error)
    headers: dict[str, str] = {}
    if isinstance(error, InvalidToken):
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    if isinstance(
        error,
        TooManyAttempts | ServiceUnavailable | IdempotencyKeyInFlight | AssistantUnavailable,
    ):
        headers["Retry-After"] = str(error.retry_after)
    if isinstance(error, ServiceUnavailable):
        logger.warning("database unavailable: %s", type(error.__cause__).__name__)
    errors = [_error_item(error, slug)] if status == 422 else None
    return problem(status, str(error), slug=slug, headers=headers, request=request, errors=errors)


def _error_item(error: DomainError, slug: str | None) -> dict[str, Any]:
    """A domain error as one ``errors`` entry, shaped like a validation error's."""
    loc: list[str] = ["body"]
    if isinstance(error, InvalidInput) and error.field:
        loc.append(error.field)
    elif isinstance(error, IdempotencyKeyReused):
        loc = ["header", "Idempotency-Key"]
    return {"loc": loc, "msg": str(error), "type": slug or "invalid"}


def error_document(request: Request, error: Exception) -> dict[str, Any]:
    """The problem document for an error met once a response has started (a stream's
    ``error`` event): the same table as above, without the status line to carry it."""
    if isinstance(error, DomainError):
        status, slug = _status_of(error)
        extra = {
            "retry_after": getattr(error, "retry_after", None),
            "errors": [_error_item(error, slug)] if status == 422 else None,
        }
        return problem_document(status, str(error), slug=slug, request=request, **extra)
    logger.error("unhandled error in a stream", exc_info=error)
    return problem_document(500, "Something went wrong on our side.", request=request)


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
