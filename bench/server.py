"""The API under test: ``memory-agent serve`` started, awaited, logged into and stopped."""

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bench.config import PASSWORD, ROOT, Config
from bench.log import log


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Server:
    """``memory-agent serve`` in its own session, as production runs it."""

    def __init__(
        self,
        database_url: str,
        config: Config,
        log_path: Path,
        extra_env: dict[str, str] | None = None,
    ) -> None:
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
            **(extra_env or {}),
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
