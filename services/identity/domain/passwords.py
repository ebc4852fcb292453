"""argon2id password hashes. Hashing is slow on purpose, so it runs in a thread, off the event loop."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# argon2id at OWASP's recommended minimum (19 MiB, 2 passes, 1 lane). It was argon2-cffi's default, RFC 9106's
# low-memory profile (64 MiB, 3 passes, 4 lanes): about 0.23 s a hash here, which capped sign-ins near 8 a second
# and put identity near 200 MB. A hash records its own parameters, so older hashes still verify; sign-in replaces
# them (needs_rehash).
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verified against when the email is unknown, so both answers take the same time.
_DUMMY = _hasher.hash("not-a-real-password-used-only-for-equal-timing")


def _verify(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


# Each hash takes 19 MiB: a burst of sign-ins waits its turn instead of exhausting the process's memory.
_slots = asyncio.Semaphore(2)


async def verify(stored: str | None, password: str) -> bool:
    async with _slots:
        return await asyncio.to_thread(_verify, stored, password)


def needs_rehash(stored: str) -> bool:
    """True if this hash was made with other parameters than today's (replace it when the password is known)."""
    try:
        return _hasher.check_needs_rehash(stored)
    except InvalidHashError:
        return False


async def hash_password(password: str) -> str:
    async with _slots:
        return await asyncio.to_thread(_hasher.hash, password)
