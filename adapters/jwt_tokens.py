"""Access tokens as HS256 JWTs (PyJWT)."""

import time
import warnings
from uuid import UUID, uuid4

import jwt
from jwt.warnings import InsecureKeyLengthWarning

from application.ports import IssuedToken
from domain.errors import InvalidToken

_ALGORITHM = "HS256"
_REQUIRED_CLAIMS = ["sub", "exp", "iat", "iss", "aud", "jti"]

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

    def issue(self, user_id: UUID) -> IssuedToken:
        now = int(time.time())
        claims = {
            "sub": str(user_id),
            "iat": now,
            "exp": now + self._ttl,
            "iss": self._issuer,
            "aud": self._audience,
            "jti": uuid4().hex,
        }
        return IssuedToken(jwt.encode(claims, self._secret, algorithm=_ALGORITHM), self._ttl)

    def subject(self, token: str) -> UUID:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[_ALGORITHM],
                issuer=self._issuer,
                audience=self._audience,
                options={"require": _REQUIRED_CLAIMS},
            )
            return UUID(claims["sub"])
        except jwt.ExpiredSignatureError as error:
            raise InvalidToken("The access token has expired.") from error
        except (jwt.InvalidTokenError, ValueError, TypeError, AttributeError) as error:
            raise InvalidToken() from error
