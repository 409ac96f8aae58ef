"""Query parameters and ``Link`` headers shared by the list endpoints."""

from typing import Annotated, Any

from fastapi import Query, Request

from domain.paging import Order, PageRequest, Position
from entrypoints.http.cursors import CursorCodec

Limit = Annotated[int, Query(ge=1, le=500, description="Page size.")]
Cursor = Annotated[
    str | None,
    Query(
        max_length=512,
        description='Opaque; copy it from the previous page\'s `Link: rel="next"` header.',
    ),
]


def page_request(
    request: Request, scope: str, limit: int, cursor: str | None, order: Order = Order.ASC
) -> PageRequest:
    codec: CursorCodec = request.app.state.cursors
    after = codec.decode(scope, cursor) if cursor else None
    return PageRequest(limit=limit, after=after, order=order)


def next_page_link(request: Request, scope: str, next_: Position | None) -> dict[str, str]:
    """The header announcing the next page (RFC 8288); none on the last page.

    A relative reference (path and query): the client resolves it against the URL it
    asked, so a forged ``Host`` is never reflected and a scheme or host a proxy put in
    front (TLS) is kept.
    """
    if next_ is None:
        return {}
    codec: CursorCodec = request.app.state.cursors
    url = request.url.include_query_params(cursor=codec.encode(scope, next_))
    return {"Link": f'<{url.path}?{url.query}>; rel="next"'}


LINK_HEADER: dict[int | str, dict[str, Any]] = {
    200: {
        "headers": {
            "Link": {
                "description": 'The next page, `<url>; rel="next"` (RFC 8288); absent on the last.',
                "schema": {"type": "string"},
            }
        }
    }
}
