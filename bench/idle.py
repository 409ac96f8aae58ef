"""The API's workers' CPU time: waiting for them to go idle, and what a load cost them.

wrk stops sending when its time is up, but requests it left queued are still served:
after a login load that is seconds of Argon2 hashing. A load started meanwhile would be
measured against that leftover work.

The CPU the workers spend per request is the steadier figure on a shared machine:
requests per second move with whatever else runs (the ceiling too), the work a request
takes much less.
"""

import contextlib
import os
import time
from pathlib import Path

from bench.log import log

_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def _cpu_ticks(pid: int) -> int:
    """User plus system CPU time of the process (all its threads), in clock ticks."""
    with contextlib.suppress(OSError):
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return 0


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time ``pids`` have used so far, together, in seconds."""
    return sum(_cpu_ticks(pid) for pid in pids) / _TICKS_PER_SECOND


def wait_until_idle(
    pids: list[int], *, busy_below: float = 0.05, window: float = 0.5, limit: float = 60.0
) -> float:
    """Wait until every one of ``pids`` together uses less than ``busy_below`` of a CPU
    over ``window`` seconds; at most ``limit`` seconds. Returns the seconds waited."""
    started = time.monotonic()
    while pids:
        before = cpu_seconds(pids)
        time.sleep(window)
        used = cpu_seconds(pids) - before
        waited = time.monotonic() - started
        if used < busy_below * window:
            return waited
        if waited >= limit:
            log(f"workers still busy after {limit:.0f} s: measuring anyway")
            return waited
    return 0.0
