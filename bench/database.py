"""The throwaway database: created, seeded, settled between loads, and loaded by pgbench."""

import contextlib
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from string import Template

import psycopg
from psycopg import sql
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy.engine import make_url

from bench.config import (
    CONTENT,
    EMAILS,
    PASSWORD,
    POST_CHAT_PREFIX,
    POSTER_ID,
    POSTER_SESSION_ID,
    READ_CHAT_ID,
    READER_CHATS,
    READER_ID,
    REPLY,
    Config,
    post_chat_id,
)
from bench.log import log
from bench.parsing import PgbenchResult, parse_pgbench


def _admin_url(server: str) -> str:
    return (
        make_url(server)
        .set(drivername="postgresql", database="postgres")
        .render_as_string(hide_password=False)
    )


@contextlib.contextmanager
def throwaway_database(server: str) -> Iterator[str]:
    """A new, empty database on ``server``; dropped on the way out, whatever happened."""
    admin = _admin_url(server)
    name = f"memory_agent_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    log(f"created database {name}")
    try:
        yield (
            make_url(server)
            .set(drivername="postgresql", database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        log(f"dropped database {name}")


_POST_CHAT_SQL = f"CAST('{POST_CHAT_PREFIX}' || lpad(to_hex(CAST(:n AS integer)), 12, '0') AS uuid)"
# A UUIDv7 made in SQL (PostgreSQL 15 has no uuidv7()): the app's ids are v7 too, so the
# primary-key index sees the same right-edge inserts.
_UUID7_SQL = (
    "CAST(encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) placing "
    "substring(int8send(floor(extract(epoch from clock_timestamp()) * 1000)::bigint) from 3) "
    "from 1 for 6), 52, 1), 53, 1), 'hex') AS uuid)"
)


def seed(database_url: str, config: Config) -> None:
    """Filler users, chats and messages, plus the benchmark's own users and chats."""
    password_hash = PasswordHash((Argon2Hasher(),)).hash(PASSWORD)
    started = time.monotonic()
    with psycopg.connect(database_url) as connection, connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO users (id, email, password_hash, created_at)
            SELECT gen_random_uuid(), 'filler-' || n || '@example.com', %(hash)s,
                   now() - n * interval '1 minute'
            FROM generate_series(1, %(users)s) AS n
            """,
            {"hash": password_hash, "users": config.filler_users},
        )
        cursor.execute(
            """
            INSERT INTO chats (id, user_id, title, created_at, updated_at)
            SELECT gen_random_uuid(), u.id, 'Filler chat ' || c,
                   now() - interval '1 day', now() - c * interval '1 minute'
            FROM users AS u CROSS JOIN generate_series(1, 3) AS c
            """
        )
        cursor.execute(
            """
            INSERT INTO messages (id, chat_id, user_id, role, content, created_at)
            SELECT gen_random_uuid(), ch.id, ch.user_id,
                   CASE WHEN m % 2 = 1 THEN 'user' ELSE 'assistant' END,
                   'Filler message ' || m, ch.created_at + m * interval '1 second'
            FROM chats AS ch CROSS JOIN generate_series(1, 4) AS m
            """
        )
        cursor.executemany(
            "INSERT INTO users (id, email, password_hash, created_at) "
            "VALUES (%s, %s, %s, now() - interval '2 days')",
            [(user_id, email, password_hash) for user_id, email in EMAILS.items()],
        )
        cursor.execute(
            """
            INSERT INTO sessions (id, user_id, refresh_hash, created_at, last_used_at,
                                  expires_at, user_agent, client_address)
            VALUES (%(session)s, %(user)s, %(hash)s, now(), now(), now() + interval '1 day',
                    'pgbench', NULL)
            """,
            {"session": POSTER_SESSION_ID, "user": POSTER_ID, "hash": "0" * 64},
        )
        cursor.execute(
            """
            INSERT INTO chats (id, user_id, title, created_at, updated_at)
            VALUES (%(chat)s, %(user)s, 'The long one', now() - interval '2 days', now())
            """,
            {"chat": READ_CHAT_ID, "user": READER_ID},
        )
        cursor.execute(
            """
            INSERT INTO chats (id, user_id, title, created_at, updated_at)
            SELECT gen_random_uuid(), %(user)s, 'Reader chat ' || n,
                   now() - interval '2 days', now() - n * interval '1 hour'
            FROM generate_series(1, %(more)s) AS n
            """,
            {"user": READER_ID, "more": READER_CHATS - 1},
        )
        cursor.execute(
            """
            INSERT INTO messages (id, chat_id, user_id, role, content, created_at)
            SELECT gen_random_uuid(), %(chat)s, %(user)s,
                   CASE WHEN n %% 2 = 1 THEN 'user' ELSE 'assistant' END,
                   CASE WHEN n %% 2 = 1 THEN 'Message number ' || n || ': ' || %(content)s
                        ELSE %(reply)s END,
                   now() - interval '2 days' + n * interval '1 second'
            FROM generate_series(1, %(count)s) AS n
            """,
            {
                "chat": READ_CHAT_ID,
                "user": READER_ID,
                "content": CONTENT,
                "reply": REPLY,
                "count": config.messages,
            },
        )
        cursor.executemany(
            "INSERT INTO chats (id, user_id, title, created_at, updated_at) "
            "VALUES (%s, %s, %s, now() - interval '1 day', now() - interval '1 day')",
            [
                (post_chat_id(n), POSTER_ID, f"Post chat {n}")
                for n in range(1, config.post_chats + 1)
            ],
        )
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")
    log(f"seeded in {time.monotonic() - started:.1f} s")


# The SQL of ``PostMessage``, statement for statement, as one pgbench transaction: the
# ownership check, then the exchange and the chat's activity in one statement (autocommit).
_PGBENCH_SCRIPT = Template(
    """\\set n random(1, $chats)
SELECT chats.id, chats.user_id, chats.title, chats.created_at, chats.updated_at \
FROM chats WHERE chats.id = $chat AND chats.user_id = $poster AND (EXISTS (SELECT 1 \
FROM sessions WHERE sessions.id = $session AND sessions.user_id = $poster \
AND sessions.revoked_at IS NULL AND sessions.expires_at > now()));
WITH added AS (INSERT INTO messages (id, chat_id, user_id, role, content, created_at) \
VALUES ($uuid7, $chat, $poster, 'user', '$content', clock_timestamp()), \
($uuid7, $chat, $poster, 'assistant', '$reply', clock_timestamp())) \
UPDATE chats SET updated_at = greatest(chats.updated_at, clock_timestamp()) \
WHERE chats.id = $chat;
"""
)


def settle(database_url: str) -> None:
    """Vacuum what the last load dirtied and checkpoint, so one load's debris doesn't slow the next.

    Each POST leaves a dead version of its chat row behind (``updated_at`` is indexed,
    so no HOT update); pgbench leaves tens of thousands. Production has autovacuum for
    that (this machine's server runs with it off), and a checkpoint started by one
    load's WAL would otherwise land in the middle of the next.
    """
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute("VACUUM (ANALYZE) chats")
        connection.execute("VACUUM (ANALYZE) messages")
        # Not a superuser (nor pg_checkpoint)? The vacuum is the part that matters.
        with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
            connection.execute("CHECKPOINT")


def pgbench_script(config: Config) -> str:
    return _PGBENCH_SCRIPT.substitute(
        chats=config.post_chats,
        chat=_POST_CHAT_SQL,
        poster=f"CAST('{POSTER_ID}' AS uuid)",
        session=f"CAST('{POSTER_SESSION_ID}' AS uuid)",
        uuid7=_UUID7_SQL,
        content=CONTENT,
        reply=REPLY,
    )


def run_pgbench(database_url: str, script: Path, config: Config) -> PgbenchResult:
    url = make_url(database_url)
    env = {**os.environ}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    command = [
        "pgbench",
        "--no-vacuum",
        "--protocol=prepared",  # psycopg prepares a statement after 5 runs: same as the app
        f"--client={config.pgbench_clients}",
        f"--jobs={min(config.pgbench_clients, os.cpu_count() or 1)}",
        f"--time={max(1, round(config.duration))}",
        f"--file={script}",
        f"--host={url.host or '127.0.0.1'}",
        f"--port={url.port or 5432}",
        f"--username={url.username or 'postgres'}",
        str(url.database),
    ]
    done = subprocess.run(  # noqa: S603 (our own command line)
        command, env=env, capture_output=True, text=True, timeout=config.duration + 60, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"pgbench failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return parse_pgbench(done.stdout)
