"""Settings from the environment and ``.env`` (environment variables win)."""

import logging
import os
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "supersecret"  # the committed .env's value: fine on a laptop, never in production
MIN_JWT_SECRET_BYTES = 32

logger = logging.getLogger(__name__)


class InsecureSettings(RuntimeError):
    """A production start with settings that would make the service unsafe."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # The spec's three, with its names and defaults.
    database_url: str = "postgresql://postgres:postgres@localhost:5432/memorydb"
    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    access_token_expire_minutes: int = Field(default=10080, ge=1)
    # A session lasts this long after its last refresh (each refresh restarts it).
    refresh_token_expire_days: int = Field(default=30, ge=1)

    app_env: Literal["development", "test", "production"] = "development"
    log_level: str = "INFO"
    migrate_on_startup: bool = True

    # Where the app's connections go through: "none" (straight to PostgreSQL, or a pooler
    # in session mode) or "transaction" (PgBouncer's transaction mode, or a managed
    # service's transaction pooler): then no state is left on a server connection.
    database_pooler: Literal["none", "transaction"] = "none"
    # A direct connection for migrations and `memory-agent db ...` (default: DATABASE_URL).
    migration_database_url: str | None = None

    # Database pool; every wait is bounded so a dead database fails requests fast.
    db_pool_size: int = Field(default=20, ge=1)
    db_max_overflow: int = Field(default=0, ge=0)
    db_pool_timeout_seconds: float = Field(default=5.0, gt=0)
    db_connect_timeout_seconds: int = Field(default=5, ge=1)
    db_statement_timeout_ms: int = Field(default=10_000, ge=0)

    # Input bounds.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1)
    # The server's (``memory-agent serve``): a request's line and headers together, and
    # the time its head and body may take to arrive.
    max_header_bytes: int = Field(default=16 * 1024, ge=1024)
    request_read_timeout_seconds: float = Field(default=30.0, gt=0)
    max_title_chars: int = Field(default=200, ge=1, le=200)
    max_content_chars: int = Field(default=32_000, ge=1)

    # Password hashing: threads at most; None shares the CPUs among the worker processes.
    password_hash_workers: int | None = Field(default=None, ge=1)
    # Worker processes serving on this machine (uvicorn's variable; ``serve --workers``
    # sets it for its workers).
    web_concurrency: int = Field(default=1, ge=1)

    # Throttling (0 turns a limit off).
    login_max_failures_per_email: int = Field(default=5, ge=0)
    login_max_failures_per_client: int = Field(default=50, ge=0)
    login_failure_window_seconds: int = Field(default=900, ge=1)
    register_max_per_client: int = Field(default=20, ge=0)
    register_window_seconds: int = Field(default=3600, ge=1)
    trusted_proxies: list[str] = Field(default_factory=list)

    # Outgoing mail (password reset). Without SMTP_HOST, development and test write each
    # message to the log; production refuses reset requests (503, see the README).
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    mail_from: str = "Memory Agent <no-reply@localhost>"

    # Password reset by e-mail. The link is PASSWORD_RESET_URL?token=...; without it the
    # e-mail carries the bare token. Requests are limited per email and per client
    # address in one window (0 turns a limit off).
    password_reset_url: str | None = None
    password_reset_expire_minutes: int = Field(default=30, ge=1)
    password_reset_max_per_email: int = Field(default=3, ge=0)
    password_reset_max_per_client: int = Field(default=20, ge=0)
    password_reset_window_seconds: int = Field(default=3600, ge=1)

    cors_origins: list[str] = Field(default_factory=list)
    # GET /metrics exists only when set, and answers only "Authorization: Bearer <token>".
    metrics_token: SecretStr | None = None
    # FastAPI's own OpenTelemetry spans, metrics and logs, for a process that configures
    # an OpenTelemetry SDK; off, no request pays for looking for one.
    telemetry_enabled: bool = False
    # /docs, /redoc and /openapi.json; unset: on, except with APP_ENV=production.
    docs_enabled: bool | None = None
    idempotency_retention_hours: int = Field(default=24, ge=24)
    # A key whose request died (process killed) blocks its owner's retries this long.
    idempotency_in_flight_seconds: int = Field(default=120, ge=1)
    maintenance_interval_seconds: int = Field(default=3600, ge=1)

    def check_secrets(self) -> None:
        """Refuse a production start with the dev secret; warn about it elsewhere."""
        secret = self.jwt_secret.get_secret_value()
        weak = secret == DEV_JWT_SECRET or len(secret.encode()) < MIN_JWT_SECRET_BYTES
        if not weak:
            return
        reason = (
            f"JWT_SECRET is the development default or shorter than {MIN_JWT_SECRET_BYTES} "
            "bytes; set a long random one (e.g. `openssl rand -hex 32`)."
        )
        if self.app_env == "production":
            raise InsecureSettings(f"Refusing to start in production: {reason}")
        logger.warning("%s Acceptable only outside production.", reason)

    @property
    def migration_url(self) -> str:
        return self.migration_database_url or self.database_url

    @property
    def statement_timeout_on_database(self) -> int | None:
        """The statement timeout migrations write on the database, or None to leave it be.

        Behind a transaction pooler the app cannot send it when it connects (poolers refuse
        startup options) nor set it per session (the next transaction may run on another
        server connection), so it becomes the database's own default; the app sends it
        at connect time otherwise.
        """
        return self.db_statement_timeout_ms if self.database_pooler == "transaction" else None

    @property
    def docs_on(self) -> bool:
        return self.docs_enabled if self.docs_enabled is not None else self.app_env != "production"

    @property
    def hash_workers(self) -> int:
        """Hashing threads per process: together, the processes hash on every CPU and no
        more, since more threads than CPUs only make the other requests wait."""
        if self.password_hash_workers:
            return self.password_hash_workers
        return max(1, (os.cpu_count() or 1) // self.web_concurrency)
