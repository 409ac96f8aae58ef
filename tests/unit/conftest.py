"""Fakes and fixtures for unit tests: in-memory adapters, no database, no HTTP."""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import cast

import pytest

from adapters.email_addresses import EmailValidatorEmailRule
from adapters.jwt_tokens import JwtTokenService
from adapters.memory.unit_of_work import InMemoryStore, InMemoryUnitOfWork
from adapters.placeholder_assistant import PlaceholderAssistant
from application.auth import AuthenticateUser, LoginUser, RegisterUser, ThrottlePolicy
from application.chats import CreateChat, DeleteChat, GetChat, ListChats, RenameChat
from application.messages import ListMessages, PostMessage
from application.password_check import PasswordCheck
from application.ports import UnitOfWork
from application.sessions import (
    EndSession,
    ListSessions,
    RefreshSession,
    RevokeOtherSessions,
    RevokeSession,
    SessionIssuer,
)
from application.users import DeleteAccount, ExportUserData, GetProfile
from domain.chats import TextLimits
from domain.passwords import PasswordPolicy
from domain.sessions import Caller

SECRET = "unit-test-secret-" + "0123456789abcdef" * 4  # 80 bytes: enough even for HS512
PASSWORD = "correct horse battery staple"
COMMON_PASSWORDS = frozenset({"password", "12345678", "qwertyuiop", "iloveyou"})

FAKE_PREFIX = "fake$"
OLD_PREFIX = "old$"


@dataclass
class FakePasswordHasher:
    """Instant and transparent: ``fake$<password>``; ``old$<password>`` counts as outdated."""

    hashed: list[str] = field(default_factory=list)
    verified: list[tuple[str, str]] = field(default_factory=list)
    burned: list[str] = field(default_factory=list)

    async def hash(self, password: str) -> str:
        self.hashed.append(password)
        await asyncio.sleep(0)  # yield, as the real one does, so concurrent calls interleave
        return FAKE_PREFIX + password

    async def verify(self, password: str, password_hash: str) -> tuple[bool, str | None]:
        self.verified.append((password, password_hash))
        if password_hash.startswith(OLD_PREFIX):
            ok = password_hash == OLD_PREFIX + password
            return ok, (FAKE_PREFIX + password if ok else None)
        return password_hash == FAKE_PREFIX + password, None

    async def burn(self, password: str) -> None:
        self.burned.append(password)


@dataclass
class App:
    """Every use case wired to one in-memory store, as the container would wire them."""

    store: InMemoryStore
    hasher: FakePasswordHasher
    tokens: JwtTokenService
    issuer: SessionIssuer
    limits: TextLimits
    register: RegisterUser
    login: LoginUser
    authenticate: AuthenticateUser
    create_chat: CreateChat
    list_chats: ListChats
    get_chat: GetChat
    rename_chat: RenameChat
    delete_chat: DeleteChat
    post_message: PostMessage
    list_messages: ListMessages
    get_profile: GetProfile
    export_user_data: ExportUserData
    delete_account: DeleteAccount
    refresh: RefreshSession
    end_session: EndSession
    list_sessions: ListSessions
    revoke_session: RevokeSession
    revoke_other_sessions: RevokeOtherSessions

    async def sign_up(self, email: str = "alice@example.com", password: str = PASSWORD) -> Caller:
        """Register a user and return them as a caller in their first session."""
        issued = await self.register.execute(email=email, password=password)
        return self.tokens.caller(issued.access.value)


def memory_uow(store: InMemoryStore) -> Callable[[], UnitOfWork]:
    def factory() -> UnitOfWork:
        # The cast is needed because the port declares its repositories as mutable
        # attributes, which mypy treats as invariant; the adapter matches at runtime.
        return cast("UnitOfWork", InMemoryUnitOfWork(store))

    return factory


def build_app(
    throttle: ThrottlePolicy | None = None,
    limits: TextLimits | None = None,
    store: InMemoryStore | None = None,
) -> App:
    store = store or InMemoryStore()
    uow = memory_uow(store)
    hasher = FakePasswordHasher()
    tokens = JwtTokenService(secret=SECRET, expires_minutes=60)
    issuer = SessionIssuer(tokens, timedelta(days=30))
    limits = limits or TextLimits()
    policy = PasswordPolicy(common=COMMON_PASSWORDS)
    assistant = PlaceholderAssistant()
    throttle = throttle or ThrottlePolicy()
    emails = EmailValidatorEmailRule()  # pure computation: the real rule
    passwords = PasswordCheck(uow, hasher, throttle.login_per_email, throttle.login_per_client)
    return App(
        store=store,
        hasher=hasher,
        tokens=tokens,
        issuer=issuer,
        limits=limits,
        register=RegisterUser(uow, hasher, issuer, policy, emails, throttle),
        login=LoginUser(uow, passwords, issuer, emails),
        authenticate=AuthenticateUser(uow, tokens),
        create_chat=CreateChat(uow, limits),
        list_chats=ListChats(uow),
        get_chat=GetChat(uow),
        rename_chat=RenameChat(uow, limits),
        delete_chat=DeleteChat(uow),
        post_message=PostMessage(uow, assistant, limits),
        list_messages=ListMessages(uow),
        get_profile=GetProfile(uow),
        export_user_data=ExportUserData(uow),
        delete_account=DeleteAccount(uow, passwords),
        refresh=RefreshSession(uow, issuer),
        end_session=EndSession(uow),
        list_sessions=ListSessions(uow),
        revoke_session=RevokeSession(uow),
        revoke_other_sessions=RevokeOtherSessions(uow),
    )


@pytest.fixture
def app() -> App:
    return build_app()


@pytest.fixture
def tokens() -> JwtTokenService:
    return JwtTokenService(secret=SECRET, expires_minutes=60)
