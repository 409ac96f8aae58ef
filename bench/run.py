"""``make bench``: the API under load, next to PostgreSQL's own ceiling for the same SQL.

What one invocation does, everything bounded in time and only towards 127.0.0.1:

1. creates a throwaway database on the server of ``BENCH_DATABASE_URL`` (else
   ``TEST_DATABASE_URL``, else ``DATABASE_URL``/``.env``), migrates it and seeds it:
   filler users with chats and messages, a reader with a 10,000-message chat,
   a poster with chats to post into, a user to log in as;
2. starts the API as production does (``memory-agent serve --workers 2``, no reload,
   no access log, ``APP_ENV=production``, a random 32-byte ``JWT_SECRET``, throttling
   limits at 0) and waits for ``/ready``;
3. per pass (``BENCH_RUNS``, default 2): pgbench runs the post-message transaction
   (chat owner check, two inserts, ``updated_at`` bump, commit) at 16 clients: the
   database's ceiling; wrk loads each endpoint at 16 and 64 connections for
   ``BENCH_DURATION`` seconds (default 10); then a login storm (64 connections on
   ``/auth/login`` for ``BENCH_STORM_DURATION`` s) while a second wrk measures
   ``GET /chats`` at low concurrency, compared with the same probe when quiet;
4. before pgbench and before each load, vacuums ``chats`` and ``messages`` and runs a
   checkpoint (``settle``), so that one load's dead rows and WAL don't slow the next;
   samples each uvicorn worker's RSS from ``/proc`` throughout;
5. prints one table of medians over the passes and writes it as JSON to
   ``bench/results/<timestamp>.json``; stops the server and drops the database,
   also on failure.

Other knobs (environment): ``BENCH_CONNECTIONS`` ("16,64"), ``BENCH_WORKERS`` (2),
``BENCH_PROBE_CONNECTIONS`` (2), ``BENCH_PGBENCH_CLIENTS`` (16), ``BENCH_WARMUP`` (3 s),
``BENCH_MESSAGES`` (10000), ``BENCH_USERS`` (1000 filler users), ``BENCH_POST_CHATS`` (64),
``BENCH_WRK_TIMEOUT`` ("10s"), ``BENCH_ENDPOINTS`` (comma list of post_messages,
get_messages, get_chats, login), ``BENCH_STORM`` (1; 0 skips the storm),
``BENCH_LOG_LEVEL`` (WARNING). Settings of the app itself (``DB_POOL_SIZE``, …) pass
through to the server.
"""

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from string import Template
from types import FrameType
from typing import Any

import psycopg
from psycopg import sql
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy.engine import make_url

from adapters.sqlalchemy import migrate
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
POST_CHAT_PREFIX = "00000000-0000-7000-8001-"  # + 12 hex digits of n, n = 1..BENCH_POST_CHATS
EMAILS = {
    READER_ID: "bench-reader@example.com",
    POSTER_ID: "bench-poster@example.com",
    LOGIN_ID: "bench-login@example.com",
}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- settings


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
        if config.runs < 1 or config.duration <= 0 or config.storm_duration <= 2:
            raise SystemExit("BENCH_RUNS >= 1, BENCH_DURATION > 0 and BENCH_STORM_DURATION > 2")
        return config


# --------------------------------------------------------------------------- parsing

_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_DURATION = r"([\d.]+)(us|ms|s|m|h)"


@dataclass(frozen=True)
class WrkResult:
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors


def _ms(value: str, unit: str) -> float:
    return float(value) * _UNIT_MS[unit]


def parse_wrk(text: str) -> WrkResult:
    """The figures of one ``wrk --latency`` report."""

    def percentile(p: int) -> float:
        found = re.search(rf"^\s*{p}(?:\.0+)?%\s+{_DURATION}\s*$", text, re.MULTILINE)
        if found is None:
            raise ValueError(f"no {p}% line in wrk's output:\n{text}")
        return _ms(found.group(1), found.group(2))

    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    requests = re.search(r"(\d+) requests in", text)
    if rps is None or requests is None:
        raise ValueError(f"not a wrk report:\n{text}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    )
    return WrkResult(
        requests=int(requests.group(1)),
        rps=float(rps.group(1)),
        p50_ms=percentile(50),
        p99_ms=percentile(99),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in sockets.groups()) if sockets else 0,
    )


@dataclass(frozen=True)
class PgbenchResult:
    tps: float
    latency_avg_ms: float
    failed: int


def parse_pgbench(text: str) -> PgbenchResult:
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", text)
    latency = re.search(r"latency average = ([\d.]+) ms", text)
    failed = re.search(r"number of failed transactions: (\d+)", text)
    if tps is None or latency is None:
        raise ValueError(f"not a pgbench report:\n{text}")
    return PgbenchResult(
        tps=float(tps.group(1)),
        latency_avg_ms=float(latency.group(1)),
        failed=int(failed.group(1)) if failed else 0,
    )


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# --------------------------------------------------------------------------- database


def _admin_url(server: str) -> str:
    return (
        make_url(server)
        .set(drivername="postgresql", database="postgres")
        .render_as_string(hide_password=False)
    )


@contextlib.contextmanager
def throwaway_database(server: str) -> Iterator[str]:
    """A new, empty database on ``server``; dropped on the way out, whatever happened."""
    admin = _admin_url(server)
    name = f"memory_agent_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    log(f"created database {name}")
    try:
        yield (
            make_url(server)
            .set(drivername="postgresql", database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        log(f"dropped database {name}")


def post_chat_id(n: int) -> str:
    return f"{POST_CHAT_PREFIX}{n:012x}"


_POST_CHAT_SQL = f"CAST('{POST_CHAT_PREFIX}' || lpad(to_hex(CAST(:n AS integer)), 12, '0') AS uuid)"
# A UUIDv7 made in SQL (PostgreSQL 15 has no uuidv7()): the app's ids are v7 too, so the
# primary-key index sees the same right-edge inserts.
_UUID7_SQL = (
    "CAST(encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) placing "
    "substring(int8send(floor(extract(epoch from clock_timestamp()) * 1000)::bigint) from 3) "
    "from 1 for 6), 52, 1), 53, 1), 'hex') AS uuid)"
)


def seed(database_url: str, config: Config) -> None:
    """Filler users, chats and messages, plus the benchmark's own users and chats."""
    password_hash = PasswordHash((Argon2Hasher(),)).hash(PASSWORD)
    started = time.monotonic()
    with psycopg.connect(database_url) as connection, connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO users (id, email, password_hash, created_at)
            SELECT gen_random_uuid(), 'filler-' || n || '@example.com', %(hash)s,
                   now() - n * interval '1 minute'
            FROM generate_series(1, %(users)s) AS n
            """,
            {"hash": password_hash, "users": config.filler_users},
        )
        cursor.execute(
            """
            INSERT INTO chats (id, user_id, title, created_at, updated_at)
            SELECT gen_random_uuid(), u.id, 'Filler chat ' || c,
                   now() - interval '1 day', now() - c * interval '1 minute'
            FROM users AS u CROSS JOIN generate_series(1, 3) AS c
            """
        )
        cursor.execute(
            """
            INSERT INTO messages (id, chat_id, user_id, role, content, created_at)
            SELECT gen_random_uuid(), ch.id, ch.user_id,
                   CASE WHEN m % 2 = 1 THEN 'user' ELSE 'assistant' END,
                   'Filler message ' || m, ch.created_at + m * interval '1 second'
            FROM chats AS ch CROSS JOIN generate_series(1, 4) AS m
            """
        )
        cursor.executemany(
            "INSERT INTO users (id, email, password_hash, created_at) "
            "VALUES (%s, %s, %s, now() - interval '2 days')",
            [(user_id, email, password_hash) for user_id, email in EMAILS.items()],
        )
        cursor.execute(
            """
            INSERT INTO chats (id, user_id, title, created_at, updated_at)
            VALUES (%(chat)s, %(user)s, 'The long one', now() - interval '2 days', now())
            """,
            {"chat": READ_CHAT_ID, "user": READER_ID},
        )
        cursor.execute(
            """
            INSERT INTO chats (id, user_id, title, created_at, updated_at)
            SELECT gen_random_uuid(), %(user)s, 'Reader chat ' || n,
                   now() - interval '2 days', now() - n * interval '1 hour'
            FROM generate_series(1, %(more)s) AS n
            """,
            {"user": READER_ID, "more": READER_CHATS - 1},
        )
        cursor.execute(
            """
            INSERT INTO messages (id, chat_id, user_id, role, content, created_at)
            SELECT gen_random_uuid(), %(chat)s, %(user)s,
                   CASE WHEN n %% 2 = 1 THEN 'user' ELSE 'assistant' END,
                   CASE WHEN n %% 2 = 1 THEN 'Message number ' || n || ': ' || %(content)s
                        ELSE %(reply)s END,
                   now() - interval '2 days' + n * interval '1 second'
            FROM generate_series(1, %(count)s) AS n
            """,
            {
                "chat": READ_CHAT_ID,
                "user": READER_ID,
                "content": CONTENT,
                "reply": REPLY,
                "count": config.messages,
            },
        )
        cursor.executemany(
            "INSERT INTO chats (id, user_id, title, created_at, updated_at) "
            "VALUES (%s, %s, %s, now() - interval '1 day', now() - interval '1 day')",
            [
                (post_chat_id(n), POSTER_ID, f"Post chat {n}")
                for n in range(1, config.post_chats + 1)
            ],
        )
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")
    log(f"seeded in {time.monotonic() - started:.1f} s")


# The SQL of ``PostMessage``, statement for statement, as one pgbench transaction.
_PGBENCH_SCRIPT = Template(
    """\\set n random(1, $chats)
BEGIN;
SELECT chats.id, chats.user_id, chats.title, chats.created_at, chats.updated_at \
FROM chats WHERE chats.id = $chat AND chats.user_id = $poster;
INSERT INTO messages (id, chat_id, user_id, role, content, created_at) \
VALUES ($uuid7, $chat, $poster, 'user', '$content', clock_timestamp());
INSERT INTO messages (id, chat_id, user_id, role, content, created_at) \
VALUES ($uuid7, $chat, $poster, 'assistant', '$reply', clock_timestamp());
UPDATE chats SET updated_at = greatest(chats.updated_at, clock_timestamp()) \
WHERE chats.id = $chat;
COMMIT;
"""
)


def settle(database_url: str) -> None:
    """Vacuum what the last load dirtied and checkpoint, so one load's debris doesn't slow the next.

    Each POST leaves a dead version of its chat row behind (``updated_at`` is indexed,
    so no HOT update); pgbench leaves tens of thousands. Production has autovacuum for
    that (this machine's server runs with it off), and a checkpoint started by one
    load's WAL would otherwise land in the middle of the next.
    """
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute("VACUUM (ANALYZE) chats")
        connection.execute("VACUUM (ANALYZE) messages")
        # Not a superuser (nor pg_checkpoint)? The vacuum is the part that matters.
        with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
            connection.execute("CHECKPOINT")


def pgbench_script(config: Config) -> str:
    return _PGBENCH_SCRIPT.substitute(
        chats=config.post_chats,
        chat=_POST_CHAT_SQL,
        poster=f"CAST('{POSTER_ID}' AS uuid)",
        uuid7=_UUID7_SQL,
        content=CONTENT,
        reply=REPLY,
    )


def run_pgbench(database_url: str, script: Path, config: Config) -> PgbenchResult:
    url = make_url(database_url)
    env = {**os.environ}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    command = [
        "pgbench",
        "--no-vacuum",
        "--protocol=prepared",  # psycopg prepares a statement after 5 runs: same as the app
        f"--client={config.pgbench_clients}",
        f"--jobs={min(config.pgbench_clients, os.cpu_count() or 1)}",
        f"--time={max(1, round(config.duration))}",
        f"--file={script}",
        f"--host={url.host or '127.0.0.1'}",
        f"--port={url.port or 5432}",
        f"--username={url.username or 'postgres'}",
        str(url.database),
    ]
    done = subprocess.run(  # noqa: S603 (our own command line)
        command, env=env, capture_output=True, text=True, timeout=config.duration + 60, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"pgbench failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return parse_pgbench(done.stdout)


# --------------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Server:
    """``memory-agent serve`` in its own session, as production runs it."""

    def __init__(self, database_url: str, config: Config, log_path: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self._log_path = log_path
        executable = Path(sys.executable).parent / "memory-agent"
        self._command = [
            str(executable) if executable.exists() else "memory-agent",
            "serve",
            "--host=127.0.0.1",
            f"--port={self.port}",
            f"--workers={config.workers}",
        ]
        self._env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "APP_ENV": "production",
            "JWT_SECRET": secrets.token_hex(32),
            "LOG_LEVEL": config.log_level,
            "LOGIN_MAX_FAILURES_PER_EMAIL": "0",
            "LOGIN_MAX_FAILURES_PER_CLIENT": "0",
            "REGISTER_MAX_PER_CLIENT": "0",
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, ready_within: float = 60.0) -> None:
        log(f"starting {' '.join(self._command)}")
        with self._log_path.open("wb") as sink:
            self.process = subprocess.Popen(  # noqa: S603 (our own command line)
                self._command,
                cwd=ROOT,
                env=self._env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + ready_within
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited ({self.process.returncode}):\n{self.tail()}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{self.base}/ready", timeout=2) as response,  # noqa: S310
            ):
                if response.status == 200:
                    log(f"server ready on port {self.port} (pid {self.process.pid})")
                    return
            time.sleep(0.25)
        raise RuntimeError(f"the server was not ready within {ready_within:.0f} s:\n{self.tail()}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)  # uvicorn's supervisor stops its workers
        try:
            process.wait(timeout=35)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the session we started, nothing else
            process.wait(timeout=10)
        log("server stopped")

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self._log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def login(self, email: str) -> str:
        body = json.dumps({"email": email, "password": PASSWORD}).encode()
        request = urllib.request.Request(  # noqa: S310
            f"{self.base}/auth/login",
            data=body,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            token: str = json.load(response)["access_token"]
            return token


# --------------------------------------------------------------------------- memory


def _status_kb(pid: int) -> dict[str, int]:
    values: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in {"VmRSS", "VmHWM"}:
                values[key] = int(rest.split()[0])
    return values


def _children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text()
            # "pid (comm) state ppid ...": comm may hold spaces, so split after the ")".
            if int(stat.rpartition(")")[2].split()[1]) == parent:
                found.append(int(entry.name))
    return found


@dataclass
class WorkerMemoryRecord:
    pid: int
    peak_kb: int = 0  # max of VmHWM (the kernel's own peak) and every VmRSS sample
    peak_phase: str = ""  # what the bench was doing when the peak grew last
    storm_peak_rss_kb: int = 0
    last_rss_kb: int = 0


class WorkerMemory:
    """Samples the RSS of the server's worker processes (its children) from /proc."""

    def __init__(self, server_pid: int, interval: float = 0.2) -> None:
        self._server_pid = server_pid
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)
        self.records: dict[int, WorkerMemoryRecord] = {}
        self.storm = False
        self.phase = "start"  # set by the bench before each load, for the peak's attribution

    def workers(self) -> list[int]:
        children = _children(self._server_pid)
        spawned = []
        for pid in children:
            with contextlib.suppress(OSError):
                if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    spawned.append(pid)
        return spawned or children

    def sample(self) -> None:
        for pid in self.workers():
            status = _status_kb(pid)
            if not status:
                continue
            record = self.records.setdefault(pid, WorkerMemoryRecord(pid))
            rss = status.get("VmRSS", 0)
            record.last_rss_kb = rss
            peak = max(rss, status.get("VmHWM", 0))
            if peak > record.peak_kb:
                record.peak_kb, record.peak_phase = peak, self.phase
            if self.storm:
                record.storm_peak_rss_kb = max(record.storm_peak_rss_kb, rss)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self.sample()

    def __enter__(self) -> "WorkerMemory":
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sample()


# --------------------------------------------------------------------------- wrk


@dataclass(frozen=True)
class Endpoint:
    key: str
    label: str
    path: str
    lua: str


def _lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid Lua string literal here


_SEED_THREADS = """
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("seed", threads)
end
init = function(args)
  math.randomseed(os.time() * 1000 + (seed or 0) * 7919)
end
"""


def endpoints(config: Config, reader_token: str, poster_token: str) -> list[Endpoint]:
    def auth(token: str) -> str:
        return f'wrk.headers["Authorization"] = {_lua_string("Bearer " + token)}\n'

    chats = ", ".join(_lua_string(post_chat_id(n)) for n in range(1, config.post_chats + 1))
    post_body = json.dumps({"content": CONTENT})
    login_body = json.dumps({"email": EMAILS[LOGIN_ID], "password": PASSWORD})
    return [
        Endpoint(
            "post_messages",
            "POST /chats/{id}/messages",
            "/chats",
            auth(poster_token)
            + 'wrk.method = "POST"\n'
            + 'wrk.headers["Content-Type"] = "application/json"\n'
            + f"wrk.body = {_lua_string(post_body)}\n"
            + f"local chats = {{{chats}}}\n"
            + _SEED_THREADS
            + "request = function()\n"
            + '  return wrk.format(nil, "/chats/" .. chats[math.random(#chats)] .. "/messages")\n'
            + "end\n",
        ),
        Endpoint(
            "get_messages",
            "GET /chats/{id}/messages?limit=50",
            f"/chats/{READ_CHAT_ID}/messages?limit=50",
            auth(reader_token),
        ),
        Endpoint("get_chats", "GET /chats", "/chats", auth(reader_token)),
        Endpoint(
            "login",
            "POST /auth/login",
            "/auth/login",
            'wrk.method = "POST"\n'
            + 'wrk.headers["Content-Type"] = "application/json"\n'
            + f"wrk.body = {_lua_string(login_body)}\n",
        ),
    ]


def wrk_command(
    base: str, endpoint: Endpoint, script: Path, connections: int, seconds: float, timeout: str
) -> list[str]:
    return [
        "wrk",
        f"--threads={min(connections, 2)}",
        f"--connections={connections}",
        f"--duration={max(1, round(seconds))}s",
        f"--timeout={timeout}",
        "--latency",
        f"--script={script}",
        base + endpoint.path,
    ]


def run_wrk(command: Sequence[str], seconds: float) -> WrkResult:
    done = subprocess.run(  # noqa: S603 (our own command line)
        command, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return parse_wrk(done.stdout)


# --------------------------------------------------------------------------- the passes


@dataclass
class Row:
    endpoint: str
    connections: int
    runs: list[WrkResult] = field(default_factory=list)

    def median(self, figure: str) -> float:
        return float(statistics.median(float(getattr(r, figure)) for r in self.runs))


@dataclass
class Pass:
    load_before: str
    pgbench: PgbenchResult | None = None
    load_after: str = ""


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
    settle(database_url)
    memory.phase = "pgbench"
    this.pgbench = run_pgbench(database_url, pg_script, config)
    log(f"  {this.pgbench.tps:.0f} tps")
    for key in config.endpoints:
        endpoint, script = scripts[key]
        for connections in config.connections:
            command = wrk_command(
                server.base, endpoint, script, connections, config.duration, config.wrk_timeout
            )
            settle(database_url)
            memory.phase = f"{endpoint.label} c={connections}"
            result = run_wrk(command, config.duration)
            rows.setdefault(
                (endpoint.label, connections), Row(endpoint.label, connections)
            ).runs.append(result)
            log(
                f"  {endpoint.label} c={connections}: {result.rps:.0f} req/s, "
                f"p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms, errors {result.errors}"
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
        settle(database_url)
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


# --------------------------------------------------------------------------- report


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def table_rows(
    rows: dict[tuple[str, int], Row], ceiling: float, clients: int
) -> list[dict[str, Any]]:
    table: list[dict[str, Any]] = [
        {
            "endpoint": "pgbench: post-message SQL (the ceiling)",
            "connections": clients,
            "rps": ceiling,
            "p50_ms": None,
            "p99_ms": None,
            "errors": 0,
            "ratio_to_pgbench": 1.0,
        }
    ]
    for row in rows.values():
        rps = row.median("rps")
        table.append(
            {
                "endpoint": row.endpoint,
                "connections": row.connections,
                "rps": rps,
                "p50_ms": row.median("p50_ms"),
                "p99_ms": row.median("p99_ms"),
                "errors": row.median("errors"),
                "max_errors": max(r.errors for r in row.runs),
                "ratio_to_pgbench": rps / ceiling if ceiling else None,
                "runs": [asdict(r) for r in row.runs],
            }
        )
    return table


def render(table: list[dict[str, Any]]) -> str:
    header = ("endpoint", "conns", "req/s", "p50 ms", "p99 ms", "errors", "vs pgbench")
    lines = [
        (
            row["endpoint"],
            str(row["connections"]),
            _fmt(row["rps"]),
            _fmt(row["p50_ms"]),
            _fmt(row["p99_ms"]),
            _fmt(row["errors"], 0),
            _fmt(row["ratio_to_pgbench"], 2),
        )
        for row in table
    ]
    widths = [max(len(cells[i]) for cells in [header, *lines]) for i in range(len(header))]
    out = []
    for n, cells in enumerate([header, *lines]):
        out.append(
            "  ".join(
                cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
                for i, cell in enumerate(cells)
            )
        )
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def _find(table: list[dict[str, Any]], endpoint: str, connections: int) -> dict[str, Any] | None:
    for row in table:
        if row["endpoint"] == endpoint and row["connections"] == connections:
            return row
    return None


def targets(
    table: list[dict[str, Any]], workers: list[dict[str, Any]], config: Config
) -> list[dict[str, Any]]:
    """The issue's targets, each with the measured value and whether it is met."""
    checks: list[dict[str, Any]] = []
    post16 = _find(table, "POST /chats/{id}/messages", 16)
    post64 = _find(table, "POST /chats/{id}/messages", 64)
    if post16 is not None:
        checks.append(
            {
                "target": "POST messages at 16 connections >= 25% of the pgbench ceiling",
                "value": f"{post16['ratio_to_pgbench']:.0%}",
                "met": post16["ratio_to_pgbench"] >= 0.25,
            }
        )
    if post64 is not None:
        checks.append(
            {
                "target": "POST messages p99 <= 100 ms at 64 connections",
                "value": f"{post64['p99_ms']:.1f} ms",
                "met": post64["p99_ms"] <= 100,
            }
        )
    post_rows = [r for r in (post16, post64) if r is not None]
    if post_rows:
        errors = max(r["max_errors"] for r in post_rows)
        checks.append(
            {
                "target": "POST messages: zero errors (every run)",
                "value": errors,
                "met": errors == 0,
            }
        )
    for connections in config.connections:
        get = _find(table, "GET /chats/{id}/messages?limit=50", connections)
        if get is not None:
            checks.append(
                {
                    "target": f"GET messages page of 50 >= 1,500 req/s ({connections} connections)",
                    "value": f"{get['rps']:,.0f} req/s",
                    "met": get["rps"] >= 1500,
                }
            )
    load_rows = [r for r in table[1:] if r["endpoint"] != STORM_LOGIN]
    if load_rows:
        errors = max(r["max_errors"] for r in load_rows)
        checks.append(
            {
                "target": "zero errors on every other load row (every run)",
                "value": errors,
                "met": errors == 0,
            }
        )
    if config.storm and workers:
        peak = max(w["peak_mb"] for w in workers)
        checks.append(
            {
                "target": "login storm: each worker's peak RSS < 300 MB",
                "value": f"{peak:.0f} MB (largest worker)",
                "met": peak < 300,
            }
        )
    quiet = _find(table, QUIET_PROBE, config.probe_connections)
    stormy = _find(table, STORM_PROBE, config.probe_connections)
    if quiet is not None and stormy is not None:
        ratio = stormy["p99_ms"] / quiet["p99_ms"] if quiet["p99_ms"] else float("inf")
        checks.append(
            {
                "target": "login storm: GET /chats p99 < 3x its quiet value",
                "value": f"{ratio:.1f}x ({stormy['p99_ms']:.1f} vs {quiet['p99_ms']:.1f} ms)",
                "met": ratio < 3,
            }
        )
    return checks


# --------------------------------------------------------------------------- main


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
    with (
        tempfile.TemporaryDirectory(prefix="memory-agent-bench-") as scratch,
        throwaway_database(config.server_url) as database_url,
    ):
        log("migrating")
        migrate.upgrade(database_url)
        seed(database_url, config)
        server = Server(database_url, config, Path(scratch) / "server.log")
        try:
            server.start()
            assert server.process is not None
            reader_token = server.login(EMAILS[READER_ID])
            poster_token = server.login(EMAILS[POSTER_ID])
            scripts: dict[str, tuple[Endpoint, Path]] = {}
            for endpoint in endpoints(config, reader_token, poster_token):
                path = Path(scratch) / f"{endpoint.key}.lua"
                path.write_text(endpoint.lua)
                scripts[endpoint.key] = (endpoint, path)
            pg_script = Path(scratch) / "post_message.sql"
            pg_script.write_text(pgbench_script(config))
            with WorkerMemory(server.process.pid) as memory:
                warm_up(server, config, scripts, memory)
                for n in range(config.runs):
                    log(f"pass {n + 1} of {config.runs} (load {loadavg()})")
                    passes.append(
                        load_pass(server, config, database_url, scripts, pg_script, rows, memory)
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
        except BaseException:
            log(f"server log (tail):\n{server.tail()}")
            raise
        finally:
            server.stop()
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
        "command": "make bench",
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
