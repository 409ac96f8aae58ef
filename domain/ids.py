"""Time-ordered identifiers (UUID version 7, RFC 9562).

Version 7 ids start with a millisecond timestamp, so new rows land at the right
edge of a B-tree index and ids sort by creation. Python 3.11 has no
``uuid.uuid7``; this is the RFC's "method 1": a 12-bit counter in ``rand_a``
keeps ids monotonic within one process even inside one millisecond.
"""

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_counter = 0


def new_id() -> uuid.UUID:
    """Return a fresh UUIDv7, strictly greater than the previous one of this process."""
    global _last_ms, _counter
    with _lock:
        now_ms = time.time_ns() // 1_000_000
        if now_ms > _last_ms:
            _last_ms = now_ms
            _counter = int.from_bytes(os.urandom(2), "big") & 0x07FF  # leave headroom
        else:
            _counter += 1
            if _counter > 0x0FFF:  # counter exhausted: borrow the next millisecond
                _last_ms += 1
                _counter = 0
        ms, counter = _last_ms, _counter
    rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | rand_b
    return uuid.UUID(int=value)
