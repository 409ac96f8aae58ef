"""``make bench``: the API under load, next to PostgreSQL's own ceiling for the same SQL.

What one invocation does, everything bounded in time and only towards 127.0.0.1:

1. creates a throwaway database on the server of ``BENCH_DATABASE_URL`` (else
   ``TEST_DATABASE_URL``, else ``DATABASE_URL``/``.env``), migrates it and seeds it:
   filler users with chats and messages, a reader with a 10,000-message chat,
   a poster with chats to post into, a user to log in as (``bench.database``);
2. starts the API as production does (``memory-agent serve --workers 2``, no reload,
   no access log, ``APP_ENV=production``, a random 32-byte ``JWT_SECRET``, throttling
   limits at 0) and waits for ``/ready`` (``bench.server``; both steps: ``bench.stage``);
3. per pass (``BENCH_RUNS``, default 2): pgbench runs the post-message transaction
   (chat owner check, two inserts, ``updated_at`` bump, commit) at 16 clients: the
   database's ceiling; wrk loads each endpoint at 16 and 64 connections for
   ``BENCH_DURATION`` seconds (default 10); then a login storm (64 connections on
   ``/auth/login`` for ``BENCH_STORM_DURATION`` s) while a second wrk measures
   ``GET /chats`` at low concurrency, compared with the same probe when quiet
   (``bench.passes``, ``bench.wrk``);
4. before pgbench and before each load, vacuums ``chats`` and ``messages`` and runs a
   checkpoint (``settle``), so that one load's dead rows and WAL don't slow the next;
   samples each uvicorn worker's RSS from ``/proc`` throughout (``bench.memory``);
5. prints one table of medians over the passes, the workers' CPU time per request
   among them (``bench.idle``), and writes it as JSON to
   ``bench/results/<timestamp>.json`` (``bench.report``); stops the server and drops
   the database, also on failure.

Other knobs (environment): ``BENCH_CONNECTIONS`` ("16,64"), ``BENCH_WORKERS`` (2),
``BENCH_PROBE_CONNECTIONS`` (2), ``BENCH_PGBENCH_CLIENTS`` (16), ``BENCH_WARMUP`` (3 s),
``BENCH_MESSAGES`` (10000), ``BENCH_USERS`` (1000 filler users), ``BENCH_POST_CHATS`` (64),
``BENCH_WRK_TIMEOUT`` ("10s"), ``BENCH_ENDPOINTS`` (comma list of post_messages,
get_messages, get_chats, login), ``BENCH_STORM`` (1; 0 skips the storm),
``BENCH_LOG_LEVEL`` (WARNING), ``BENCH_POOLER`` (none; ``pgbouncer`` puts PgBouncer in
transaction mode between the API and PostgreSQL, the API with ``DATABASE_POOLER=transaction``;
pgbench stays direct). Settings of the app itself (``DB_POOL_SIZE``, …) pass
through to the server.
"""

import json
import os
import shutil
import signal
import statistics
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from bench.config import RESULTS, ROOT, Config
from bench.database import pgbench_script
from bench.log import loadavg, log
from bench.memory import WorkerMemory
from bench.passes import Pass, Row, load_pass, warm_up
from bench.report import render, table_rows, targets
from bench.stage import stage


def _require(tool: str, hint: str) -> None:
    if shutil.which(tool) is None:
        raise SystemExit(f"{tool} is not installed: {hint}")


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks: server, database


def main() -> int:
    signal.signal(signal.SIGTERM, _terminate)
    _require("wrk", "`apt-get install -y wrk` (make bench does it)")
    _require("pgbench", "`apt-get install -y postgresql-client`")
    config = Config.from_env()
    if "login" not in config.endpoints or "get_chats" not in config.endpoints:
        config = Config(**{**asdict(config), "storm": False})
    started = datetime.now(UTC)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    RESULTS.mkdir(parents=True, exist_ok=True)
    load_before = loadavg()
    log(f"load average before: {load_before} ({os.cpu_count()} CPUs)")
    rows: dict[tuple[str, int], Row] = {}
    passes: list[Pass] = []
    workers: list[dict[str, Any]] = []
    with stage(config, "memory-agent-bench-", log_migration=True) as staged:
        pg_script = staged.scratch / "post_message.sql"
        pg_script.write_text(pgbench_script(config))
        with WorkerMemory(staged.server_pid) as memory:
            warm_up(staged.server, config, staged.scripts, memory)
            for n in range(config.runs):
                log(f"pass {n + 1} of {config.runs} (load {loadavg()})")
                passes.append(
                    load_pass(
                        staged.server,
                        config,
                        staged.database_url,
                        staged.scripts,
                        pg_script,
                        rows,
                        memory,
                    )
                )
        workers = [
            {
                "pid": r.pid,
                "peak_mb": r.peak_kb / 1024,
                "peak_phase": r.peak_phase,
                "storm_peak_rss_mb": r.storm_peak_rss_kb / 1024,
                "last_rss_mb": r.last_rss_kb / 1024,
            }
            for r in memory.records.values()
        ]
    load_after = loadavg()
    ceiling = statistics.median(p.pgbench.tps for p in passes if p.pgbench is not None)
    table = table_rows(rows, ceiling, config.pgbench_clients)
    checks = targets(table, workers, config)

    print()
    print(
        f"memory-agent bench, {started:%Y-%m-%d %H:%M} UTC: medians of {config.runs} passes, "
        f"{config.duration:.0f} s per load, {config.workers} workers, {os.cpu_count()} CPUs"
    )
    print(render(table))
    print()
    for worker in workers:
        print(
            f"worker {worker['pid']}: peak RSS {worker['peak_mb']:.0f} MB "
            f"(reached during: {worker['peak_phase']}; "
            f"during the storm up to {worker['storm_peak_rss_mb']:.0f} MB)"
        )
    print(f"load average before: {load_before}   after: {load_after}")
    for n, one in enumerate(passes, 1):
        tps = f"{one.pgbench.tps:,.0f} tps" if one.pgbench else "-"
        print(f"  pass {n}: load {one.load_before} -> {one.load_after}, pgbench {tps}")
    for check in checks:
        print(f"[{'met' if check['met'] else 'MISSED'}] {check['target']}: {check['value']}")
    document = {
        "started": started.isoformat(),
        "command": "make bench" if config.pooler == "none" else "BENCH_POOLER=pgbouncer make bench",
        "config": {k: v for k, v in asdict(config).items() if k != "server_url"},
        "machine": {
            "cpus": os.cpu_count(),
            "loadavg_before": load_before,
            "loadavg_after": load_after,
            "passes": [
                {
                    "loadavg_before": p.load_before,
                    "loadavg_after": p.load_after,
                    "pgbench": asdict(p.pgbench) if p.pgbench else None,
                }
                for p in passes
            ],
        },
        "pgbench_ceiling_tps": ceiling,
        "table": table,
        "workers": workers,
        "targets": checks,
    }
    output = RESULTS / f"{stamp}.json"
    output.write_text(json.dumps(document, indent=2) + "\n")
    print(f"written to {output.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
