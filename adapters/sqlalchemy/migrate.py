"""Schema migrations (Alembic) driven from code: the app's startup and the CLI use this."""

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, create_engine, pool, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError

from adapters.sqlalchemy.database import ConnectionPool, psycopg_url
from adapters.sqlalchemy.tables import metadata

# Alembic (with Mako and Pygments behind it) is imported by the functions that migrate,
# not here: every CLI command and every app start imports this module, and most of
# them never migrate. Importing it at the top made each command start visibly slower.
if TYPE_CHECKING:
    from alembic.config import Config

_MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant works; it only has to be the same for every process of this app.
ADVISORY_LOCK_KEY = 0x6D656D6F7279  # "memory"
# Seconds a start waits for another process's migration before giving up.
LOCK_TIMEOUT_SECONDS = 120.0
_LOCK_NOT_AVAILABLE = "55P03"

logger = logging.getLogger(__name__)


def alembic_config(database_url: str | URL) -> "Config":
    from alembic.config import Config

    config = Config()
    # Alembic's config is a ConfigParser: a bare `%` (URL escapes, `?host=%2F...`) breaks it.
    config.set_main_option("script_location", str(_MIGRATIONS).replace("%", "%%"))
    url = database_url if isinstance(database_url, URL) else psycopg_url(database_url)
    rendered = url.render_as_string(hide_password=False)
    config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return config


class MigrationLockTimeout(RuntimeError):
    """Another process held the migration lock for longer than this one would wait."""


class UnknownSchema(RuntimeError):
    """The database's schema is at a revision these migrations do not know, and lacks
    what this code needs: not a newer release's schema but someone else's."""


def _locked(
    database_url: str,
    action: str,
    revision: str,
    *,
    statement_timeout_ms: int | None,
    lock_timeout_seconds: float,
    keep_newer: bool = False,
) -> None:
    """Run one Alembic command in one transaction, under a transaction-scoped advisory lock.

    Several API instances start at once; the lock makes the first migrate and the others
    find the schema already at head. The lock belongs to the transaction, so it ends with
    it whatever happens (commit, rollback, a dropped connection), and it behaves the same
    straight to PostgreSQL and through a transaction pooler, which runs the whole
    transaction on one server connection (a session-level lock could stay behind on a
    pooled server connection). ``lock_timeout`` bounds every wait in the transaction,
    the lock's and the DDL's: a start that cannot migrate fails instead of hanging.
    """
    engine = create_engine(
        psycopg_url(database_url),
        poolclass=pool.NullPool,
        # Nothing prepared may stay behind on a pooler's server connection.
        connect_args={"prepare_threshold": None},
    )
    try:
        with engine.connect() as connection, connection.begin():
            timeout_ms = max(1, round(lock_timeout_seconds * 1000))
            connection.execute(text(f"SET LOCAL lock_timeout = {timeout_ms}"))
            # A database default (below) must not cut a long migration short.
            connection.execute(text("SET LOCAL statement_timeout = 0"))
            try:
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
                )
            except OperationalError as error:
                if getattr(error.orig, "sqlstate", None) != _LOCK_NOT_AVAILABLE:
                    raise
                raise MigrationLockTimeout(
                    f"another process has held the migration lock for {lock_timeout_seconds:g} s"
                ) from None
            if keep_newer and _is_newer(current := current_revision(connection)):
                missing = missing_columns(connection.execute(_COLUMNS).all())
                if missing:
                    raise UnknownSchema(
                        f"the schema is at revision {current}, which these migrations do not "
                        f"know, and lacks {', '.join(missing)}: is DATABASE_URL right?"
                    )
                logger.warning(
                    "the schema is at revision %s, newer than this code's %s: left as it is",
                    current,
                    head_revision(),
                )
                return
            from alembic import command

            config = alembic_config(database_url)
            # Alembic runs inside this transaction (it sees one is open).
            config.attributes["connection"] = connection
            if action == "upgrade":
                command.upgrade(config, revision)
            else:
                command.downgrade(config, revision)
            if statement_timeout_ms is not None:
                _set_database_statement_timeout(connection, statement_timeout_ms)
    finally:
        engine.dispose()


def _set_database_statement_timeout(connection: Connection, milliseconds: int) -> None:
    """Make ``milliseconds`` the statement timeout of every new session on this database.

    Sessions already open keep theirs (a pooler's server connections until they are
    replaced). Needs the database's owner, which the role that created it is.
    """
    name = connection.execute(text("SELECT current_database()")).scalar_one()
    quoted = connection.dialect.identifier_preparer.quote(name)
    connection.execute(text(f"ALTER DATABASE {quoted} SET statement_timeout = {int(milliseconds)}"))


def upgrade(
    database_url: str,
    revision: str = "head",
    *,
    statement_timeout_ms: int | None = None,
    lock_timeout_seconds: float = LOCK_TIMEOUT_SECONDS,
    keep_newer: bool = False,
) -> None:
    """Migrate to ``revision``; with ``statement_timeout_ms``, also make it the database's.

    ``keep_newer``: a schema at a revision these migrations do not know was migrated by a
    newer release (a rolling deploy); leave it as it is instead of failing.
    """
    _locked(
        database_url,
        "upgrade",
        revision,
        statement_timeout_ms=statement_timeout_ms,
        lock_timeout_seconds=lock_timeout_seconds,
        keep_newer=keep_newer,
    )


def downgrade(
    database_url: str,
    revision: str = "-1",
    *,
    lock_timeout_seconds: float = LOCK_TIMEOUT_SECONDS,
) -> None:
    _locked(
        database_url,
        "downgrade",
        revision,
        statement_timeout_ms=None,
        lock_timeout_seconds=lock_timeout_seconds,
    )


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("postgresql://")).get_current_head()


def known_revisions() -> set[str]:
    """Every revision this code's migrations define."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(alembic_config("postgresql://"))
    return {script.revision for script in scripts.walk_revisions()}


def _is_newer(revision: str | None) -> bool:
    """A revision these migrations do not know: a newer release's, if the schema has what
    this code needs (``missing_columns``)."""
    return revision is not None and revision not in known_revisions()


_COLUMNS = text(
    "SELECT table_name, column_name FROM information_schema.columns "
    "WHERE table_schema = current_schema()"
)


def missing_columns(found: Iterable[Sequence[Any]]) -> list[str]:
    """``table.column`` this code's tables need that are not among ``found`` (rows of
    ``_COLUMNS``). A newer release adds before it takes away, so its schema lacks none."""
    present = {(table, column) for table, column in found}
    return [
        f"{table.name}.{column.name}"
        for table in metadata.sorted_tables
        for column in table.columns
        if (table.name, column.name) not in present
    ]


def current_revision(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


_HAS_VERSION_TABLE = text("SELECT to_regclass('alembic_version') IS NOT NULL")
_VERSION = text("SELECT version_num FROM alembic_version")


class SqlAlchemyReadiness:
    """Whether the database answers and its schema is one this code can work with.

    That is this code's latest migration, or one it does not know but with every table
    and column this code uses: a newer release,
    rolling out beside this one, has migrated further. Its migrations add before they
    take away (README, "Deploying"), so the instances still running the older code stay
    in service until they are replaced. A known older revision, or none, means this
    code's migrations have not run yet.
    """

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool
        self._head = head_revision()
        self._known = known_revisions()  # read once: probes come often

    async def problems(self) -> list[str]:
        try:
            async with self._pool.connection() as connection:
                # Read directly: Alembic's MigrationContext logs two INFO lines each time.
                cursor = connection.cursor
                await cursor.execute(_HAS_VERSION_TABLE.text)
                current = None
                if (await cursor.fetchone() or (False,))[0]:
                    await cursor.execute(_VERSION.text)
                    current = (await cursor.fetchone() or (None,))[0]
        except Exception as error:  # any failure to reach it means "not ready"
            return [f"database unreachable ({type(error).__name__})"]
        if current == self._head:
            return []
        if current is None or current in self._known:
            return [f"schema at revision {current}, expected {self._head}"]
        # Unknown: a newer release's, if it has everything this code needs.
        try:
            async with self._pool.connection() as connection:
                await connection.cursor.execute(_COLUMNS.text)
                missing = missing_columns(await connection.cursor.fetchall())
        except Exception as error:
            return [f"database unreachable ({type(error).__name__})"]
        if missing:
            return [f"schema at unknown revision {current}, lacking {', '.join(missing)}"]
        return []
