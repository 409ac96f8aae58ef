"""The FastAPI application: ``uvicorn --factory entrypoints.http.app:production_app``.

Importing this module builds nothing: ``create_app`` builds an app around a container
(tests pass their own), ``production_app`` also configures logging from the environment.
"""

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.telemetry import TelemetryConfig

from entrypoints.container import Container, start, stop
from entrypoints.http.client_address import parse_networks
from entrypoints.http.cursors import CursorCodec
from entrypoints.http.metrics_route import metrics_router
from entrypoints.http.middleware import BodySizeLimit
from entrypoints.http.observability import Metrics, RequestObservability
from entrypoints.http.problems import install_problem_handlers, problems
from entrypoints.http.routes import auth, chats, health, messages, users
from entrypoints.logs import configure_logging
from entrypoints.settings import InsecureSettings, Settings

_NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def create_app(container: Container | None = None) -> FastAPI:
    """Build the app around ``container`` (a fresh one from the environment by default)."""
    container = container or Container(settings=Settings())
    settings: Settings = container.settings()
    try:
        settings.check_secrets()
    except InsecureSettings as error:
        raise SystemExit(str(error)) from None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await start(container)
        _freeze_startup_objects()
        yield
        gc.unfreeze()  # this app's objects may be collected once it is gone (tests, reloads)
        await stop(container)

    app = FastAPI(
        title="Memory Agent API",
        version="0.1.0",
        summary="Users, chat sessions and messages: the base of a personal memory agent.",
        lifespan=lifespan,
        telemetry=None if settings.telemetry_enabled else _NO_TELEMETRY,
        # Interactive docs and the schema: on while developing, off in production unless
        # DOCS_ENABLED says otherwise.
        docs_url="/docs" if settings.docs_on else None,
        redoc_url="/redoc" if settings.docs_on else None,
        openapi_url="/openapi.json" if settings.docs_on else None,
    )
    app.state.container = container
    app.state.cursors = CursorCodec(settings.jwt_secret.get_secret_value())
    app.state.trusted_proxies = parse_networks(settings.trusted_proxies)

    install_problem_handlers(app)
    # Routes are matched in order, one pattern after another: the busiest come first.
    for router in (messages.router, chats.router, auth.router, users.router):
        # A body that is not JSON at all is 400; anything can be too large (413).
        app.include_router(router, responses=problems(400, 413))
    app.include_router(health.router)

    metrics = Metrics()
    metrics.watch_pool(container.storage().pool_status)

    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    app.include_router(metrics_router(metrics, token))

    # Added last = outermost: ids and logs wrap everything; the size limit acts
    # before anything reads the body.
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"],
            expose_headers=["Link", "Retry-After", "X-Request-ID"],
        )
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestObservability, metrics=metrics)
    return app


def _freeze_startup_objects() -> None:
    """Hide everything alive after start-up from the garbage collector (``gc.freeze``).

    Modules, routes, tables and settings live as long as the process; a full collection
    that walks them all stalls every request on the worker, and was most of the p99
    (see bench/RESULTS.md). Frozen, a full collection walks only what came later.
    """
    gc.collect()
    gc.freeze()


def production_app() -> FastAPI:
    """The app as served: JSON logs, then a container from the environment."""
    # Configured here, not in create_app, so tests keep their own log capture.
    configure_logging(Settings().log_level)
    return create_app()
