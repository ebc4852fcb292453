"""argon2id password hashes. Hashing is slow on purpose, so it runs in a thread, off the event loop."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile
# Verified against when the email is unknown, so both answers take the same time.
_DUMMY = _hasher.hash("not-a-real-password-used-only-for-equal-timing")


def _verify(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


# Each hash takes 64 MiB: a burst of sign-ins waits its turn instead of exhausting the process's memory.
_slots = asyncio.Semaphore(2)


async def verify(stored: str | None, password: str) -> bool:
    async with _slots:
        return await asyncio.to_thread(_verify, stored, password)


async def hash_password(password: str) -> str:
    async with _slots:
        return await asyncio.to_thread(_hasher.hash, password)
