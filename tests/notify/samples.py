"""One sample of every event notify turns into email, with values easy to spot in what it sends."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from shared.contracts import (
    AccountChanged,
    EmailCodeIssued,
    EventData,
    InvitationCreated,
    Organisation,
    SignedIn,
    SignInCodeIssued,
)

WHEN = datetime(2026, 12, 7, 16, 30, tzinfo=UTC)  # "Monday 7 December 2026 at 4:30pm"
VIRTUAL_SCHOOL = Organisation(name="Northshire Virtual School", contact_email="virtual.school@northshire.test",
                              contact_phone="01632 960 001")


def sign_in_code(email: str = "dana@example.test") -> SignInCodeIssued:
    return SignInCodeIssued(attempt_id=uuid.uuid4(), user_id=uuid.uuid4(), email=email, given_name="Dana",
                            code="1234 5678", expires_at=WHEN)


def invitation(email: str = "sam@example.test", role: str = "social_worker") -> InvitationCreated:
    return InvitationCreated(
        invitation_id=uuid.uuid4(), email=email, given_name="Sam", family_name="Worker", role=role,
        organisation_id=uuid.uuid4(), organisation_name="Northshire Council", invited_by_name="Vic Admin",
        token="tok_" + uuid.uuid4().hex, expires_at=WHEN, virtual_school=VIRTUAL_SCHOOL)


def email_code(purpose: str, email: str = "kim@example.test") -> EmailCodeIssued:
    return EmailCodeIssued(code_id=uuid.uuid4(), purpose=purpose, email=email, given_name="Kim", code="8765 4321",
                           expires_at=WHEN)


def signed_in(email: str = "lee@example.test") -> SignedIn:
    return SignedIn(user_id=uuid.uuid4(), email=email, given_name="Lee", session_id=uuid.uuid4(), signed_in_at=WHEN)


def password_changed(email: str = "ash@example.test") -> AccountChanged:
    return AccountChanged(user_id=uuid.uuid4(), change="password_changed", email=email, given_name="Ash",
                          changed_at=WHEN)


def email_changed(previous: str = "old.jo@example.test", new: str = "new.jo@example.test") -> AccountChanged:
    return AccountChanged(user_id=uuid.uuid4(), change="email_changed", email=new, previous_email=previous,
                          given_name="Jo", changed_at=WHEN)


def every_event() -> list[EventData]:
    return [sign_in_code(), invitation(), email_code("verify_registration"), email_code("change_email"),
            email_code("reset_password"), signed_in(), password_changed(), email_changed()]
