"""One e-mail rule on every path, and passwords judged and hashed in their NFKC form."""

import pytest

from adapters.email_addresses import normalize_email_address
from domain.errors import EmailAlreadyRegistered, InvalidInput
from domain.passwords import PasswordPolicy
from domain.users import User
from tests.unit.conftest import COMMON_PASSWORDS, FAKE_PREFIX, PASSWORD, App

POLICY = PasswordPolicy(common=COMMON_PASSWORDS)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("  Alice@Example.COM ", "alice@example.com"),
        ("Cafe\u0301@example.com", "caf\u00e9@example.com"),  # NFD typed, NFC stored
        ("alice@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com", "alice@example.com"),
        ("\uff41\uff4c\uff49\uff43\uff45@example.com", "alice@example.com"),  # full-width
        ("STRA\u00dfE@example.com", "strasse@example.com"),  # ß is ss
    ],
)
def test_every_spelling_of_an_address_has_one_form(typed: str, stored: str) -> None:
    assert normalize_email_address(typed) == stored


@pytest.mark.parametrize(
    "email", ["", "   ", "not-an-email", "a@b", "\u0130" * 320, "x" * 300 + "@example.com"]
)
def test_what_is_no_address_is_refused(email: str) -> None:
    with pytest.raises(InvalidInput):
        normalize_email_address(email)


async def test_sz_and_full_width_spellings_are_one_account(app: App) -> None:
    await app.register.execute(email="strasse@example.com", password=PASSWORD)
    for other in ("STRA\u00dfE@example.com", "\uff53trasse@example.com"):
        with pytest.raises(EmailAlreadyRegistered):
            await app.register.execute(email=other, password=PASSWORD)


async def test_a_nfd_address_logs_in_to_its_nfc_account(app: App) -> None:
    user_id = await app.sign_up("caf\u00e9@example.com")
    issued = await app.login.execute(email="CAFE\u0301@EXAMPLE.COM", password=PASSWORD)
    assert app.tokens.caller(issued.access.value).user_id == user_id.user_id


async def test_registration_refuses_an_invalid_address(app: App) -> None:
    for email in ("", "not-an-email"):
        with pytest.raises(InvalidInput):
            await app.register.execute(email=email, password=PASSWORD)


@pytest.mark.parametrize(
    "password",
    [
        " " * 12,  # only spaces
        "\u200b" * 10,  # only zero-width spaces
        "\u3000\t\u00a0\u2009\u200d\u2060\u180e\u3000",  # assorted invisible characters
        "qwerty uiop",  # a common password with a space in it
        "\uff51\uff57\uff45\uff52\uff54\uff59\uff55\uff49\uff4f\uff50",  # full-width
        "I LOVE YOU\u200b",  # case, spaces and a zero-width space
    ],
)
def test_the_policy_sees_through_spaces_invisibles_and_full_width(password: str) -> None:
    with pytest.raises(InvalidInput):
        POLICY.check(password)


@pytest.mark.parametrize("password", ["alice.smith@example.com", "Alice.Smith", "ALICE.SMITH"])
def test_the_email_or_its_local_part_is_no_password(password: str) -> None:
    with pytest.raises(InvalidInput, match="email"):
        POLICY.check(password, email="alice.smith@example.com")


def test_length_counts_the_normalised_form() -> None:
    # Each ligature is one character typed but two once normalised.
    POLICY.check("\ufb01" * 4, email=None)
    with pytest.raises(InvalidInput, match="at least"):
        POLICY.check("\ufb01" * 3)


async def test_passwords_are_hashed_in_their_nfkc_form(app: App) -> None:
    await app.register.execute(email="ada@example.com", password="\uff53ecret passphrase")
    assert app.hasher.hashed == ["secret passphrase"]
    await app.login.execute(email="ada@example.com", password="secret passphrase")
    await app.login.execute(email="ada@example.com", password="\uff53ecret passphrase")


async def test_a_hash_made_before_normalisation_verifies_and_is_replaced(app: App) -> None:
    typed = "\ufb01rst-class passphrase"  # a ligature: NFKC changes it
    user = User(email="old@example.com", password_hash=FAKE_PREFIX + typed)
    app.store.state.users[user.id] = user

    await app.login.execute(email="old@example.com", password=typed)

    assert app.store.state.users[user.id].password_hash == FAKE_PREFIX + "first-class passphrase"
    await app.login.execute(email="old@example.com", password="first-class passphrase")
