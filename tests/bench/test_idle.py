"""wait_until_idle: the bench waits for the workers' backlog, and no longer than its limit."""

import subprocess
import sys
from collections.abc import Iterator

import pytest

from bench.idle import wait_until_idle


@pytest.fixture
def spinning() -> Iterator[int]:
    process = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield process.pid
    finally:
        process.kill()
        process.wait()


@pytest.fixture
def sleeping() -> Iterator[int]:
    process = subprocess.Popen(["sleep", "60"])
    try:
        yield process.pid
    finally:
        process.kill()
        process.wait()


def test_an_idle_worker_is_not_waited_for_until_the_limit(sleeping: int) -> None:
    assert wait_until_idle([sleeping], window=0.2, limit=30) < 30


def test_a_busy_worker_is_waited_for_until_the_limit(spinning: int) -> None:
    assert wait_until_idle([spinning], window=0.2, limit=1) >= 1
