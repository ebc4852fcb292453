"""Short-lived signed tokens the gateway attaches to every call to a service, carrying the user's claims.

Services trust only these (HS256, 60 s, audience = the service). Keys rotate: the first key in
EPEP_INTERNAL_TOKEN_KEYS signs, every key listed verifies, so a new key is added first, then promoted.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import jwt
from pydantic import BaseModel, SecretStr

from shared.errors import Problem

TTL_SECONDS = 60


class Membership(BaseModel):
    organisation_id: str
    organisation_type: str
    role: str
    # Setting staff only: what their DT lets them see (None: everything).
    children: list[str] | None = None
    sections: list[str] | None = None


class Claims(BaseModel):
    """Who is asking. `sub` is a user id, or `service:<name>` for a call made by a service itself."""

    sub: str
    session_id: str | None = None
    memberships: list[Membership] = []
    address: str | None = None  # the browser's address, as the gateway saw it: for the services' access logs

    @property
    def is_service(self) -> bool:
        return self.sub.startswith("service:")


def _kid(key: SecretStr) -> str:
    return hashlib.sha256(key.get_secret_value().encode()).hexdigest()[:12]


def sign(claims: Claims, audience: str, keys: list[SecretStr]) -> str:
    now = int(time.time())
    payload: dict[str, Any] = {**claims.model_dump(), "aud": audience, "iat": now, "exp": now + TTL_SECONDS}
    return jwt.encode(payload, keys[0].get_secret_value(), algorithm="HS256", headers={"kid": _kid(keys[0])})


def verify(token: str, audience: str, keys: list[SecretStr]) -> Claims:
    try:
        kid = jwt.get_unverified_header(token).get("kid")
        key = next((k for k in keys if _kid(k) == kid), None)
        if key is None:
            raise jwt.InvalidTokenError("unknown key")
        payload = jwt.decode(token, key.get_secret_value(), algorithms=["HS256"], audience=audience,
                             options={"require": ["exp", "iat", "aud", "sub"]})
    except jwt.PyJWTError:
        raise Problem(401, "Not authenticated", code="internal_token") from None
    return Claims.model_validate(payload)
