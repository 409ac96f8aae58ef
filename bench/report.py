"""The results table (medians over the passes), its rendering, and the targets it is held to."""

from dataclasses import asdict
from typing import Any

from bench.config import Config
from bench.passes import QUIET_PROBE, STORM_LOGIN, STORM_PROBE, Row


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
            "worker_cpu_us_per_request": None,
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
                "worker_cpu_us_per_request": row.median_cpu_us(),
                "runs": [asdict(r) for r in row.runs],
            }
        )
    return table


def render(table: list[dict[str, Any]]) -> str:
    header = (
        "endpoint",
        "conns",
        "req/s",
        "p50 ms",
        "p99 ms",
        "errors",
        "vs pgbench",
        "CPU µs/req",
    )
    lines = [
        (
            row["endpoint"],
            str(row["connections"]),
            _fmt(row["rps"]),
            _fmt(row["p50_ms"]),
            _fmt(row["p99_ms"]),
            _fmt(row["errors"], 0),
            _fmt(row["ratio_to_pgbench"], 2),
            _fmt(row.get("worker_cpu_us_per_request"), 0),
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


def _zero_errors(target: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The check that no run of ``rows`` had an error (``rows`` not empty)."""
    errors = max(r["max_errors"] for r in rows)
    return {"target": target, "value": errors, "met": errors == 0}


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
        checks.append(_zero_errors("POST messages: zero errors (every run)", post_rows))
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
        checks.append(_zero_errors("zero errors on every other load row (every run)", load_rows))
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
