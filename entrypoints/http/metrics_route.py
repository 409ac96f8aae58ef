"""``GET /metrics`` for Prometheus: only with ``METRICS_TOKEN``, and only to its bearer."""

import hmac

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException

from entrypoints.http.observability import Metrics


def metrics_router(metrics: Metrics, token: str | None) -> APIRouter:
    """The route, or nothing at all (a plain 404) when no token is configured.

    Metrics name routes, rates and pool sizes: worth little to an attacker, but not
    theirs to read, and the API port is public.
    """
    router = APIRouter()
    if not token:
        return router
    expected = f"Bearer {token}".encode()

    @router.get("/metrics", include_in_schema=False)
    async def prometheus_metrics(request: Request) -> Response:
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            raise HTTPException(401, headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return router
