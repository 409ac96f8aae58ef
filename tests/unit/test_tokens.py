"""JwtTokenService: what it issues round-trips; anything forged or stale is InvalidToken."""

import base64
import json
import time
from typing import Any
from uuid import UUID

import jwt
import pytest

from adapters.jwt_tokens import JwtTokenService
from domain.errors import InvalidToken
from domain.ids import new_id
from domain.sessions import Caller
from tests.unit.conftest import SECRET

ISSUER = "memory-agent"
AUDIENCE = "memory-agent-api"


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": str(new_id()),
        "sid": str(new_id()),
        "iat": now,
        "exp": now + 600,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "jti": "a1b2c3",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _forge(claims: dict[str, Any], key: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_round_trip(tokens: JwtTokenService) -> None:
    user_id, session_id = new_id(), new_id()
    issued = tokens.issue(user_id, session_id)
    assert tokens.caller(issued.value) == Caller(user_id, session_id)
    assert issued.expires_in == 60 * 60


def test_issued_token_carries_the_expected_claims(tokens: JwtTokenService) -> None:
    user_id = new_id()
    token = tokens.issue(user_id, new_id()).value
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience=AUDIENCE)
    assert claims["sub"] == str(user_id)
    assert UUID(claims["sid"])
    assert claims["iss"] == ISSUER
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["jti"]


def test_each_token_has_its_own_jti(tokens: JwtTokenService) -> None:
    user_id = new_id()
    first, second = tokens.issue(user_id, new_id()).value, tokens.issue(user_id, new_id()).value
    assert _jti(first) != _jti(second)


def _jti(token: str) -> str:
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience=AUDIENCE)
    return str(claims["jti"])


def test_a_well_formed_forged_token_with_the_right_secret_is_accepted(
    tokens: JwtTokenService,
) -> None:
    # The control for every refusal below: only the one thing changed makes them fail.
    claims = _claims()
    caller = tokens.caller(_forge(claims))
    assert str(caller.user_id) == claims["sub"]
    assert str(caller.session_id) == claims["sid"]


def test_expired_token_is_refused(tokens: JwtTokenService) -> None:
    past = int(time.time()) - 120
    with pytest.raises(InvalidToken) as refused:
        tokens.caller(_forge(_claims(iat=past - 600, exp=past)))
    assert str(refused.value) == "The access token has expired."


def test_a_remembered_token_still_expires_on_time(
    tokens: JwtTokenService, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = int(time.time())
    token = _forge(_claims(iat=now, exp=now + 30))
    first = tokens.caller(token)
    assert tokens.caller(token) == first  # verified once, then remembered
    monkeypatch.setattr(time, "time", lambda: now + 31.0)
    with pytest.raises(InvalidToken) as refused:
        tokens.caller(token)
    assert str(refused.value) == "The access token has expired."


def test_a_remembered_token_is_refused_by_another_secret(tokens: JwtTokenService) -> None:
    # The memory belongs to one service (one secret), never shared between them.
    token = tokens.issue(new_id(), new_id()).value
    tokens.caller(token)
    other = JwtTokenService("another-" + "0123456789abcdef" * 4, 60)
    with pytest.raises(InvalidToken):
        other.caller(token)


def test_token_signed_with_another_secret_is_refused(tokens: JwtTokenService) -> None:
    with pytest.raises(InvalidToken):
        tokens.caller(_forge(_claims(), key="another-" + "0123456789abcdef" * 4))


def test_alg_none_token_is_refused(tokens: JwtTokenService) -> None:
    unsigned = jwt.encode(_claims(), None, algorithm="none")
    with pytest.raises(InvalidToken):
        tokens.caller(unsigned)
    handmade = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims())}."
    with pytest.raises(InvalidToken):
        tokens.caller(handmade)


@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
def test_token_with_another_algorithm_is_refused(tokens: JwtTokenService, algorithm: str) -> None:
    # Same secret, valid claims: only the algorithm differs from what is pinned.
    with pytest.raises(InvalidToken):
        tokens.caller(_forge(_claims(), key=SECRET, algorithm=algorithm))


def test_token_with_another_issuer_is_refused(tokens: JwtTokenService) -> None:
    with pytest.raises(InvalidToken):
        tokens.caller(_forge(_claims(iss="someone-else")))


def test_token_with_another_audience_is_refused(tokens: JwtTokenService) -> None:
    with pytest.raises(InvalidToken):
        tokens.caller(_forge(_claims(aud="another-api")))


# Without ``sid``: a token issued before sessions existed.
@pytest.mark.parametrize("missing", ["sub", "sid", "exp", "iat", "iss", "aud", "jti"])
def test_token_missing_a_required_claim_is_refused(tokens: JwtTokenService, missing: str) -> None:
    claims = _claims()
    del claims[missing]
    with pytest.raises(InvalidToken):
        tokens.caller(_forge(claims))


@pytest.mark.parametrize("sub", ["not-a-uuid", "", "12345", 12345, ["x"], {"id": 1}])
def test_token_with_a_garbage_subject_is_refused(tokens: JwtTokenService, sub: object) -> None:
    with pytest.raises(InvalidToken):
        tokens.caller(_forge(_claims(sub=sub)))


@pytest.mark.parametrize("sid", ["not-a-uuid", "", 12345, ["x"]])
def test_token_with_a_garbage_session_is_refused(tokens: JwtTokenService, sid: object) -> None:
    with pytest.raises(InvalidToken):
        tokens.caller(_forge(_claims(sid=sid)))


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "a.b", "...."])
def test_malformed_token_is_refused(tokens: JwtTokenService, token: str) -> None:
    with pytest.raises(InvalidToken):
        tokens.caller(token)


def test_token_from_a_service_with_another_issuer_setting_is_refused() -> None:
    ours = JwtTokenService(SECRET, 60)
    theirs = JwtTokenService(SECRET, 60, issuer="other", audience="other-api")
    with pytest.raises(InvalidToken):
        ours.caller(theirs.issue(new_id(), new_id()).value)
