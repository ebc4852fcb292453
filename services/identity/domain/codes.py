"""One-time sign-in codes: 8 random digits shown as `1234 5678`, stored only as a keyed HMAC."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from enum import Enum

from pydantic import SecretStr


def new_code() -> str:
    return f"{secrets.randbelow(10**8):08d}"


def display(code: str) -> str:
    return f"{code[:4]} {code[4:]}"


def normalise(entered: str) -> str | None:
    """What a person typed, as 8 digits, or None. Spaces and dashes are forgiven ("1234 5678", "1234-5678")."""
    digits = re.sub(r"[\s-]", "", entered or "")
    return digits if re.fullmatch(r"\d{8}", digits) else None


def _split(key: SecretStr) -> tuple[str, bytes]:
    kid, _, secret = key.get_secret_value().partition(":")
    return kid, secret.encode()


def digest(keys: list[SecretStr], attempt_id: uuid.UUID, code: str, key_id: str | None = None) -> tuple[str, bytes]:
    """HMAC of the code bound to its attempt, with the signing key (or the named one, to verify)."""
    chosen = keys[0] if key_id is None else next((k for k in keys if _split(k)[0] == key_id), None)
    if chosen is None:
        raise LookupError("code key no longer configured")
    kid, secret = _split(chosen)
    return kid, hmac.new(secret, f"{attempt_id}:{code}".encode(), hashlib.sha256).digest()


def matches(keys: list[SecretStr], attempt_id: uuid.UUID, entered: str, key_id: str, stored: bytes) -> bool:
    try:
        _, candidate = digest(keys, attempt_id, entered, key_id)
    except LookupError:
        return False
    return hmac.compare_digest(candidate, stored)


class Outcome(Enum):
    ACCEPTED = "accepted"
    INVALID = "invalid"  # wrong, unknown, already used: one answer, so nothing is revealed
    LOCKED = "locked"  # too many wrong tries: a new code is needed
    EXPIRED = "expired"


def judge(keys: list[SecretStr], owner_id: uuid.UUID, entered: str, *, key_id: str | None, stored: bytes | None,
          tries: int, max_tries: int, expired: bool, used: bool, usable: bool = True) -> Outcome:
    """The one rule for every emailed code (sign-in, registration, new address, password reset)."""
    if not usable or stored is None or key_id is None or used:
        return Outcome.INVALID
    if tries >= max_tries:
        return Outcome.LOCKED
    if expired:
        return Outcome.EXPIRED
    digits = normalise(entered)
    if digits is None or not matches(keys, owner_id, digits, key_id, stored):
        return Outcome.INVALID
    return Outcome.ACCEPTED
