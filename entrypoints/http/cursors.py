"""Opaque, tamper-proof paging cursors.

A cursor is the position of the last row a client saw plus the listing it came
from, signed with HMAC: a forged, edited or foreign cursor is refused (400),
never turned into SQL.
"""

import base64
import binascii
import hashlib
import hmac
import json
from datetime import datetime
from uuid import UUID

from domain.errors import InvalidCursor
from domain.paging import Position

_SIG_BYTES = 16


class CursorCodec:
    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"paging-cursor:" + secret.encode()).digest()

    def encode(self, scope: str, position: Position) -> str:
        payload = json.dumps([scope, position.at.isoformat(), str(position.id)]).encode()
        return self.seal(payload)

    def seal(self, payload: bytes) -> str:
        """``payload`` signed and encoded as a cursor (any payload: tests use it too)."""
        signature = hmac.digest(self._key, payload, "sha256")[:_SIG_BYTES]
        return base64.urlsafe_b64encode(signature + payload).decode().rstrip("=")

    def decode(self, scope: str, cursor: str) -> Position:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            signature, payload = raw[:_SIG_BYTES], raw[_SIG_BYTES:]
            expected = hmac.digest(self._key, payload, "sha256")[:_SIG_BYTES]
            if not hmac.compare_digest(signature, expected):
                raise InvalidCursor()
            decoded = json.loads(payload)
            # Signed means we wrote it, but a key shared with an older format (or a
            # leaked one) could sign anything: every part must still be what we write.
            if not (isinstance(decoded, list) and all(isinstance(p, str) for p in decoded)):
                raise InvalidCursor()
            cursor_scope, at, id_ = decoded
            if cursor_scope != scope:
                raise InvalidCursor()
            return Position(datetime.fromisoformat(at), UUID(id_))
        except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as error:
            raise InvalidCursor() from error
