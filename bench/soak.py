"""``make soak``: a bounded run of mixed traffic, watched for errors, memory growth and drift.

It reuses the benchmark's pieces (throwaway database, seed, server, wrk scripts) and
runs three wrk loads at once in back-to-back intervals for SOAK_DURATION seconds
(default 600): posting messages, reading a page of messages, listing chats. After
each interval it records requests/s, p99 and errors of each load, and each worker's
RSS. The verdict: no errors; RSS flat after warm-up (the last interval within
SOAK_RSS_GROWTH_MB of the one after warm-up); p99 flat (the last third's median
within SOAK_P99_DRIFT times the first third's after warm-up).
"""

import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.config import RESULTS, ROOT, Config
from bench.log import loadavg, log
from bench.memory import WorkerMemory
from bench.parsing import parse_wrk
from bench.server import Server
from bench.stage import stage
from bench.wrk import Endpoint, wrk_command

MIX = {"post_messages": 8, "get_messages": 8, "get_chats": 4}  # endpoint -> connections


@dataclass(frozen=True)
class SoakConfig:
    duration: float
    interval: float
    warmup_intervals: int
    rss_growth_mb: float
    p99_drift: float

    @classmethod
    def from_env(cls) -> "SoakConfig":
        return cls(
            duration=float(os.environ.get("SOAK_DURATION", "600")),
            interval=float(os.environ.get("SOAK_INTERVAL", "30")),
            warmup_intervals=int(os.environ.get("SOAK_WARMUP_INTERVALS", "2")),
            rss_growth_mb=float(os.environ.get("SOAK_RSS_GROWTH_MB", "25")),
            p99_drift=float(os.environ.get("SOAK_P99_DRIFT", "2.0")),
        )


def _interval(
    server: Server, scripts: dict[str, tuple[Endpoint, Path]], seconds: float
) -> dict[str, dict[str, float]]:
    """Run every load of the mix at once for ``seconds``; their figures by endpoint."""
    running = {
        key: subprocess.Popen(  # noqa: S603 (our own command line)
            wrk_command(server.base, endpoint, script, MIX[key], seconds, "10s"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for key, (endpoint, script) in scripts.items()
    }
    figures: dict[str, dict[str, float]] = {}
    for key, process in running.items():
        out, err = process.communicate(timeout=seconds + 60)
        if process.returncode != 0:
            raise RuntimeError(f"wrk failed for {key}: {err}")
        result = parse_wrk(out)
        figures[key] = {
            "rps": result.rps,
            "p99_ms": result.p99_ms,
            "errors": result.errors,
        }
    return figures


def _verdict(intervals: list[dict[str, Any]], config: SoakConfig) -> list[dict[str, Any]]:
    settled = intervals[config.warmup_intervals :] or intervals
    third = max(1, len(settled) // 3)
    checks: list[dict[str, Any]] = []
    errors = sum(f["errors"] for i in intervals for f in i["loads"].values())
    checks.append({"check": "no errors", "value": errors, "ok": errors == 0})
    first_rss, last_rss = settled[0]["rss_mb"], settled[-1]["rss_mb"]
    for pid in sorted(set(first_rss) & set(last_rss)):
        growth = last_rss[pid] - first_rss[pid]
        checks.append(
            {
                "check": f"worker {pid} RSS flat after warm-up (<= {config.rss_growth_mb} MB)",
                "value": f"{first_rss[pid]:.0f} -> {last_rss[pid]:.0f} MB",
                "ok": growth <= config.rss_growth_mb,
            }
        )
    for key in MIX:
        early = statistics.median(i["loads"][key]["p99_ms"] for i in settled[:third])
        late = statistics.median(i["loads"][key]["p99_ms"] for i in settled[-third:])
        checks.append(
            {
                "check": f"{key} p99 flat (late <= {config.p99_drift}x early)",
                "value": f"{early:.1f} -> {late:.1f} ms",
                "ok": late <= config.p99_drift * max(early, 1.0),
            }
        )
    return checks


def main() -> int:
    config = Config.from_env()
    soak = SoakConfig.from_env()
    started = datetime.now(UTC)
    RESULTS.mkdir(parents=True, exist_ok=True)
    log(f"soak: {soak.duration:.0f} s in {soak.interval:.0f} s intervals, load {loadavg()}")
    intervals: list[dict[str, Any]] = []
    with stage(config, "memory-agent-soak-", MIX) as staged:
        deadline = time.monotonic() + soak.duration
        with WorkerMemory(staged.server_pid) as memory:
            while time.monotonic() < deadline:
                seconds = min(soak.interval, max(1.0, deadline - time.monotonic()))
                loads = _interval(staged.server, staged.scripts, seconds)
                memory.sample()
                rss = {r.pid: r.last_rss_kb / 1024 for r in memory.records.values()}
                intervals.append({"loads": loads, "rss_mb": rss, "load": loadavg()})
                log(
                    f"interval {len(intervals)}: "
                    + ", ".join(
                        f"{k} {v['rps']:.0f}/s p99 {v['p99_ms']:.0f} ms err {v['errors']:.0f}"
                        for k, v in loads.items()
                    )
                    + f"; RSS {', '.join(f'{mb:.0f}' for mb in rss.values())} MB"
                )
    checks = _verdict(intervals, soak)
    print()
    print(f"memory-agent soak, {started:%Y-%m-%d %H:%M} UTC, {len(intervals)} intervals")
    for check in checks:
        print(f"[{'ok' if check['ok'] else 'FAILED'}] {check['check']}: {check['value']}")
    output = RESULTS / f"soak-{started:%Y%m%dT%H%M%SZ}.json"
    document = {"started": started.isoformat(), "config": soak.__dict__, "intervals": intervals}
    output.write_text(json.dumps({**document, "checks": checks}, indent=2, default=str) + "\n")
    print(f"written to {output.relative_to(ROOT)}")
    return 0 if all(check["ok"] for check in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
