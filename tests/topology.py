"""``make topology-test``: the end-to-end tests through PgBouncer in transaction mode.

Starts PgBouncer (Debian's package, transaction mode, every other setting its default)
in front of the test PostgreSQL server, then runs ``tests/e2e`` with the apps' database
URL pointed at it (``TEST_POOLER_URL``, honoured by ``tests/conftest.py``) and
``DATABASE_POOLER=transaction``; migrations and the fixtures' administrative work stay
on the direct connection, and ``test_many_instances`` runs two API processes behind it.
Afterwards every log (PgBouncer's, the API processes', the in-process apps') must be
free of prepared-statement and startup-parameter errors.

``tests/e2e/test_resilience.py`` is left out: it brings its own PostgreSQL to stop and
restart, with no pooler in front.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg

from entrypoints.settings import Settings
from tests.e2e.servers import ROOT, PgBouncer

# What an app that keeps state on a server connection makes PgBouncer or PostgreSQL say.
FORBIDDEN = re.compile(r"unsupported startup parameter|prepared statement|_pg3_\d", re.IGNORECASE)


def _server_url() -> str:
    return os.environ.get("TEST_DATABASE_URL") or Settings().database_url


def _offending_lines(log: Path, skip: int = 0) -> list[str]:
    text = log.read_text(errors="replace")[skip:] if log.exists() else ""
    return [line for line in text.splitlines() if FORBIDDEN.search(line)]


def _check_the_scan_sees_a_refusal(bouncer: PgBouncer) -> int:
    """Make PgBouncer refuse a startup option once, so a silent log proves something.

    Returns where the log stands afterwards: the scan starts there.
    """
    try:
        psycopg.connect(bouncer.url, options="-c statement_timeout=1000", connect_timeout=5)
    except psycopg.OperationalError:
        pass
    else:
        raise SystemExit("PgBouncer accepted a startup option: is it in front of the tests?")
    seen = _offending_lines(bouncer.log)
    if not seen:
        raise SystemExit(f"no refusal in {bouncer.log}: the log scan would prove nothing")
    return len(bouncer.log.read_text(errors="replace"))


def main(pytest_args: list[str]) -> int:
    server = _server_url()
    logs = Path(tempfile.mkdtemp(prefix="memory-agent-topology-"))
    bouncer = PgBouncer(server)
    bouncer.start()
    try:
        scanned_from = _check_the_scan_sees_a_refusal(bouncer)
        app_log = logs / "in-process-apps.log"
        env = {
            **os.environ,
            "TEST_DATABASE_URL": server,
            "TEST_POOLER_URL": bouncer.url,
            "DATABASE_POOLER": "transaction",
            "TEST_LOG_DIR": str(logs),
        }
        command = [
            sys.executable,
            "-m",
            "pytest",
            "tests/e2e",
            "--ignore=tests/e2e/test_resilience.py",
            "-p",
            "no:cacheprovider",
            f"--log-file={app_log}",
            "--log-file-level=WARNING",
            *pytest_args,
        ]
        print(f"PgBouncer {bouncer.url} -> {server}; logs in {logs}", flush=True)
        tests = subprocess.run(command, cwd=ROOT, env=env, check=False)
    finally:
        bouncer.stop()

    through_bouncer = "memory_agent_test_" in bouncer.read_log()
    found = {str(bouncer.log): _offending_lines(bouncer.log, scanned_from)}
    api_logs = sorted(logs.glob("api-*.log"))
    for path in [*api_logs, app_log]:
        found[str(path)] = _offending_lines(path)
    problems = {name: lines for name, lines in found.items() if lines}
    for name, lines in problems.items():
        print(f"{name}: {len(lines)} prepared-statement or startup-parameter errors", flush=True)
        for line in lines[:5]:
            print(f"  {line[:300]}")
    if not through_bouncer:
        print("the tests' database never went through PgBouncer", flush=True)
    if len(api_logs) < 2:
        print(f"expected two API processes' logs in {logs}, found {len(api_logs)}", flush=True)
    print(f"scanned {len(found)} logs: {sum(map(len, found.values()))} offending lines", flush=True)
    if tests.returncode or problems or not through_bouncer or len(api_logs) < 2:
        print(f"logs kept in {logs} and {bouncer.directory}", flush=True)
        return tests.returncode or 1
    shutil.rmtree(logs, ignore_errors=True)
    shutil.rmtree(bouncer.directory, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
