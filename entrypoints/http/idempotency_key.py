"""The ``Idempotency-Key`` request header: as a FastAPI parameter, or read by the route.

Both forms accept and document the same header; the second is for the busiest route,
where FastAPI's handling of a header parameter was a measurable share of the request
(bench/RESULTS.md).
"""

from typing import Annotated, Any

from fastapi import Header, Request
from fastapi.exceptions import RequestValidationError
from pydantic import StringConstraints, TypeAdapter, ValidationError

NAME = "Idempotency-Key"
_DESCRIPTION = "Retrying with the same key and body returns the first response."
_MIN_LENGTH, _MAX_LENGTH = 1, 255

IdempotencyKey = Annotated[
    str | None,
    Header(alias=NAME, min_length=_MIN_LENGTH, max_length=_MAX_LENGTH, description=_DESCRIPTION),
]

_KEY = TypeAdapter(
    Annotated[str, StringConstraints(min_length=_MIN_LENGTH, max_length=_MAX_LENGTH)]
)

# What FastAPI writes into the OpenAPI document for ``IdempotencyKey``, for a route that
# reads the header with ``idempotency_key_of`` (as ``openapi_extra={"parameters": [...]}``).
OPENAPI_PARAMETER: dict[str, Any] = {
    "name": NAME,
    "in": "header",
    "required": False,
    "description": _DESCRIPTION,
    "schema": {
        "anyOf": [
            {"type": "string", "minLength": _MIN_LENGTH, "maxLength": _MAX_LENGTH},
            {"type": "null"},
        ],
        "description": _DESCRIPTION,
        "title": NAME,
    },
}


def idempotency_key_of(request: Request) -> str | None:
    """The header's value, checked as FastAPI checks ``IdempotencyKey`` (same 422)."""
    raw = request.headers.get(NAME)
    if raw is None:
        return None
    try:
        return _KEY.validate_python(raw)
    except ValidationError as error:
        raise RequestValidationError(
            [
                {**detail, "loc": ("header", NAME, *detail["loc"])}
                for detail in error.errors(include_url=False)
            ]
        ) from None
