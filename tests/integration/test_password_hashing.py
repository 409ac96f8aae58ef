"""The pwdlib adapter: Argon2id, bcrypt compatibility, and a bounded worker pool."""

import asyncio
import os
import threading
import time

import bcrypt

from adapters.password_hashing import HASHING_NICENESS, PwdlibPasswordHasher


async def test_hashes_are_argon2id_and_verify() -> None:
    hasher = PwdlibPasswordHasher(workers=1)
    hashed = await hasher.hash("a fine passphrase")

    assert hashed.startswith("$argon2id$")
    assert await hasher.verify("a fine passphrase", hashed) == (True, None)
    assert (await hasher.verify("another passphrase", hashed))[0] is False


async def test_bcrypt_hashes_verify_and_come_back_upgraded() -> None:
    hasher = PwdlibPasswordHasher(workers=1)
    legacy = bcrypt.hashpw(b"a fine passphrase", bcrypt.gensalt(rounds=4)).decode()

    valid, upgraded = await hasher.verify("a fine passphrase", legacy)

    assert valid
    assert upgraded is not None
    assert upgraded.startswith("$argon2id$")


async def test_an_unrecognised_stored_hash_never_matches() -> None:
    assert await PwdlibPasswordHasher(workers=1).verify("x", "plaintext") == (False, None)


async def test_hashing_runs_off_the_event_loop_in_a_bounded_pool() -> None:
    hasher = PwdlibPasswordHasher(workers=2)
    running, peak, threads = 0, 0, set()
    lock = threading.Lock()
    real_hash = hasher._hash.hash

    def counting_hash(password: str) -> str:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
            threads.add(threading.get_ident())
        time.sleep(0.02)
        with lock:
            running -= 1
        return real_hash(password)

    hasher._hash.hash = counting_hash  # type: ignore[method-assign,assignment]

    await asyncio.gather(*(hasher.hash(f"password {n}") for n in range(8)))

    assert peak == 2  # never wider than the pool, which is never wider than asked
    assert threading.get_ident() not in threads  # the event loop's thread stayed free
    hasher.close()


def _niceness() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


async def test_hashing_threads_yield_the_cpu_to_requests() -> None:
    hasher = PwdlibPasswordHasher(workers=1)
    try:
        in_pool = await hasher._run(_niceness)
    finally:
        hasher.close()

    assert in_pool == _niceness() + HASHING_NICENESS
