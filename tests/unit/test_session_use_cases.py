"""Sessions on the in-memory store: refresh rotation and replay, logout, the session
list, ending sessions, password change and reset by the operator."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from application.auth import ThrottlePolicy
from application.password_check import PasswordCheck
from application.sessions import RefreshSession, SessionTokens
from application.users import ChangePassword, SetPassword
from domain.errors import (
    InvalidCredentials,
    InvalidInput,
    InvalidToken,
    SessionNotFound,
    TooManyAttempts,
    UserNotFound,
    WrongPassword,
)
from domain.ids import new_id
from domain.paging import PageRequest
from domain.passwords import PasswordPolicy
from domain.sessions import Caller
from domain.throttling import Limit
from tests.unit.conftest import COMMON_PASSWORDS, PASSWORD, App, build_app, memory_uow

EMAIL = "alice@example.com"
HOUR = timedelta(hours=1)
NEW_PASSWORD = "a brand new passphrase"


def _caller(app: App, tokens: SessionTokens) -> Caller:
    return app.tokens.caller(tokens.access.value)


async def _live(app: App, tokens: SessionTokens) -> bool:
    try:
        await app.authenticate.execute(token=tokens.access.value)
    except InvalidToken:
        return False
    return True


async def test_register_and_login_each_open_a_session(app: App) -> None:
    registered = await app.register.execute(email=EMAIL, password=PASSWORD, user_agent="ua/1")
    logged_in = await app.login.execute(email=EMAIL, password=PASSWORD, client="10.0.0.1")

    caller = _caller(app, registered)
    sessions = await app.list_sessions.execute(user_id=caller.user_id)
    assert [s.id for s in sessions] == [logged_in.session_id, registered.session_id]
    assert sessions[0].client_address == "10.0.0.1"
    assert sessions[1].user_agent == "ua/1"
    assert caller.session_id == registered.session_id
    assert registered.refresh.expires_in == 30 * 24 * 3600
    # Only a digest of the refresh token is kept.
    assert registered.refresh.value not in app.store.state.refresh_hashes


async def test_a_failed_login_opens_no_session(app: App) -> None:
    await app.register.execute(email=EMAIL, password=PASSWORD)
    with pytest.raises(InvalidCredentials):
        await app.login.execute(email=EMAIL, password="wrong guess")
    assert len(app.store.state.sessions) == 1


async def test_refresh_rotates_and_the_old_token_stops_working(app: App) -> None:
    first = await app.register.execute(email=EMAIL, password=PASSWORD)

    second = await app.refresh.execute(refresh_token=first.refresh.value)

    assert second.session_id == first.session_id
    assert second.refresh.value != first.refresh.value
    assert await _live(app, second)
    third = await app.refresh.execute(refresh_token=second.refresh.value)
    assert await _live(app, third)


async def test_replaying_a_rotated_token_ends_the_session(app: App) -> None:
    first = await app.register.execute(email=EMAIL, password=PASSWORD)
    newest = await app.refresh.execute(refresh_token=first.refresh.value)
    bob = await app.register.execute(email="bob@example.com", password=PASSWORD)

    with pytest.raises(InvalidToken):
        await app.refresh.execute(refresh_token=first.refresh.value)

    assert not await _live(app, newest)
    with pytest.raises(InvalidToken):
        await app.refresh.execute(refresh_token=newest.refresh.value)
    assert await _live(app, bob)


@pytest.mark.parametrize("token", ["", "unknown", "x" * 129])
async def test_an_unknown_refresh_token_is_refused_without_harm(app: App, token: str) -> None:
    tokens = await app.register.execute(email=EMAIL, password=PASSWORD)
    with pytest.raises(InvalidToken):
        await app.refresh.execute(refresh_token=token)
    assert await _live(app, tokens)


async def test_an_expired_session_cannot_be_refreshed(app: App) -> None:
    tokens = await app.register.execute(email=EMAIL, password=PASSWORD)
    session = app.store.state.sessions[tokens.session_id]
    past = datetime.now(UTC) - timedelta(seconds=1)
    app.store.state.sessions[session.id] = replace(session, expires_at=past)

    with pytest.raises(InvalidToken):
        await app.refresh.execute(refresh_token=tokens.refresh.value)
    assert not await _live(app, tokens)


async def test_each_refresh_restarts_the_sessions_lifetime(app: App) -> None:
    short = RefreshSession(memory_uow(app.store), app.issuer)
    tokens = await app.register.execute(email=EMAIL, password=PASSWORD)
    session = app.store.state.sessions[tokens.session_id]
    soon = datetime.now(UTC) + timedelta(minutes=1)
    app.store.state.sessions[session.id] = replace(session, expires_at=soon)

    await short.execute(refresh_token=tokens.refresh.value)

    assert app.store.state.sessions[session.id].expires_at > soon + timedelta(days=29)


async def test_logout_ends_the_session_for_every_use_case(app: App) -> None:
    tokens = await app.register.execute(email=EMAIL, password=PASSWORD)
    caller = _caller(app, tokens)
    chat = await app.create_chat.execute(caller=caller, title="mine", idempotency_key="k")
    other = await app.login.execute(email=EMAIL, password=PASSWORD)

    await app.end_session.execute(caller=caller)

    with pytest.raises(InvalidToken):
        await app.end_session.execute(caller=caller)
    with pytest.raises(InvalidToken):
        await app.refresh.execute(refresh_token=tokens.refresh.value)
    with pytest.raises(InvalidToken):
        await app.list_chats.execute(caller=caller, page=PageRequest())
    with pytest.raises(InvalidToken):
        await app.get_chat.execute(caller=caller, chat_id=chat.id)
    with pytest.raises(InvalidToken):
        await app.rename_chat.execute(caller=caller, chat_id=chat.id, title="x")
    with pytest.raises(InvalidToken):
        await app.delete_chat.execute(caller=caller, chat_id=chat.id)
    with pytest.raises(InvalidToken):
        await app.create_chat.execute(caller=caller, title="new")
    with pytest.raises(InvalidToken):  # a retry of an earlier request is no way around it
        await app.create_chat.execute(caller=caller, title="mine", idempotency_key="k")
    with pytest.raises(InvalidToken):
        await app.post_message.execute(caller=caller, chat_id=chat.id, content="hi")
    with pytest.raises(InvalidToken):
        await app.list_messages.execute(caller=caller, chat_id=chat.id, page=PageRequest())
    assert list(app.store.state.chats) == [chat.id]
    assert await _live(app, other)


async def test_ending_one_session_and_all_others(app: App) -> None:
    here = await app.register.execute(email=EMAIL, password=PASSWORD)
    phone, laptop = [await app.login.execute(email=EMAIL, password=PASSWORD) for _ in range(2)]
    bob = await app.register.execute(email="bob@example.com", password=PASSWORD)
    user_id = _caller(app, here).user_id

    await app.revoke_session.execute(user_id=user_id, session_id=phone.session_id)
    for missing in (phone.session_id, bob.session_id, new_id()):
        with pytest.raises(SessionNotFound):
            await app.revoke_session.execute(user_id=user_id, session_id=missing)
    assert not await _live(app, phone)
    assert await _live(app, laptop)

    await app.revoke_other_sessions.execute(user_id=user_id, keep=here.session_id)
    assert not await _live(app, laptop)
    assert await _live(app, here)
    assert await _live(app, bob)
    assert [s.id for s in await app.list_sessions.execute(user_id=user_id)] == [here.session_id]


def _change_password(app: App) -> ChangePassword:
    uow = memory_uow(app.store)
    passwords = PasswordCheck(uow, app.hasher, Limit(3, HOUR), Limit(0, HOUR))
    return ChangePassword(uow, passwords, app.hasher, PasswordPolicy(common=COMMON_PASSWORDS))


async def test_a_password_change_keeps_this_session_and_ends_the_others(app: App) -> None:
    here = await app.register.execute(email=EMAIL, password=PASSWORD)
    elsewhere = await app.login.execute(email=EMAIL, password=PASSWORD)

    await _change_password(app).execute(
        caller=_caller(app, here), current_password=PASSWORD, new_password=NEW_PASSWORD
    )

    assert await _live(app, here)
    assert not await _live(app, elsewhere)
    with pytest.raises(InvalidCredentials):
        await app.login.execute(email=EMAIL, password=PASSWORD)
    await app.login.execute(email=EMAIL, password=NEW_PASSWORD)


@pytest.mark.parametrize(
    ("current", "new", "error"),
    [("wrong guess", NEW_PASSWORD, WrongPassword), (PASSWORD, "password", InvalidInput)],
)
async def test_a_refused_password_change_changes_nothing(
    app: App, current: str, new: str, error: type[Exception]
) -> None:
    here = await app.register.execute(email=EMAIL, password=PASSWORD)
    elsewhere = await app.login.execute(email=EMAIL, password=PASSWORD)

    with pytest.raises(error):
        await _change_password(app).execute(
            caller=_caller(app, here), current_password=current, new_password=new
        )

    assert await _live(app, elsewhere)
    await app.login.execute(email=EMAIL, password=PASSWORD)


async def test_the_operator_sets_a_password_and_every_session_ends(app: App) -> None:
    here = await app.register.execute(email=EMAIL, password=PASSWORD)
    set_password = SetPassword(
        memory_uow(app.store), app.hasher, PasswordPolicy(common=COMMON_PASSWORDS)
    )
    user_id = _caller(app, here).user_id

    with pytest.raises(InvalidInput):
        await set_password.execute(user_id=user_id, password="password")
    assert await _live(app, here)
    await set_password.execute(user_id=user_id, password=NEW_PASSWORD)

    assert not await _live(app, here)
    await app.login.execute(email=EMAIL, password=NEW_PASSWORD)
    with pytest.raises(UserNotFound):
        await set_password.execute(user_id=new_id(), password=NEW_PASSWORD)


async def test_a_password_set_by_the_operator_opens_a_locked_account() -> None:
    app = build_app(ThrottlePolicy(login_per_email=Limit(2, timedelta(hours=1))))
    here = await app.register.execute(email=EMAIL, password=PASSWORD)
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            await app.login.execute(email=EMAIL, password="somebody else's guess")
    with pytest.raises(TooManyAttempts):
        await app.login.execute(email=EMAIL, password=PASSWORD)
    set_password = SetPassword(
        memory_uow(app.store), app.hasher, PasswordPolicy(common=COMMON_PASSWORDS)
    )

    await set_password.execute(user_id=_caller(app, here).user_id, password=NEW_PASSWORD)

    await app.login.execute(email=EMAIL, password=NEW_PASSWORD)


async def test_deleting_the_account_ends_its_sessions(app: App) -> None:
    here = await app.register.execute(email=EMAIL, password=PASSWORD)
    await app.delete_account.execute(user_id=_caller(app, here).user_id, password=PASSWORD)
    assert not await _live(app, here)
    assert app.store.state.sessions == {}


async def test_wrong_current_passwords_count_against_the_accounts_limit(app: App) -> None:
    here = await app.register.execute(email=EMAIL, password=PASSWORD)
    change = _change_password(app)  # 3 tries an hour
    for _ in range(3):
        with pytest.raises(WrongPassword):
            await change.execute(
                caller=_caller(app, here), current_password="wrong guess", new_password=NEW_PASSWORD
            )

    with pytest.raises(TooManyAttempts):  # even the right one, until the window ends
        await change.execute(
            caller=_caller(app, here), current_password=PASSWORD, new_password=NEW_PASSWORD
        )
