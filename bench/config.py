"""The benchmark's settings from the environment, and the fixed users, chats and texts it seeds."""

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from entrypoints.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"

PASSWORD = "bench passphrase, long enough"
CONTENT = "Benchmark message: the quick brown fox jumps over the lazy dog."
REPLY = "Message received"  # what the placeholder assistant answers
READER_CHATS = 20  # GET /chats lists this many

# Fixed ids keep the pgbench script and the wrk scripts pointed at the same rows.
READER_ID = uuid.UUID("00000000-0000-7000-8000-00000000a001")
POSTER_ID = uuid.UUID("00000000-0000-7000-8000-00000000a002")
LOGIN_ID = uuid.UUID("00000000-0000-7000-8000-00000000a003")
READ_CHAT_ID = uuid.UUID("00000000-0000-7000-8000-00000000c001")
# A live session of the poster, for pgbench: the API checks the caller's session in the
# ownership query, so the ceiling's query does too.
POSTER_SESSION_ID = uuid.UUID("00000000-0000-7000-8000-00000000d002")
POST_CHAT_PREFIX = "00000000-0000-7000-8001-"  # + 12 hex digits of n, n = 1..BENCH_POST_CHATS
EMAILS = {
    READER_ID: "bench-reader@example.com",
    POSTER_ID: "bench-poster@example.com",
    LOGIN_ID: "bench-login@example.com",
}


def post_chat_id(n: int) -> str:
    return f"{POST_CHAT_PREFIX}{n:012x}"


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


_LOCAL_HOSTS = {None, "", "localhost", "127.0.0.1", "::1"}  # None/"": the Unix socket


@dataclass(frozen=True)
class Config:
    duration: float = 10.0
    runs: int = 2
    storm_duration: float = 15.0
    workers: int = 2
    connections: tuple[int, ...] = (16, 64)
    probe_connections: int = 2
    pgbench_clients: int = 16
    warmup: float = 3.0
    messages: int = 10_000
    filler_users: int = 1000
    post_chats: int = 64
    wrk_timeout: str = "10s"
    endpoints: tuple[str, ...] = ("post_messages", "get_messages", "get_chats", "login")
    storm: bool = True
    log_level: str = "WARNING"
    server_url: str = ""
    pooler: str = "none"  # "pgbouncer": the API goes through PgBouncer in transaction mode

    @classmethod
    def from_env(cls) -> "Config":
        default = cls()
        server = (
            os.environ.get("BENCH_DATABASE_URL")
            or os.environ.get("TEST_DATABASE_URL")
            or Settings().database_url
        )
        connections = os.environ.get("BENCH_CONNECTIONS", "").strip()
        endpoints = os.environ.get("BENCH_ENDPOINTS", "").strip()
        config = cls(
            duration=_env_float("BENCH_DURATION", default.duration),
            runs=_env_int("BENCH_RUNS", default.runs),
            storm_duration=_env_float("BENCH_STORM_DURATION", default.storm_duration),
            workers=_env_int("BENCH_WORKERS", default.workers),
            connections=(
                tuple(int(c) for c in connections.split(","))
                if connections
                else default.connections
            ),
            probe_connections=_env_int("BENCH_PROBE_CONNECTIONS", default.probe_connections),
            pgbench_clients=_env_int("BENCH_PGBENCH_CLIENTS", default.pgbench_clients),
            warmup=_env_float("BENCH_WARMUP", default.warmup),
            messages=_env_int("BENCH_MESSAGES", default.messages),
            filler_users=_env_int("BENCH_USERS", default.filler_users),
            post_chats=_env_int("BENCH_POST_CHATS", default.post_chats),
            wrk_timeout=os.environ.get("BENCH_WRK_TIMEOUT", default.wrk_timeout),
            endpoints=(
                tuple(e.strip() for e in endpoints.split(",") if e.strip())
                if endpoints
                else default.endpoints
            ),
            storm=os.environ.get("BENCH_STORM", "1").strip() not in {"0", "false", "no"},
            log_level=os.environ.get("BENCH_LOG_LEVEL", default.log_level),
            server_url=server,
            pooler=os.environ.get("BENCH_POOLER", default.pooler).strip() or default.pooler,
        )
        host = make_url(server).host
        if host not in _LOCAL_HOSTS:
            raise SystemExit(
                f"the benchmark only talks to this machine; the database host is {host!r}: "
                "point BENCH_DATABASE_URL at a local server"
            )
        unknown = set(config.endpoints) - set(default.endpoints)
        if unknown:
            raise SystemExit(
                f"BENCH_ENDPOINTS: unknown {sorted(unknown)}; known {default.endpoints}"
            )
        if config.pooler not in {"none", "pgbouncer"}:
            raise SystemExit(f"BENCH_POOLER: none or pgbouncer, not {config.pooler!r}")
        if config.runs < 1 or config.duration <= 0 or config.storm_duration <= 2:
            raise SystemExit("BENCH_RUNS >= 1, BENCH_DURATION > 0 and BENCH_STORM_DURATION > 2")
        return config
