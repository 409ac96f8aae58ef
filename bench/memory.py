"""The RSS of the server's worker processes, sampled from /proc while the loads run."""

import contextlib
import threading
from dataclasses import dataclass
from pathlib import Path


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
        """The processes serving requests: the spawned workers, or the server itself when
        it serves alone (one worker)."""
        children = _children(self._server_pid)
        spawned = []
        for pid in children:
            with contextlib.suppress(OSError):
                if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    spawned.append(pid)
        return spawned or [self._server_pid]

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
