"""Only the app's access line (route templates) is logged, never uvicorn's (raw paths)."""

import argparse
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from entrypoints.cli import serve
from entrypoints.logs import configure_logging
from entrypoints.settings import Settings


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    names = ("uvicorn", "uvicorn.error", "uvicorn.access")
    saved = (root.handlers[:], root.level)
    loggers = {n: (logging.getLogger(n).handlers[:], logging.getLogger(n).propagate) for n in names}
    yield
    root.handlers[:], level = saved
    root.setLevel(level)
    for name, (handlers, propagate) in loggers.items():
        logging.getLogger(name).handlers[:] = handlers
        logging.getLogger(name).propagate = propagate


@pytest.mark.usefixtures("restored_logging")
def test_uvicorn_access_lines_have_nowhere_to_go() -> None:
    configure_logging("INFO")

    # uvicorn builds an access line only when this logger has a handler above it.
    assert not logging.getLogger("uvicorn.access").hasHandlers()
    assert logging.getLogger("uvicorn.error").hasHandlers()  # its other lines stay
    assert logging.getLogger("memory_agent.access").hasHandlers()


def test_serve_turns_uvicorn_access_log_off(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: seen.update(kwargs))
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)  # serve sets it for its workers
    args = argparse.Namespace(host="127.0.0.1", port=8000, workers=1, reload=False)

    serve._serve(args, Settings())

    assert seen["access_log"] is False
    assert seen["http"] == "entrypoints.http.server_protocol:BoundedHttpToolsProtocol"
