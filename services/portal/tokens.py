"""The portal's own small secrets: CSRF tokens and signed cookie values. Pure functions, no I/O.

CSRF is a signed double submit: each browser gets a random value in an HttpOnly cookie, and every
form carries HMAC(key, value). A site that can plant a cookie still cannot forge the matching token
without the key. Every HMAC names its purpose, so one key can sign both kinds of value safely.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from typing import Any


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: str, purpose: str, message: str) -> str:
    return _b64(hmac.new(key.encode(), f"{purpose}\x00{message}".encode(), hashlib.sha256).digest())


def new_browser_secret() -> str:
    """A fresh value for the CSRF cookie."""
    return secrets.token_urlsafe(32)


def csrf_token(key: str, browser_secret: str) -> str:
    return _mac(key, "csrf", browser_secret)


def csrf_token_ok(key: str, browser_secret: str | None, token: str | None) -> bool:
    if not browser_secret or not token:
        return False
    return hmac.compare_digest(csrf_token(key, browser_secret), token)


def sign(key: str, purpose: str, payload: dict[str, Any], now: float) -> str:
    """`payload` (JSON-able) with its issue time, as a cookie-safe string only this key can have made."""
    body = _b64(json.dumps({"iat": int(now), "data": payload}, separators=(",", ":")).encode())
    return f"{body}.{_mac(key, purpose, body)}"


def unsign(key: str, purpose: str, value: str | None, max_age: float, now: float) -> dict[str, Any] | None:
    """The payload `sign` made for this purpose, or None when it is missing, forged, or too old."""
    if not value or value.count(".") != 1:
        return None
    body, mac = value.split(".")
    if not hmac.compare_digest(_mac(key, purpose, body), mac):
        return None
    try:
        decoded = json.loads(_unb64(body))
    except (ValueError, binascii.Error):
        return None
    if not isinstance(decoded, dict) or not isinstance(decoded.get("data"), dict):
        return None
    issued = decoded.get("iat")
    if not isinstance(issued, int) or not (now - max_age <= issued <= now + 60):
        return None
    return decoded["data"]
