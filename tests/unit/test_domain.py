"""Domain rules: ids, text limits, password policy, attempt windows."""

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.chats import DEFAULT_CHAT_TITLE, TextLimits
from domain.errors import InvalidInput
from domain.ids import new_id
from domain.passwords import PasswordPolicy
from domain.throttling import AttemptWindow, Limit

# --- ids ---------------------------------------------------------------------


def test_new_id_is_uuid_version_7_with_rfc_variant() -> None:
    value = new_id()
    assert value.version == 7
    assert value.variant == uuid.RFC_4122


def test_new_id_starts_with_the_current_unix_millisecond() -> None:
    before = datetime.now(UTC).timestamp() * 1000
    value = new_id()
    after = datetime.now(UTC).timestamp() * 1000
    # Some slack above: a burst of ids may borrow the next few milliseconds.
    assert before - 1 <= value.int >> 80 <= after + 100


def test_new_id_is_strictly_increasing_over_many_calls() -> None:
    ids = [new_id() for _ in range(10_000)]
    assert all(a < b for a, b in itertools.pairwise(ids))
    assert all(i.version == 7 and i.variant == uuid.RFC_4122 for i in ids)


# --- text limits -------------------------------------------------------------


@pytest.mark.parametrize("raw", [None, "", "   ", "\t\n "])
def test_title_defaults_when_missing_or_blank(raw: str | None) -> None:
    assert TextLimits().title(raw) == DEFAULT_CHAT_TITLE == "New chat"


def test_title_is_trimmed() -> None:
    assert TextLimits().title("  Holiday plans \n") == "Holiday plans"


def test_title_at_the_limit_is_accepted_and_one_more_is_refused() -> None:
    limits = TextLimits(max_title_chars=10)
    assert limits.title("x" * 10) == "x" * 10
    assert limits.title("  " + "x" * 10 + "  ") == "x" * 10  # trimmed before counting
    with pytest.raises(InvalidInput):
        limits.title("x" * 11)


def test_default_title_limit_is_200() -> None:
    TextLimits().title("x" * 200)
    with pytest.raises(InvalidInput):
        TextLimits().title("x" * 201)


@pytest.mark.parametrize("raw", ["a\x00b", "\x00"])
def test_title_with_nul_is_refused(raw: str) -> None:
    with pytest.raises(InvalidInput, match="NUL"):
        TextLimits().title(raw)


def test_content_is_kept_as_sent() -> None:
    assert TextLimits().content("  hello\n") == "  hello\n"


@pytest.mark.parametrize("raw", ["", " ", "\n\t  "])
def test_blank_content_is_refused(raw: str) -> None:
    with pytest.raises(InvalidInput):
        TextLimits().content(raw)


def test_content_over_the_limit_is_refused() -> None:
    limits = TextLimits(max_content_chars=5)
    assert limits.content("12345") == "12345"
    with pytest.raises(InvalidInput):
        limits.content("123456")


def test_default_content_limit_is_32000() -> None:
    TextLimits().content("x" * 32_000)
    with pytest.raises(InvalidInput):
        TextLimits().content("x" * 32_001)


def test_content_with_nul_is_refused() -> None:
    with pytest.raises(InvalidInput, match="NUL"):
        TextLimits().content("hello\x00world")


# --- password policy ---------------------------------------------------------

POLICY = PasswordPolicy(common=frozenset({"password1", "letmein123"}))


def test_password_needs_at_least_8_characters() -> None:
    POLICY.check("abcdefgh")
    with pytest.raises(InvalidInput, match="at least 8"):
        POLICY.check("abcdefg")


def test_password_may_have_at_most_128_characters() -> None:
    POLICY.check("a" * 128)
    with pytest.raises(InvalidInput, match="at most 128"):
        POLICY.check("a" * 129)


def test_password_length_counts_characters_not_bytes() -> None:
    POLICY.check("пароль🔑日本")  # 8 characters, many more bytes
    POLICY.check("é" * 128)
    with pytest.raises(InvalidInput):
        POLICY.check("日本語🔑🔑🔑🔑")  # 7 characters


@pytest.mark.parametrize("password", ["password1", "PASSWORD1", "LetMeIn123"])
def test_common_password_is_refused_whatever_its_case(password: str) -> None:
    with pytest.raises(InvalidInput, match="too common"):
        POLICY.check(password)


def test_password_with_nul_is_refused() -> None:
    with pytest.raises(InvalidInput, match="NUL"):
        POLICY.check("abcd\x00efgh")


def test_default_policy_has_no_composition_rules() -> None:
    PasswordPolicy().check("aaaaaaaa")


# --- attempt windows ---------------------------------------------------------

START = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
LIMIT = Limit(max_attempts=3, window=timedelta(minutes=15))


def test_under_the_limit_may_retry() -> None:
    assert AttemptWindow(2, START).retry_after(LIMIT, START + timedelta(seconds=1)) is None


def test_at_the_limit_waits_until_the_window_ends() -> None:
    window = AttemptWindow(3, START)
    assert window.retry_after(LIMIT, START) == 900
    assert window.retry_after(LIMIT, START + timedelta(minutes=10)) == 300
    assert window.retry_after(LIMIT, START + timedelta(minutes=14, seconds=59.2)) == 1


def test_wait_rounds_up_to_whole_seconds_and_is_at_least_one() -> None:
    window = AttemptWindow(5, START)
    assert window.retry_after(LIMIT, START + timedelta(seconds=0.5)) == 900
    assert window.retry_after(LIMIT, START + timedelta(minutes=15, microseconds=-1)) == 1


def test_after_the_window_may_retry() -> None:
    window = AttemptWindow(100, START)
    assert window.retry_after(LIMIT, START + timedelta(minutes=15)) is None
    assert window.retry_after(LIMIT, START + timedelta(hours=1)) is None


def test_disabled_limit_never_blocks() -> None:
    off = Limit(0, timedelta(minutes=15))
    assert not off.enabled
    assert AttemptWindow(1_000, START).retry_after(off, START) is None


@pytest.mark.parametrize(
    ("check", "field"),
    [
        (lambda: POLICY.check("short"), "password"),
        (lambda: POLICY.check("letmein123", field="new_password"), "new_password"),
        (lambda: TextLimits(max_title_chars=3).title("long title"), "title"),
        (lambda: TextLimits().content("   "), "content"),
        (lambda: TextLimits().content("nul \x00"), "content"),
    ],
)
def test_invalid_input_names_the_value_to_blame(check: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        check()
    assert raised.value.field == field
