"""Short-lived signed tokens that carry who is asking from the gateway to a service (and a service's own calls).

Each signing process holds its own Ed25519 private keys (EdDSA, 60 s, `aud` = the service called, `iss` = the
signer); every service holds only the public keys of the issuers it trusts (EPEP_INTERNAL_TRUSTED_KEYS: a JSON
map issuer -> public keys). Verifying needs no secret, so a service that is broken into can no longer mint
tokens for the others: it can speak only as itself. The rules, checked on every token:

- `iss` is required and must be an issuer the service trusts; the signature must be one of that issuer's keys
  (found by `kid`); only EdDSA is accepted (an HS256 token made with the old shared secret is refused).
- Only the gateway speaks for people: a token from any other issuer may only carry `sub == "service:<issuer>"`.
- A service that must ask another with the user's own claims (qa and delegation ask pep) relays the gateway's
  token as it came: the gateway signs a person's token for the service called and the services it may relay
  to (RELAYS), and ServiceClient sends the token on when its audience includes the target.

Keys rotate as before: the first private key listed signs, and each issuer's public keys all verify, so a new
key's public half is added everywhere first, then the signer is given the new private key first, then the old
public key is removed. `python -m shared.internal_auth new-key` makes a key pair.

Development: with no keys configured, each issuer's key is derived from its name (DEVELOPMENT_LABEL), so
`make run` and the tests need no configuration. Those keys are public knowledge; settings refuse them in
production and on any address but the loopback (shared/settings.py).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

import jwt
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from pydantic import BaseModel, PrivateAttr, SecretStr

from shared.errors import Problem

TTL_SECONDS = 60
ALGORITHM = "EdDSA"
GATEWAY = "gateway"
# Whom a service may pass a person's token on to, for calls it makes with that person's own claims.
RELAYS: dict[str, tuple[str, ...]] = {"qa": ("pep",), "delegation": ("pep",)}
# The processes that sign tokens.
ISSUERS = (GATEWAY, *RELAYS)
DEVELOPMENT_LABEL = b"epep internal token development key, public, never for production: "
_EVERY_SERVICE = ("gateway", "identity", "pep", "delegation", "notify", "qa", "portal")


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

    # The token these claims arrived in (set by verify), its audience and the claims it said, so a call made
    # with these same claims can relay it rather than sign anew.
    _token: str | None = PrivateAttr(default=None)
    _audience: tuple[str, ...] = PrivateAttr(default=())
    _signed: dict[str, Any] | None = PrivateAttr(default=None)
    _issuer: str | None = PrivateAttr(default=None)

    @property
    def is_service(self) -> bool:
        return self.sub.startswith("service:")

    def is_from(self, service: str) -> bool:
        """Whether these claims are `service` speaking for itself, in a token that service signed (verify)."""
        return self.sub == f"service:{service}" and self._issuer == service

    def relayable_to(self, service: str) -> str | None:
        """The token these claims came in, if it was signed for `service` too and the claims are unchanged."""
        if self._token is None or service not in self._audience or self.model_dump() != self._signed:
            return None
        return self._token


# ---- keys -------------------------------------------------------------------------------------------------


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _raw32(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise ValueError(f"{what} must be a 32-byte Ed25519 key in base64 (44 characters)")
    return raw


def private_key(text: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(_raw32(text, "an internal signing key"))


def public_key(text: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(_raw32(text, "an internal trusted key"))


def public_text(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return _b64(public.public_bytes(Encoding.Raw, PublicFormat.Raw))


def kid(key: Ed25519PublicKey) -> str:
    return hashlib.sha256(key.public_bytes(Encoding.Raw, PublicFormat.Raw)).hexdigest()[:16]


def new_key_pair() -> tuple[str, str]:
    """(private, public), each base64: the private key for EPEP_INTERNAL_SIGNING_KEYS, the public for
    EPEP_INTERNAL_TRUSTED_KEYS."""
    key = Ed25519PrivateKey.generate()
    return _b64(key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())), public_text(key)


def development_private_key(issuer: str) -> str:
    return _b64(hashlib.sha256(DEVELOPMENT_LABEL + issuer.encode()).digest())


def development_public_key(issuer: str) -> str:
    return public_text(private_key(development_private_key(issuer)))


def development_trusted_keys(service: str) -> dict[str, list[str]]:
    """What `service` trusts in development: the gateway, and the services that call it (RELAYS)."""
    return {issuer: [development_public_key(issuer)] for issuer in ISSUERS
            if issuer == GATEWAY or service in RELAYS.get(issuer, ())}


def is_development_key(text: str) -> bool:
    """Whether a key (private or public) is one anybody can derive from this source code."""
    known = {f(name) for name in _EVERY_SERVICE for f in (development_private_key, development_public_key)}
    return text.strip() in known


# ---- signing and verifying ----------------------------------------------------------------------------------


def audience_for(issuer: str, target: str, claims: Claims) -> str | list[str]:
    """A person's token from the gateway is also for the services its target may relay it to."""
    if issuer == GATEWAY and not claims.is_service and RELAYS.get(target):
        return [target, *RELAYS[target]]
    return target


class Signer:
    """One process's private keys: the first signs, so a new key can be promoted without a refused call."""

    def __init__(self, issuer: str, keys: Sequence[SecretStr]) -> None:
        if not keys:
            raise ValueError(f"no internal signing key for {issuer}")
        self.issuer = issuer
        self._key = private_key(keys[0].get_secret_value())
        self._kid = kid(self._key.public_key())

    def sign(self, claims: Claims, audience: str | list[str]) -> str:
        if self.issuer != GATEWAY and claims.sub != f"service:{self.issuer}":
            # Only the gateway speaks for people; a service relays the gateway's token instead (RELAYS).
            raise ValueError(f"{self.issuer} may sign only as service:{self.issuer}, and has no token to relay")
        now = int(time.time())
        payload: dict[str, Any] = {**claims.model_dump(), "iss": self.issuer, "aud": audience, "iat": now,
                                   "exp": now + TTL_SECONDS}
        return jwt.encode(payload, self._key, algorithm=ALGORITHM, headers={"kid": self._kid})


class Verifier:
    """The public keys of each issuer a service trusts."""

    def __init__(self, trusted: Mapping[str, Sequence[str]]) -> None:
        self._keys = {issuer: {kid(k): k for k in map(public_key, keys)} for issuer, keys in trusted.items()}

    def verify(self, token: str, audience: str) -> Claims:
        try:
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
            if not isinstance(issuer, str):
                raise jwt.InvalidTokenError("no issuer")
            key = self._keys.get(issuer, {}).get(jwt.get_unverified_header(token).get("kid", ""))
            if key is None:
                raise jwt.InvalidTokenError("unknown issuer or key")
            payload = jwt.decode(token, key, algorithms=[ALGORITHM], audience=audience, issuer=issuer,
                                 options={"require": ["exp", "iat", "aud", "sub", "iss"]})
            if issuer != GATEWAY and payload["sub"] != f"service:{issuer}":
                raise jwt.InvalidTokenError("a service may speak only for itself")
        except jwt.PyJWTError:
            raise Problem(401, "Not authenticated", code="internal_token") from None
        claims = Claims.model_validate(payload)
        aud = payload["aud"]
        claims._token, claims._audience = token, tuple(aud if isinstance(aud, list) else [aud])
        claims._signed = claims.model_dump()
        claims._issuer = issuer
        return claims


def compose_env() -> str:
    """Fresh key pairs for deploy/docker-compose.yml, as the lines of its deploy/.env."""
    pairs = {issuer: new_key_pair() for issuer in ISSUERS}

    def trusted(service: str) -> str:
        return json.dumps({issuer: [pairs[issuer][1]] for issuer in ISSUERS
                           if issuer == GATEWAY or service in RELAYS.get(issuer, ())})

    lines = [f"EPEP_COMPOSE_{issuer.upper()}_SIGNING_KEYS='{json.dumps([pairs[issuer][0]])}'" for issuer in ISSUERS]
    lines += [f"EPEP_COMPOSE_TRUSTED_KEYS='{trusted('identity')}'", f"EPEP_COMPOSE_PEP_TRUSTED_KEYS='{trusted('pep')}'"]
    # The key sealing the codes and tokens identity and pep send notify to email (shared/sealed.py).
    lines.append(f"EPEP_COMPOSE_MESSAGE_KEYS='{json.dumps([Fernet.generate_key().decode()])}'")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # python -m shared.internal_auth new-key | compose-env
    if sys.argv[1:] == ["compose-env"]:
        sys.stdout.write(compose_env())
        sys.exit()
    if sys.argv[1:] != ["new-key"]:
        sys.exit("usage: python -m shared.internal_auth new-key | compose-env")
    private, public = new_key_pair()
    print(f"private (EPEP_INTERNAL_SIGNING_KEYS of the signer): {private}")
    print(f"public (EPEP_INTERNAL_TRUSTED_KEYS of every service that trusts it): {public}")
