"""Password hashing with pwdlib: Argon2id for new hashes, bcrypt still verified."""

import asyncio
import contextlib
import functools
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher

P = ParamSpec("P")
R = TypeVar("R")

# Added to the process's niceness for the hashing threads (Linux gives each thread its
# own); 5 leaves them about a quarter of a CPU that requests also want, so logins still
# move during a storm (bench/RESULTS.md).
HASHING_NICENESS = 5


def _lower_this_threads_priority() -> None:
    """Make the calling thread nicer. Only Linux gives a thread a priority of its own:
    elsewhere a thread id is no process id, so the threads hash at the process's."""
    if sys.platform != "linux":
        return
    thread = threading.get_native_id()
    # Never fatal: an initializer that raises would break the pool for every hash.
    with contextlib.suppress(Exception):
        niceness = os.getpriority(os.PRIO_PROCESS, thread) + HASHING_NICENESS
        os.setpriority(os.PRIO_PROCESS, thread, niceness)


class PwdlibPasswordHasher:
    """Hashes off the event loop, in a pool no wider than the machine.

    Argon2id costs ~64 MiB and tens of milliseconds per call. A bounded pool caps
    the memory a login storm can take and leaves the event loop free to serve
    everything else while logins queue. argon2-cffi releases the GIL, so threads
    give real parallelism here.

    The threads also run at a lower CPU priority (``HASHING_NICENESS``): a login storm
    keeps every CPU busy hashing, and at equal priority the event loop, and
    PostgreSQL, waited their turn behind it, so every other request slowed down
    (the login storm in bench/RESULTS.md). Hashing still gets whatever CPU is left.
    """

    def __init__(self, workers: int | None = None, hasher: Argon2Hasher | None = None) -> None:
        self._hash = PasswordHash((hasher or Argon2Hasher(), BcryptHasher()))
        cpus = os.cpu_count() or 1
        self.workers = min(workers or cpus, cpus)
        self._pool: ThreadPoolExecutor | None = None
        # Verified against when the email is unknown, so both paths cost the same. Made
        # on first need, in a worker: building the hasher (every CLI command) stays cheap.
        self._dummy_hash: str | None = None
        self._dummy_lock = threading.Lock()

    async def hash(self, password: str) -> str:
        return await self._run(self._hash.hash, password)

    async def verify(self, password: str, password_hash: str) -> tuple[bool, str | None]:
        try:
            return await self._run(self._hash.verify_and_update, password, password_hash)
        except UnknownHashError:  # a stored value no hasher recognises never matches
            return False, None

    async def burn(self, password: str) -> None:
        await self._run(self._verify_dummy, password)

    def _verify_dummy(self, password: str) -> None:
        with self._dummy_lock:
            if self._dummy_hash is None:
                self._dummy_hash = self._hash.hash("dummy password for unknown accounts")
        self._hash.verify(password, self._dummy_hash)

    def close(self) -> None:
        """Stop the worker threads; a later call starts a new pool (the app may restart)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    async def _run(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                self.workers,
                thread_name_prefix="password-hash",
                initializer=_lower_this_threads_priority,
            )
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))
