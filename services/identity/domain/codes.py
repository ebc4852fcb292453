"""One-time sign-in codes: 8 random digits shown as `1234 5678`, stored only as a keyed HMAC."""

from __future__ import annotations

import uuid
from enum import Enum

from pydantic import SecretStr

from shared.codes import display, keyed_digest, keyed_matches, new_code, normalise

__all__ = ["Outcome", "digest", "display", "judge", "matches", "new_code", "normalise"]


def digest(keys: list[SecretStr], attempt_id: uuid.UUID, code: str, key_id: str | None = None) -> tuple[str, bytes]:
    """HMAC of the code bound to its attempt, with the signing key (or the named one, to verify)."""
    return keyed_digest(keys, f"{attempt_id}:{code}", key_id)


def matches(keys: list[SecretStr], attempt_id: uuid.UUID, entered: str, key_id: str, stored: bytes) -> bool:
    return keyed_matches(keys, f"{attempt_id}:{entered}", key_id, stored)


class Outcome(Enum):
    ACCEPTED = "accepted"
    INVALID = "invalid"  # wrong, unknown, already used: one answer, so nothing is revealed
    LOCKED = "locked"  # too many wrong tries: a new code is needed
    EXPIRED = "expired"


def judge(keys: list[SecretStr], owner_id: uuid.UUID, entered: str, *, key_id: str | None, stored: bytes | None,
          tries: int, max_tries: int, expired: bool, used: bool, usable: bool = True) -> Outcome:
    """The one rule for every emailed code (sign-in, registration, new address, password reset).

    An unusable attempt (a wrong password, an address with no account) carries a decoy code nobody was sent, with
    the same tries and expiry as a real one, and is judged the same way up to the last step: so it locks and expires
    exactly as a real one does, and no answer tells the two apart. Only a usable one can be accepted."""
    if stored is None or key_id is None or used:
        return Outcome.INVALID
    if tries >= max_tries:
        return Outcome.LOCKED
    if expired:
        return Outcome.EXPIRED
    digits = normalise(entered)
    if not usable or digits is None or not matches(keys, owner_id, digits, key_id, stored):
        return Outcome.INVALID
    return Outcome.ACCEPTED
