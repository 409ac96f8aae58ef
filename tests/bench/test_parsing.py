"""The benchmark's readers of wrk and pgbench reports, its pgbench script and its settings."""

import pytest

from bench.config import Config
from bench.database import pgbench_script
from bench.parsing import parse_pgbench, parse_wrk

WRK = """\
Running 10s test @ http://127.0.0.1:40001/chats
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    24.10ms   30.55ms 412.22ms   93.10%
    Req/Sec   412.55     80.12   600.00     70.00%
  Latency Distribution
     50%  850.00us
     75%   21.44ms
     90%   40.05ms
     99%    1.21s
  8241 requests in 10.01s, 3.10MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:    823.31
Transfer/sec:    317.21KB
"""

PGBENCH = """\
transaction type: post_message.sql
scaling factor: 1
query mode: prepared
number of clients: 16
number of threads: 2
duration: 10 s
number of transactions actually processed: 29911
number of failed transactions: 0 (0.000%)
latency average = 5.347 ms
initial connection time = 12.345 ms
tps = 2992.401234 (without initial connection time)
"""


def test_wrk_figures_in_milliseconds_and_errors_summed() -> None:
    result = parse_wrk(WRK)

    assert (result.requests, result.rps) == (8241, 823.31)
    assert result.p50_ms == pytest.approx(0.85)
    assert result.p99_ms == pytest.approx(1210.0)
    assert (result.non_2xx, result.socket_errors, result.errors) == (7, 5, 12)


def test_a_clean_wrk_run_has_no_errors() -> None:
    clean = "\n".join(
        line for line in WRK.splitlines() if not line.lstrip().startswith(("Socket", "Non-2xx"))
    )
    assert parse_wrk(clean).errors == 0


def test_anything_else_is_refused() -> None:
    with pytest.raises(ValueError, match="wrk"):
        parse_wrk("unable to connect to 127.0.0.1:1 Connection refused")
    with pytest.raises(ValueError, match="pgbench"):
        parse_pgbench("connection to server failed")


def test_pgbench_figures() -> None:
    result = parse_pgbench(PGBENCH)

    assert (result.tps, result.latency_avg_ms, result.failed) == (2992.401234, 5.347, 0)


def test_the_pgbench_script_is_the_post_message_transaction() -> None:
    lines = [line for line in pgbench_script(Config(post_chats=8)).splitlines() if line]

    # As PostMessage runs it: the ownership check, then one statement that stores both
    # messages and moves the chat's updated_at (in autocommit, so no BEGIN or COMMIT).
    assert [line.split()[0] for line in lines] == ["\\set", "SELECT", "WITH"]
    assert lines[2].count("INSERT INTO messages") == 1
    assert lines[2].count("clock_timestamp()), (") == 1  # two rows
    assert "UPDATE chats SET updated_at" in lines[2]
    assert "random(1, 8)" in lines[0]


def test_only_a_local_database_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCH_DATABASE_URL", "postgresql://postgres@db.example.com/x")
    with pytest.raises(SystemExit, match="only talks to this machine"):
        Config.from_env()
