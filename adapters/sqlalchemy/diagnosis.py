"""Why the database cannot be used, in one line a person at a terminal can act on."""

from collections.abc import Iterator

import psycopg
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

# SQLSTATEs, with the server's words as a fallback: a failed connection often has no code.
_WRONG_PASSWORD = ("28P01", "password authentication failed")
_NO_DATABASE = ("3D000", 'database "')
_NO_ROLE = ("28000", 'role "')
_NO_TABLE = "42P01"


def where(database_url: str) -> str:
    """The URL without its password."""
    try:
        return make_url(database_url).render_as_string(hide_password=True)
    except Exception:
        return "DATABASE_URL"


def unreachable(database_url: str) -> str:
    return (
        f"cannot reach PostgreSQL at {where(database_url)}; start one (`memory-agent db start` "
        "runs an embedded one for a local URL, or `docker compose up -d postgres`) "
        "or set DATABASE_URL"
    )


def explain(error: BaseException, database_url: str) -> str | None:
    """The hint for a failure to connect or to find the schema; None when it is neither."""
    url = make_url(database_url)
    for cause in _causes(error):
        code = getattr(cause, "sqlstate", None)
        text = str(cause)
        if code == _NO_TABLE:
            return (
                f"database {url.database} has no schema yet (never migrated); "
                "run `memory-agent db upgrade` (`make run` does)"
            )
        if not isinstance(cause, psycopg.OperationalError):
            continue
        if code == _WRONG_PASSWORD[0] or _WRONG_PASSWORD[1] in text:
            return (
                f"PostgreSQL at {where(database_url)} refused the password of user "
                f"{url.username}; put the right one in DATABASE_URL (environment or .env)"
            )
        if code == _NO_DATABASE[0] or (_NO_DATABASE[1] in text and "does not exist" in text):
            return (
                f"database {url.database} does not exist on {where(database_url)}; "
                "create it with `memory-agent db create` (`make run` does)"
            )
        if code == _NO_ROLE[0] or (_NO_ROLE[1] in text and "does not exist" in text):
            return (
                f"PostgreSQL at {where(database_url)} has no user {url.username}; "
                "create it or change DATABASE_URL"
            )
        return unreachable(database_url)
    return None


def check(database_url: str, timeout_seconds: int = 5) -> str | None:
    """Connect once: None when the database answers, else the one-line hint."""
    conninfo = make_url(database_url).set(drivername="postgresql")
    try:
        with psycopg.connect(
            conninfo.render_as_string(hide_password=False), connect_timeout=timeout_seconds
        ):
            return None
    except psycopg.Error as error:
        return explain(error, database_url) or f"{type(error).__name__}: {error}"


def _causes(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, DBAPIError):
            pending.append(current.orig)
        pending.extend([current.__cause__, current.__context__])
