"""One pass of the bench (pgbench, each endpoint under wrk, the login storm), and the warm-up."""

import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.config import Config
from bench.database import run_pgbench, settle
from bench.idle import cpu_seconds, wait_until_idle
from bench.log import loadavg, log
from bench.memory import WorkerMemory
from bench.parsing import PgbenchResult, WrkResult, parse_wrk
from bench.server import Server
from bench.wrk import Endpoint, run_wrk, wrk_command


@dataclass
class Row:
    endpoint: str
    connections: int
    runs: list[WrkResult] = field(default_factory=list)
    # The workers' CPU time per answered request, in µs, one figure per run.
    cpu_us_per_request: list[float] = field(default_factory=list)

    def median(self, figure: str) -> float:
        return float(statistics.median(float(getattr(r, figure)) for r in self.runs))

    def median_cpu_us(self) -> float | None:
        cpu = self.cpu_us_per_request
        return float(statistics.median(cpu)) if cpu else None


@dataclass
class Pass:
    load_before: str
    pgbench: PgbenchResult | None = None
    load_after: str = ""


def _settle(database_url: str, memory: WorkerMemory) -> None:
    """The workers done with the last load, then the database vacuumed and checkpointed
    (after the backlog's writes, not before them)."""
    waited = wait_until_idle(memory.workers())
    if waited > 1:
        log(f"  (waited {waited:.0f} s for the workers to finish the last load's backlog)")
    settle(database_url)


STORM_LOGIN = "POST /auth/login (login storm)"
QUIET_PROBE = "GET /chats (quiet probe)"
STORM_PROBE = "GET /chats (during login storm)"


def load_pass(
    server: Server,
    config: Config,
    database_url: str,
    scripts: dict[str, tuple[Endpoint, Path]],
    pg_script: Path,
    rows: dict[tuple[str, int], Row],
    memory: WorkerMemory,
) -> Pass:
    this = Pass(load_before=loadavg())
    log(f"pgbench at {config.pgbench_clients} clients, {config.duration:.0f} s")
    _settle(database_url, memory)
    memory.phase = "pgbench"
    this.pgbench = run_pgbench(database_url, pg_script, config)
    log(f"  {this.pgbench.tps:.0f} tps")
    for key in config.endpoints:
        endpoint, script = scripts[key]
        for connections in config.connections:
            command = wrk_command(
                server.base, endpoint, script, connections, config.duration, config.wrk_timeout
            )
            _settle(database_url, memory)
            memory.phase = f"{endpoint.label} c={connections}"
            workers = memory.workers()
            cpu_before = cpu_seconds(workers)
            result = run_wrk(command, config.duration)
            wait_until_idle(workers)  # what wrk left queued is part of this load's cost
            cpu_us = (cpu_seconds(workers) - cpu_before) / max(result.requests, 1) * 1e6
            row = rows.setdefault((endpoint.label, connections), Row(endpoint.label, connections))
            row.runs.append(result)
            row.cpu_us_per_request.append(cpu_us)
            log(
                f"  {endpoint.label} c={connections}: {result.rps:.0f} req/s, "
                f"p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms, errors {result.errors}, "
                f"workers' CPU {cpu_us:.0f} µs/request"
            )
    if config.storm:
        login, login_script = scripts["login"]
        chats, chats_script = scripts["get_chats"]
        probe_seconds = config.storm_duration - 2
        probe = wrk_command(
            server.base,
            chats,
            chats_script,
            config.probe_connections,
            probe_seconds,
            config.wrk_timeout,
        )
        _settle(database_url, memory)
        memory.phase = "quiet probe"
        quiet = run_wrk(probe, probe_seconds)
        rows.setdefault(
            (QUIET_PROBE, config.probe_connections), Row(QUIET_PROBE, config.probe_connections)
        ).runs.append(quiet)
        log(f"  quiet probe: p99 {quiet.p99_ms:.1f} ms")
        storm_command = wrk_command(
            server.base, login, login_script, 64, config.storm_duration, config.wrk_timeout
        )
        memory.storm, memory.phase = True, "login storm"
        storm = subprocess.Popen(  # noqa: S603 (our own command line)
            storm_command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            time.sleep(1)  # let the storm build up
            during = run_wrk(probe, probe_seconds)
            out, err = storm.communicate(timeout=config.storm_duration + 60)
        finally:
            memory.storm = False
            if storm.poll() is None:
                storm.kill()
                storm.wait()
        if storm.returncode != 0:
            raise RuntimeError(f"wrk (storm) failed ({storm.returncode}):\n{out}\n{err}")
        storm_result = parse_wrk(out)
        rows.setdefault((STORM_LOGIN, 64), Row(STORM_LOGIN, 64)).runs.append(storm_result)
        rows.setdefault(
            (STORM_PROBE, config.probe_connections), Row(STORM_PROBE, config.probe_connections)
        ).runs.append(during)
        log(
            f"  storm: login {storm_result.rps:.0f} req/s p99 {storm_result.p99_ms:.0f} ms; "
            f"GET /chats p99 {during.p99_ms:.1f} ms (quiet {quiet.p99_ms:.1f} ms)"
        )
    this.load_after = loadavg()
    return this


def warm_up(
    server: Server,
    config: Config,
    scripts: dict[str, tuple[Endpoint, Path]],
    memory: WorkerMemory,
) -> None:
    if config.warmup <= 0:
        return
    log(f"warming up, {config.warmup:.0f} s per endpoint")
    for key in config.endpoints:
        endpoint, script = scripts[key]
        connections = max(config.connections)
        memory.phase = f"warm-up, {endpoint.label} c={connections}"
        run_wrk(
            wrk_command(
                server.base, endpoint, script, connections, config.warmup, config.wrk_timeout
            ),
            config.warmup,
        )
