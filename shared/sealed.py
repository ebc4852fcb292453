"""Secrets that travel in events only so notify can email them: sign-in and email codes, invitation and views
links' tokens. They are sealed (Fernet: AES-128-CBC with HMAC-SHA256) with a key only their producers (identity,
pep) and notify hold, so the outbox row, the message on the broker and any dead letter or retry of it carry
ciphertext, useless to whoever reads the database, the broker or a dead-letter dump.

`SealedStr` is the field type: an event is built with the secret in clear, `model_dump` (as `add_event` does)
seals it, and validating the event (as notify's consumers do) opens it again. Keys: EPEP_MESSAGE_KEYS, a list of
Fernet keys (`python -m shared.sealed new-key`); the first seals, every one opens, so a key rotates in three steps
(add it everywhere, move it first, drop the old once no message sealed with it can still be waiting). Without it
the development key is used, derived from a public label: settings refuse it in production."""

from __future__ import annotations

import base64
import hashlib
import sys
from collections.abc import Sequence
from typing import Annotated

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import BeforeValidator, PlainSerializer

PREFIX = "sealed:v1:"
DEVELOPMENT_LABEL = b"epep message key, development only, public: never for production"


def development_key() -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(DEVELOPMENT_LABEL).digest()).decode()


def is_development_key(key: str) -> bool:
    return key.strip() == development_key()


class Sealer:
    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("no message keys")
        # Parsed now, so a malformed key stops the process at start.
        self._fernet = MultiFernet([Fernet(key.strip().encode()) for key in keys])

    def seal(self, secret: str) -> str:
        return PREFIX + self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.removeprefix(PREFIX).encode()).decode()
        except InvalidToken:
            raise ValueError("a sealed secret this process cannot open") from None


_sealer: Sealer | None = Sealer([development_key()])


def configure(keys: Sequence[str] | None) -> None:
    """This process's keys (create_app, from the settings of identity, pep and notify); None: it holds none, and
    may neither seal nor open."""
    global _sealer
    _sealer = Sealer(keys) if keys else None


def _current() -> Sealer:
    if _sealer is None:
        raise ValueError("this process holds no message keys (EPEP_MESSAGE_KEYS)")
    return _sealer


def seal(secret: str) -> str:
    return secret if secret.startswith(PREFIX) else _current().seal(secret)


def unseal(value: object) -> object:
    """A sealed secret opened; anything else as it is (an event built in this process, a preview)."""
    if isinstance(value, str) and value.startswith(PREFIX):
        return _current().open(value)
    return value


SealedStr = Annotated[str, BeforeValidator(unseal), PlainSerializer(seal, return_type=str, when_used="json")]


if __name__ == "__main__":  # python -m shared.sealed new-key
    if sys.argv[1:] != ["new-key"]:
        sys.exit("usage: python -m shared.sealed new-key")
    print(Fernet.generate_key().decode())
