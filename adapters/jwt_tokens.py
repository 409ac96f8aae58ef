"""Access tokens as HS256 JWTs (PyJWT)."""

import functools
import time
import warnings
from uuid import UUID, uuid4

import jwt
from jwt.warnings import InsecureKeyLengthWarning

from application.ports import IssuedToken
from domain.errors import InvalidToken
from domain.sessions import Caller

_ALGORITHM = "HS256"
# ``sid`` names the session: a token issued before sessions existed has none and fails.
_REQUIRED_CLAIMS = ["sub", "sid", "exp", "iat", "iss", "aud", "jti"]
# Tokens verified recently, by their exact text. A client sends the same token on
# every request until it expires; checking its signature and claims again each time
# cost more than the rest of the authentication. Bounded: least recently used go first.
_VERIFIED_TOKENS = 4096

# The settings check already refuses a short secret in production and warns elsewhere;
# PyJWT repeating it on every token would only flood the logs.
warnings.filterwarnings("ignore", category=InsecureKeyLengthWarning)


class JwtTokenService:
    """Signs and checks tokens; the algorithm is pinned so ``alg: none`` and friends fail."""

    def __init__(
        self,
        secret: str,
        expires_minutes: int,
        issuer: str = "memory-agent",
        audience: str = "memory-agent-api",
    ) -> None:
        self._secret = secret
        self._ttl = expires_minutes * 60
        self._issuer = issuer
        self._audience = audience
        self._verified = functools.lru_cache(maxsize=_VERIFIED_TOKENS)(self._verify)

    def issue(self, user_id: UUID, session_id: UUID) -> IssuedToken:
        now = int(time.time())
        claims = {
            "sub": str(user_id),
            "sid": str(session_id),
            "iat": now,
            "exp": now + self._ttl,
            "iss": self._issuer,
            "aud": self._audience,
            "jti": uuid4().hex,
        }
        return IssuedToken(jwt.encode(claims, self._secret, algorithm=_ALGORITHM), self._ttl)

    def caller(self, token: str) -> Caller:
        caller, expires_at = self._verified(token)
        # The signature and every claim but ``exp`` hold forever once verified: time
        # only moves forward, and ``nbf``/``iat`` could only have been early. ``exp``
        # is checked on every use, so a remembered token still expires on time.
        if expires_at <= time.time():
            raise InvalidToken("The access token has expired.")
        return caller

    def _verify(self, token: str) -> tuple[Caller, int]:
        """Caller and expiry of a token whose signature and claims check out.

        Only the signature's verdict is remembered, never whether the session is live:
        that is asked of the store on every request.

        Raises rather than returns for a bad token, so refusals are never remembered.
        """
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[_ALGORITHM],
                issuer=self._issuer,
                audience=self._audience,
                options={"require": _REQUIRED_CLAIMS},
            )
            return Caller(UUID(claims["sub"]), UUID(claims["sid"])), int(claims["exp"])
        except jwt.ExpiredSignatureError as error:
            raise InvalidToken("The access token has expired.") from error
        except (jwt.InvalidTokenError, ValueError, TypeError, AttributeError) as error:
            raise InvalidToken() from error
