"""The composition root: the only module that knows which adapter serves which port."""

import asyncio
import contextlib
from datetime import timedelta
from typing import Protocol, runtime_checkable

from dependency_injector import containers, providers

from adapters.common_passwords import load_common_passwords
from adapters.email_addresses import EmailValidatorEmailRule
from adapters.jwt_tokens import JwtTokenService
from adapters.mail.log import LogEmailSender
from adapters.mail.smtp import SmtpEmailSender
from adapters.memory.storage import InMemoryStorage
from adapters.memory.unit_of_work import InMemoryStore
from adapters.password_hashing import PwdlibPasswordHasher
from adapters.placeholder_assistant import PlaceholderAssistant
from adapters.sqlalchemy.database import PoolSettings
from adapters.sqlalchemy.storage import SqlAlchemyStorage
from application.admin import (
    DeleteUser,
    FindUserByEmail,
    GetChatAdmin,
    ListMessagesAdmin,
    ListUsers,
)
from application.auth import (
    AuthenticateUser,
    IdentifyCaller,
    LoginUser,
    RegisterUser,
    ThrottlePolicy,
)
from application.chats import CreateChat, DeleteChat, GetChat, ListChats, RenameChat
from application.maintenance import PurgeExpiredRecords
from application.messages import ListMessages, PostMessage
from application.password_check import PasswordCheck
from application.password_reset import (
    DeliverEmail,
    RequestPasswordReset,
    ResetPassword,
    ResetSettings,
)
from application.ports import EmailSender, PoolStatus, Readiness, UnitOfWork
from application.sessions import (
    EndSession,
    ListSessions,
    RefreshSession,
    RevokeOtherSessions,
    RevokeSession,
    SessionIssuer,
)
from application.users import (
    ChangePassword,
    DeleteAccount,
    ExportUserData,
    GetProfile,
    SetPassword,
)
from domain.chats import TextLimits
from domain.passwords import PasswordPolicy
from domain.throttling import Limit
from entrypoints.housekeeping import Housekeeping
from entrypoints.settings import Settings

# At shutdown, how long replies still being written may take to be stored.
REPLY_DRAIN_SECONDS = 30.0


class Storage(Protocol):
    """One storage technology with its lifetime (adapters/sqlalchemy, adapters/memory)."""

    @property
    def readiness(self) -> Readiness: ...

    def unit_of_work(self) -> UnitOfWork: ...

    def pool_status(self) -> PoolStatus | None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def _throttle_policy(settings: Settings) -> ThrottlePolicy:
    login_window = timedelta(seconds=settings.login_failure_window_seconds)
    return ThrottlePolicy(
        login_per_email=Limit(settings.login_max_failures_per_email, login_window),
        login_per_client=Limit(settings.login_max_failures_per_client, login_window),
        register_per_client=Limit(
            settings.register_max_per_client, timedelta(seconds=settings.register_window_seconds)
        ),
    )


def _reset_settings(settings: Settings) -> ResetSettings:
    window = timedelta(seconds=settings.password_reset_window_seconds)
    return ResetSettings(
        expires=timedelta(minutes=settings.password_reset_expire_minutes),
        link=settings.password_reset_url or None,
        per_email=Limit(settings.password_reset_max_per_email, window),
        per_client=Limit(settings.password_reset_max_per_client, window),
    )


def _email_sender(settings: Settings) -> EmailSender | None:
    """SMTP when SMTP_HOST is set; else the log, outside production only.

    In production without SMTP_HOST there is no sender at all, and a reset request is
    refused (503) rather than accepted and silently never delivered.
    """
    if settings.smtp_host:
        password = settings.smtp_password
        return SmtpEmailSender(
            host=settings.smtp_host,
            port=settings.smtp_port,
            security=settings.smtp_security,
            username=settings.smtp_username,
            password=password.get_secret_value() if password else None,
            sender=settings.mail_from,
            timeout=settings.smtp_timeout_seconds,
        )
    if settings.app_env != "production":
        return LogEmailSender()
    return None


def _attempt_retention(settings: Settings) -> timedelta:
    longest = max(
        settings.login_failure_window_seconds,
        settings.register_window_seconds,
        settings.password_reset_window_seconds,
    )
    return timedelta(seconds=longest)


def _pool_settings(settings: Settings) -> PoolSettings:
    return PoolSettings(
        size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        checkout_timeout=settings.db_pool_timeout_seconds,
        connect_timeout=settings.db_connect_timeout_seconds,
        statement_timeout_ms=settings.db_statement_timeout_ms,
        transaction_pooler=settings.database_pooler == "transaction",
    )


@runtime_checkable
class _Closable(Protocol):
    def close(self) -> None: ...


def _unit_of_work(storage: Storage) -> UnitOfWork:
    return storage.unit_of_work()


def _readiness(storage: Storage) -> Readiness:
    return storage.readiness


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)

    # Storage: this line picks the technology. Its units of work, readiness probe,
    # start (schema) and stop (pool) come with it; start() and stop() below run them.
    pool_settings = providers.Singleton(_pool_settings, settings)
    storage = providers.Singleton(
        SqlAlchemyStorage,
        settings.provided.database_url,
        pool_settings,
        migrate_on_start=settings.provided.migrate_on_startup,
        migration_url=settings.provided.migration_url,
    )
    memory_store = providers.Singleton(InMemoryStore)
    memory_storage = providers.Singleton(InMemoryStorage, memory_store)
    uow = providers.Factory(_unit_of_work, storage)
    readiness = providers.Callable(_readiness, storage)

    # Other adapters.
    # Thread-safe: first calls that race from threads must each get the same pool of
    # hashing threads, not one pool apiece (see bench/RESULTS.md).
    password_hasher = providers.ThreadSafeSingleton(
        PwdlibPasswordHasher, workers=settings.provided.hash_workers
    )
    tokens = providers.Singleton(
        JwtTokenService,
        secret=settings.provided.jwt_secret.get_secret_value.call(),
        expires_minutes=settings.provided.access_token_expire_minutes,
    )
    session_issuer = providers.Singleton(
        SessionIssuer,
        tokens=tokens,
        refresh_lifetime=providers.Callable(
            lambda days: timedelta(days=days), settings.provided.refresh_token_expire_days
        ),
    )
    assistant = providers.Singleton(PlaceholderAssistant)
    email_sender = providers.Singleton(_email_sender, settings)

    # Rules chosen by settings.
    text_limits = providers.Singleton(
        TextLimits,
        max_title_chars=settings.provided.max_title_chars,
        max_content_chars=settings.provided.max_content_chars,
    )
    email_rule = providers.Singleton(EmailValidatorEmailRule)
    password_policy = providers.Singleton(
        PasswordPolicy, common=providers.Callable(load_common_passwords)
    )
    throttle_policy = providers.Singleton(_throttle_policy, settings)
    reset_settings = providers.Singleton(_reset_settings, settings)
    # Every verification of an account's password goes through this one (login, account
    # deletion, password change), so all of them share the per-account failure limit.
    password_check = providers.Singleton(
        PasswordCheck,
        uow=uow.provider,
        hasher=password_hasher,
        per_account=throttle_policy.provided.login_per_email,
        per_client=throttle_policy.provided.login_per_client,
    )

    # Use cases. They receive the uow *provider*, so overriding ``uow`` reaches them.
    register_user = providers.Singleton(
        RegisterUser,
        uow=uow.provider,
        hasher=password_hasher,
        issuer=session_issuer,
        policy=password_policy,
        emails=email_rule,
        throttle=throttle_policy,
    )
    login_user = providers.Singleton(
        LoginUser,
        uow=uow.provider,
        passwords=password_check,
        issuer=session_issuer,
        emails=email_rule,
    )
    refresh_session = providers.Singleton(RefreshSession, uow=uow.provider, issuer=session_issuer)
    end_session = providers.Singleton(EndSession, uow=uow.provider)
    list_sessions = providers.Singleton(ListSessions, uow=uow.provider)
    revoke_session = providers.Singleton(RevokeSession, uow=uow.provider)
    revoke_other_sessions = providers.Singleton(RevokeOtherSessions, uow=uow.provider)
    request_password_reset = providers.Singleton(
        RequestPasswordReset,
        uow=uow.provider,
        sender=email_sender,
        emails=email_rule,
        settings=reset_settings,
    )
    deliver_email = providers.Singleton(DeliverEmail, sender=email_sender)
    reset_password = providers.Singleton(
        ResetPassword, uow=uow.provider, hasher=password_hasher, policy=password_policy
    )
    refresh_session = providers.Singleton(RefreshSession, uow=uow.provider, issuer=session_issuer)
    end_session = providers.Singleton(EndSession, uow=uow.provider)
    list_sessions = providers.Singleton(ListSessions, uow=uow.provider)
    revoke_session = providers.Singleton(RevokeSession, uow=uow.provider)
    revoke_other_sessions = providers.Singleton(RevokeOtherSessions, uow=uow.provider)
    authenticate_user = providers.Singleton(AuthenticateUser, uow=uow.provider, tokens=tokens)
    identify_caller = providers.Singleton(IdentifyCaller, tokens=tokens)
    in_flight_for = providers.Callable(
        lambda seconds: timedelta(seconds=seconds), settings.provided.idempotency_in_flight_seconds
    )
    create_chat = providers.Singleton(
        CreateChat, uow=uow.provider, limits=text_limits, in_flight_for=in_flight_for
    )
    list_chats = providers.Singleton(ListChats, uow=uow.provider)
    get_chat = providers.Singleton(GetChat, uow=uow.provider)
    rename_chat = providers.Singleton(RenameChat, uow=uow.provider, limits=text_limits)
    delete_chat = providers.Singleton(DeleteChat, uow=uow.provider)
    post_message = providers.Singleton(
        PostMessage,
        uow=uow.provider,
        assistant=assistant,
        limits=text_limits,
        in_flight_for=in_flight_for,
    )
    list_messages = providers.Singleton(ListMessages, uow=uow.provider)
    get_profile = providers.Singleton(GetProfile, uow=uow.provider)
    export_user_data = providers.Singleton(ExportUserData, uow=uow.provider)
    delete_account = providers.Singleton(DeleteAccount, uow=uow.provider, passwords=password_check)
    change_password = providers.Singleton(
        ChangePassword,
        uow=uow.provider,
        passwords=password_check,
        hasher=password_hasher,
        policy=password_policy,
    )
    set_password = providers.Singleton(
        SetPassword, uow=uow.provider, hasher=password_hasher, policy=password_policy
    )
    purge_expired_records = providers.Singleton(
        PurgeExpiredRecords,
        uow=uow.provider,
        idempotency_retention=providers.Callable(
            lambda hours: timedelta(hours=hours), settings.provided.idempotency_retention_hours
        ),
        attempt_retention=providers.Callable(_attempt_retention, settings),
    )
    housekeeping = providers.Singleton(
        Housekeeping,
        purge=purge_expired_records,
        interval_seconds=settings.provided.maintenance_interval_seconds,
    )

    # Operator use cases (the command line only; no HTTP route exposes them).
    list_users = providers.Singleton(ListUsers, uow=uow.provider)
    find_user_by_email = providers.Singleton(FindUserByEmail, uow=uow.provider, emails=email_rule)
    delete_user = providers.Singleton(DeleteUser, uow=uow.provider, emails=email_rule)
    get_chat_admin = providers.Singleton(GetChatAdmin, uow=uow.provider)
    list_messages_admin = providers.Singleton(ListMessagesAdmin, uow=uow.provider)


async def start(container: Container) -> None:
    """Ready a serving process: storage first (the schema), then the background chores."""
    await container.storage().start()
    container.housekeeping().start()


async def stop(container: Container) -> None:
    """Close what ``start`` and first use opened, last first; the container stays usable."""
    await container.housekeeping().stop()
    # Replies still being written (their clients may have disconnected) are stored first.
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(REPLY_DRAIN_SECONDS):
            await container.post_message().finish_replies()
    await container.storage().stop()
    for adapter in (container.password_hasher(),):  # threads of their own
        if isinstance(adapter, _Closable):  # a stand-in (tests) may have none
            adapter.close()


def use_memory_adapters(container: Container) -> None:
    """Serve every storage port from process memory (no database)."""
    container.storage.override(container.memory_storage)
