"""Probes for orchestrators: liveness without the database, readiness with it."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from application.ports import Readiness
from entrypoints.http.dependencies import use_case

router = APIRouter(tags=["operations"])


@router.get("/health", summary="The process is up (does not touch the database)")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/ready",
    summary="The database is reachable and its schema is current",
    responses={503: {"description": "Not ready; `problems` says why."}},
)
async def ready(
    readiness: Annotated[Readiness, Depends(use_case(lambda c: c.readiness()))],
) -> JSONResponse:
    problems = await readiness.problems()
    body: dict[str, Any] = {"status": "not ready" if problems else "ready", "problems": problems}
    headers = {"Retry-After": "5"} if problems else None
    return JSONResponse(body, status_code=503 if problems else 200, headers=headers)
