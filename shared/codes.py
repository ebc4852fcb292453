"""Short emailed codes, one rule for every service that sends them (identity's sign-in and account codes, pep's
views invitations): 8 random digits shown as `1234 5678`, forgiving of spaces and dashes when typed, and
stored only as an HMAC under a named key (`<key id>:<secret>`), so keys can be rotated: the first key signs,
any configured key verifies."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

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


def keyed_digest(keys: list[SecretStr], message: str, key_id: str | None = None) -> tuple[str, bytes]:
    """HMAC-SHA256 of `message` with the signing key (or the named one, to verify); LookupError if the named
    key is no longer configured."""
    chosen = keys[0] if key_id is None else next((k for k in keys if _split(k)[0] == key_id), None)
    if chosen is None:
        raise LookupError("code key no longer configured")
    kid, secret = _split(chosen)
    return kid, hmac.new(secret, message.encode(), hashlib.sha256).digest()


def keyed_matches(keys: list[SecretStr], message: str, key_id: str, stored: bytes) -> bool:
    """Whether `stored` is `message`'s HMAC under the key it was made with (compared in constant time)."""
    try:
        _, candidate = keyed_digest(keys, message, key_id)
    except LookupError:
        return False
    return hmac.compare_digest(candidate, stored)
