"""The workers' CPU: the bench waits for their backlog (no longer than its limit) and
counts what a load cost them."""

import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from bench.idle import cpu_seconds, wait_until_idle


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


def test_cpu_time_grows_while_a_worker_works_and_not_while_it_sleeps(
    spinning: int, sleeping: int
) -> None:
    busy, idle = cpu_seconds([spinning]), cpu_seconds([sleeping])
    deadline = time.monotonic() + 10  # a loaded machine gives the spinner less
    while cpu_seconds([spinning]) - busy < 0.2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert cpu_seconds([spinning]) - busy >= 0.2
    assert cpu_seconds([sleeping]) - idle < 0.05
    assert cpu_seconds([spinning, sleeping]) >= cpu_seconds([spinning])
