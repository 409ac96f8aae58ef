"""The figures of wrk's and pgbench's reports."""

import re
from dataclasses import dataclass

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
