"""What ``make bench`` and ``make soak`` both run on: a seeded database, the API, wrk scripts."""

import contextlib
import tempfile
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from adapters.sqlalchemy import migrate
from bench.config import EMAILS, POSTER_ID, READER_ID, Config
from bench.database import seed, throwaway_database
from bench.log import log
from bench.server import Server
from bench.wrk import Endpoint, endpoints
from tests.e2e.servers import pgbouncer


@dataclass(frozen=True)
class Stage:
    database_url: str
    scratch: Path
    server: Server
    server_pid: int
    scripts: dict[str, tuple[Endpoint, Path]]  # by endpoint key


@contextlib.contextmanager
def stage(
    config: Config,
    scratch_prefix: str,
    keys: Collection[str] | None = None,
    *,
    log_migration: bool = False,
) -> Iterator[Stage]:
    """A throwaway database, migrated and seeded; the server on it, ready; a wrk script for
    each endpoint of ``keys`` (all of them without).

    If anything fails inside, the server's log tail is logged; on the way out, whatever
    happened, the server stops and the database is dropped. ``log_migration``: say
    "migrating" first (the bench does, the soak never did).
    """
    with (
        tempfile.TemporaryDirectory(prefix=scratch_prefix) as scratch,
        throwaway_database(config.server_url) as database_url,
        contextlib.ExitStack() as stack,  # PgBouncer, if asked: stopped before the drop
    ):
        if log_migration:
            log("migrating")
        migrate.upgrade(database_url)
        seed(database_url, config)
        api_url, extra_env = database_url, {}
        if config.pooler == "pgbouncer":
            bouncer = stack.enter_context(pgbouncer(config.server_url))
            log(f"the API goes through PgBouncer (transaction mode) on port {bouncer.port}")
            name = make_url(database_url).database
            api_url = make_url(bouncer.url).set(database=name).render_as_string(False)
            extra_env = {"DATABASE_POOLER": "transaction", "MIGRATION_DATABASE_URL": database_url}
        server = Server(api_url, config, Path(scratch) / "server.log", extra_env)
        try:
            server.start()
            assert server.process is not None
            reader_token = server.login(EMAILS[READER_ID])
            poster_token = server.login(EMAILS[POSTER_ID])
            scripts: dict[str, tuple[Endpoint, Path]] = {}
            for endpoint in endpoints(config, reader_token, poster_token):
                if keys is None or endpoint.key in keys:
                    path = Path(scratch) / f"{endpoint.key}.lua"
                    path.write_text(endpoint.lua)
                    scripts[endpoint.key] = (endpoint, path)
            yield Stage(database_url, Path(scratch), server, server.process.pid, scripts)
        except BaseException:
            log(f"server log (tail):\n{server.tail()}")
            raise
        finally:
            server.stop()
