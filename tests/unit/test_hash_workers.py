"""How many threads hash passwords: the CPUs shared among the worker processes."""

import argparse
import os
from typing import Any

import pytest
import uvicorn

from entrypoints.cli import serve
from entrypoints.settings import Settings


@pytest.mark.parametrize(
    ("cpus", "processes", "threads"), [(4, 1, 4), (4, 2, 2), (2, 2, 1), (2, 8, 1), (3, 2, 1)]
)
def test_the_processes_share_the_cpus(
    monkeypatch: pytest.MonkeyPatch, cpus: int, processes: int, threads: int
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: cpus)

    assert Settings(web_concurrency=processes).hash_workers == threads


def test_a_chosen_number_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 2)

    assert Settings(web_concurrency=2, password_hash_workers=3).hash_workers == 3


def test_serve_tells_its_workers_how_many_they_are(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: seen.update(os.environ))
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    args = argparse.Namespace(host="127.0.0.1", port=8000, workers=3, reload=False)

    serve._serve(args, Settings())

    assert seen["WEB_CONCURRENCY"] == "3"
    assert Settings().web_concurrency == 3  # what each worker's settings then read
