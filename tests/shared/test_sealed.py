"""The secrets events carry for notify to email are sealed as they are serialised (the outbox row, the message, any
dead letter) and opened only with the message keys (shared/sealed.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from shared import sealed
from shared.contracts import InvitationCreated, SignInCodeIssued, ViewsCodeIssued, ViewsInvitationSent


@pytest.fixture(autouse=True)
def keys() -> Iterator[None]:
    yield
    sealed.configure([sealed.development_key()])  # as every test process starts


def sign_in_code() -> SignInCodeIssued:
    return SignInCodeIssued(attempt_id=uuid.uuid4(), user_id=uuid.uuid4(), email="a@example.test", given_name="A",
                            code="1234 5678", expires_at=datetime.now(UTC))


def test_an_events_secret_is_sealed_in_json_and_opened_when_read() -> None:
    sealed.configure([Fernet.generate_key().decode()])
    event = sign_in_code()
    data = event.model_dump(mode="json")
    assert "1234" not in str(data) and data["code"].startswith(sealed.PREFIX)
    assert SignInCodeIssued.model_validate(data).code == "1234 5678"
    assert event.code == "1234 5678"  # in this process, as built
    # Every event carrying a code or a link's token.
    for model, field in ((InvitationCreated, "token"), (ViewsInvitationSent, "token"), (ViewsCodeIssued, "code")):
        assert model.model_fields[field].metadata, (model, field)


def test_without_the_key_it_cannot_be_opened_and_rotation_keeps_what_was_sealed() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed.configure([old])
    data = sign_in_code().model_dump(mode="json")
    sealed.configure([Fernet.generate_key().decode()])  # someone else's key
    with pytest.raises(ValidationError, match="cannot open"):
        SignInCodeIssued.model_validate(data)
    sealed.configure([new, old])  # the new key seals, the old still opens
    assert SignInCodeIssued.model_validate(data).code == "1234 5678"
    resealed = sign_in_code().model_dump(mode="json")
    sealed.configure([new])
    assert SignInCodeIssued.model_validate(resealed).code == "1234 5678"
    sealed.configure(None)  # a process holding no key may neither seal nor open
    with pytest.raises(ValueError, match="EPEP_MESSAGE_KEYS"):
        sign_in_code().model_dump(mode="json")
