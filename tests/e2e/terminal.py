"""The CLI on a pseudo-terminal, as a person runs it at a shell prompt."""

import fcntl
import os
import pty
import select
import subprocess
import sys
import termios
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Where the kernel parks a process blocked on a read of a pipe or terminal, or in
# select/poll (readline): the names /proc/PID/wchan shows for each.
_WAITING_FOR_INPUT = ("pipe_read", "anon_pipe_read", "wait_woken", "n_tty_read", "poll_schedule")


def wait_until_reading(pid: int, timeout: float = 60) -> None:
    """Return once ``pid`` sleeps waiting for input, as a person sees it wait at a prompt.

    A program prints its prompt a moment before it blocks on the read. Ctrl-C in
    that gap sets Python's signal flag, but only an interrupted read (EINTR)
    looks at the flag, so the signal waits for the next key press. A person never
    types inside that gap; a test must not either.
    """
    deadline = time.monotonic() + timeout
    proc = Path(f"/proc/{pid}")
    channel = ""
    while time.monotonic() < deadline:
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        channel = (proc / "wchan").read_text()
        if state == "S" and channel.startswith(_WAITING_FOR_INPUT):
            return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} never waited for input (last seen in {channel!r})")


def _take_the_terminal() -> None:
    # In the child, after setsid: the pty becomes its controlling terminal, so
    # Ctrl-C typed there is a SIGINT to it, as at a shell.
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """``memory-agent`` with stdin, stdout and stderr on one pseudo-terminal."""

    def __init__(self, database_url: str, *args: str) -> None:
        controller, child = pty.openpty()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "entrypoints.cli", *args],
            stdin=child,
            stdout=child,
            stderr=child,
            cwd=REPO,
            env={**os.environ, "DATABASE_URL": database_url, "TERM": "xterm"},
            start_new_session=True,
            preexec_fn=_take_the_terminal,  # the test process starts no threads of its own
        )
        os.close(child)
        self._controller = controller
        self.output = ""
        self._seen = 0  # wait_for looks only at what came after its last find

    def wait_for(self, text: str, timeout: float = 60) -> None:
        """Read what the terminal shows until ``text`` appears (again)."""
        deadline = time.monotonic() + timeout
        while (found := self.output.find(text, self._seen)) < 0:
            if time.monotonic() > deadline or not self._read(deadline - time.monotonic()):
                shown = self.output[self._seen :]
                raise AssertionError(f"{text!r} never appeared; the terminal showed {shown!r}")
        self._seen = found + len(text)

    def type(self, keys: str) -> None:
        os.write(self._controller, keys.encode())

    def interrupt(self) -> None:
        """Ctrl-C, typed once the program waits for keys."""
        wait_until_reading(self.process.pid)
        self.type("\x03")

    def finish(self, timeout: float = 60) -> int:
        """Read to the end; the exit code."""
        deadline = time.monotonic() + timeout
        while self._read(deadline - time.monotonic()):
            pass
        try:
            return self.process.wait(timeout=max(deadline - time.monotonic(), 1))
        finally:
            os.close(self._controller)

    def _read(self, timeout: float) -> bool:
        """Append what is there to ``output``; False at the end or on timeout."""
        ready, _, _ = select.select([self._controller], [], [], max(timeout, 0))
        if not ready:
            return False
        try:
            chunk = os.read(self._controller, 4096)
        except OSError:  # EIO: every process holding the terminal has ended
            return False
        self.output += chunk.decode(errors="replace")
        return bool(chunk)
