"""Schema migrations (Alembic) driven from code: the app's startup and the CLI use this."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, pool, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sqlalchemy.database import psycopg_url

_MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant works; it only has to be the same for every process of this app.
_ADVISORY_LOCK_KEY = 0x6D656D6F7279  # "memory"


def alembic_config(database_url: str | URL) -> Config:
    config = Config()
    # Alembic's config is a ConfigParser: a bare `%` (URL escapes, `?host=%2F...`) breaks it.
    config.set_main_option("script_location", str(_MIGRATIONS).replace("%", "%%"))
    url = database_url if isinstance(database_url, URL) else psycopg_url(database_url)
    rendered = url.render_as_string(hide_password=False)
    config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return config


def _locked(database_url: str, action: str, revision: str) -> None:
    """Run one Alembic command while holding a cluster-wide advisory lock.

    Several API workers start at once; the lock makes the first migrate and the
    others find the schema already at head.
    """
    engine = create_engine(psycopg_url(database_url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})
            try:
                config = alembic_config(database_url)
                config.attributes["connection"] = connection
                if action == "upgrade":
                    command.upgrade(config, revision)
                else:
                    command.downgrade(config, revision)
                connection.commit()
            finally:
                connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": _ADVISORY_LOCK_KEY}
                )
                connection.commit()
    finally:
        engine.dispose()


def upgrade(database_url: str, revision: str = "head") -> None:
    _locked(database_url, "upgrade", revision)


def downgrade(database_url: str, revision: str = "-1") -> None:
    _locked(database_url, "downgrade", revision)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("postgresql://")).get_current_head()


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


class SqlAlchemyReadiness:
    """Whether the database answers and its schema is the one this code expects."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._head = head_revision()

    async def problems(self) -> list[str]:
        try:
            async with self._engine.connect() as connection:
                current = await connection.run_sync(current_revision)
        except Exception as error:  # any failure to reach it means "not ready"
            return [f"database unreachable ({type(error).__name__})"]
        if current != self._head:
            return [f"schema at revision {current}, expected {self._head}"]
        return []
