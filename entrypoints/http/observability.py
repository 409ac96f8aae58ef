"""Request ids, one access-log line per request, and Prometheus metrics."""

import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from application.ports import PoolStatus

access_log = logging.getLogger("memory_agent.access")

_CLIENT_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")


def _request_id(scope: Scope) -> str:
    """The client's ``X-Request-ID`` when it is sane, else a fresh one."""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate: str = value.decode("latin-1")
            if _CLIENT_ID.fullmatch(candidate):
                return candidate
    return uuid.uuid4().hex


def _route_template(scope: Scope) -> str:
    """``/chats/{chat_id}``, not the concrete path: bounded label values, no ids in logs."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else "unmatched"


class Metrics:
    """The app's own registry, so several apps in one process (tests) do not collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests by route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Time to the last response byte, by route template.",
            ["method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )

    def watch_pool(self, status: Callable[[], PoolStatus | None]) -> None:
        self.registry.register(_PoolCollector(status))


class _PoolCollector(Collector):
    def __init__(self, status: Callable[[], PoolStatus | None]) -> None:
        self._status = status

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pool = self._status()
        if pool is None:
            return
        for name, help_text, value in (
            ("db_pool_size", "Connections the pool keeps.", pool.size),
            ("db_pool_checked_out", "Connections in use by requests.", pool.checked_out),
            ("db_pool_idle", "Open connections waiting in the pool.", pool.idle),
            ("db_pool_overflow", "Connections open beyond the pool size.", pool.overflow),
        ):
            yield GaugeMetricFamily(name, help_text, value=value)


# Every response is private (the API's data belongs to its caller) and typed.
_COMMON_HEADERS = ((b"x-content-type-options", b"nosniff"), (b"cache-control", b"no-store"))


class RequestObservability:
    """Outermost middleware: tags every request with an id, then logs and measures it.

    The log line carries method, route template, status, duration, user id and
    request id; never headers, bodies, tokens or message contents. Every response
    also gets ``X-Request-ID`` and the headers every response carries (``nosniff``,
    ``no-store`` unless the response set its own): one pass over the response's headers
    for all of them, where a middleware each cost a measurable share of a short request.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        # prometheus_client checks the labels on every ``labels()``: look each series up once.
        self._counted: dict[tuple[str, str, int], Counter] = {}
        self._timed: dict[tuple[str, str], Histogram] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        started = time.perf_counter()

        async def send_tagged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = _with_common_headers(message.get("headers", ()), request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_tagged)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            if route != "/metrics":
                self._observe(scope["method"], route, status, elapsed)
            if access_log.isEnabledFor(logging.INFO):  # skip building the record when off
                user_id = scope["state"].get("user_id")
                access_log.info(
                    "%s %s %s",
                    scope["method"],
                    route,
                    status,
                    extra={
                        "method": scope["method"],
                        "route": route,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                        "user_id": str(user_id) if user_id else None,
                        "request_id": request_id,
                    },
                )

    def _observe(self, method: str, route: str, status: int, elapsed: float) -> None:
        counted = self._counted.get((method, route, status))
        if counted is None:
            counted = self.metrics.requests.labels(method, route, str(status))
            self._counted[method, route, status] = counted
        counted.inc()
        timed = self._timed.get((method, route))
        if timed is None:
            timed = self._timed[method, route] = self.metrics.latency.labels(method, route)
        timed.observe(elapsed)


def _with_common_headers(
    headers: Iterable[tuple[bytes, bytes]], request_id: str
) -> list[tuple[bytes, bytes]]:
    tagged = [(name, value) for name, value in headers if name != b"x-request-id"]
    present = {name.lower() for name, _ in tagged}
    tagged.extend(header for header in _COMMON_HEADERS if header[0] not in present)
    tagged.append((b"x-request-id", request_id.encode("latin-1")))
    return tagged
