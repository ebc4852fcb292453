"""identity's HTTP API as the gateway exposes it: request and response models, shared by both so the
gateway validates and documents exactly what identity accepts. Additive changes only within /api/v1."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, Field

SettingType = Literal["school", "academy", "college", "early_years", "alternative_provision"]
Phase = Literal["early_years", "primary", "secondary", "all_through", "post_16", "special"]


def _email(value: str) -> str:
    # Reserved test domains (.test) are allowed: nobody can receive mail there, and demos and tests use them.
    try:
        return validate_email(value.strip(), check_deliverability=False, test_environment=True).normalized
    except EmailNotValidError:
        raise ValueError("Enter an email address in the correct format, like name@example.com") from None


Email = Annotated[str, AfterValidator(_email)]

# ---- requests -------------------------------------------------------------------------------------


class Registration(BaseModel):
    token: str = Field(min_length=20, max_length=100)
    given_name: str = Field(min_length=1, max_length=100)
    family_name: str = Field(min_length=1, max_length=100)
    email: Email
    password: str = Field(max_length=1024)


class RegistrationCode(BaseModel):
    registration_id: uuid.UUID
    code: str = Field(max_length=32)


class RegistrationResend(BaseModel):
    registration_id: uuid.UUID


class AcceptInvitation(BaseModel):
    token: str = Field(min_length=20, max_length=100)


class PasswordResetRequest(BaseModel):
    email: str = Field(min_length=1, max_length=320)


class PasswordResetComplete(BaseModel):
    attempt_id: uuid.UUID
    code: str = Field(max_length=32)
    new_password: str = Field(max_length=1024)


class PasswordChange(BaseModel):
    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024)


class EmailChange(BaseModel):
    new_email: Email
    password: str = Field(max_length=1024)


class EmailChangeCode(BaseModel):
    change_id: uuid.UUID
    code: str = Field(max_length=32)


class SettingIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    setting_type: SettingType
    urn: str | None = Field(default=None, pattern=r"^\d{6,7}$", description="Unique Reference Number")
    phase: Phase | None = None
    address: str | None = Field(default=None, max_length=500)


class OrganisationPatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    setting_type: SettingType | None = None
    urn: str | None = Field(default=None, pattern=r"^\d{6,7}$")
    phase: Phase | None = None
    address: str | None = Field(default=None, max_length=500)
    contact_email: Email | None = None
    contact_phone: str | None = Field(default=None, max_length=40)


class InvitationIn(BaseModel):
    given_name: str = Field(min_length=1, max_length=100)
    family_name: str = Field(min_length=1, max_length=100)
    email: Email
    role: str = Field(max_length=40)


class Nomination(BaseModel):
    user_id: uuid.UUID


class StaffAccess(BaseModel):
    children: list[uuid.UUID] | None = Field(default=None, description="null: every child at the setting")
    sections: list[str] | None = Field(default=None, description="null: every section")


# ---- responses ------------------------------------------------------------------------------------


class SessionInfo(BaseModel):
    expires_at: datetime
    idle_expires_at: datetime
    warn_seconds_before: int = Field(description="Show the timeout warning this long before idle_expires_at")
    idle_timeout_seconds: int = Field(description="How long without activity ends a session")


class InvitationPreview(BaseModel):
    organisation_name: str
    organisation_type: str
    role: str
    expires_at: datetime


class RegistrationStarted(BaseModel):
    registration_id: uuid.UUID
    email: str


class ResetStarted(BaseModel):
    attempt_id: uuid.UUID


class EmailChangeStarted(BaseModel):
    change_id: uuid.UUID


class InvitationAccepted(BaseModel):
    organisation_id: uuid.UUID
    role: str


class MySession(BaseModel):
    id: uuid.UUID
    created_at: datetime
    last_seen_at: datetime
    current: bool


class Person(BaseModel):
    user_id: uuid.UUID
    given_name: str
    family_name: str
    email: str


class OrganisationOut(BaseModel):
    id: uuid.UUID
    name: str
    organisation_type: str
    la_id: uuid.UUID | None
    setting_type: str | None
    urn: str | None
    phase: str | None
    address: str | None
    contact_email: str | None
    contact_phone: str | None
    designated_teacher: Person | None
    can_manage: bool


class SettingSummary(BaseModel):
    id: uuid.UUID
    name: str
    setting_type: str | None
    urn: str | None
    phase: str | None
    designated_teacher: Person | None


class Access(BaseModel):
    children: list[uuid.UUID] | None
    sections: list[str] | None


class Member(BaseModel):
    user_id: uuid.UUID
    given_name: str
    family_name: str
    email: str
    roles: list[str]
    deactivated: bool
    last_signed_in_at: datetime | None
    access: Access | None


class OpenInvitation(BaseModel):
    id: uuid.UUID
    given_name: str
    family_name: str
    email: str
    role: str
    created_at: datetime
    expires_at: datetime
    invited_by_name: str | None


class InvitationSent(BaseModel):
    id: uuid.UUID
    expires_at: datetime


class Nominated(BaseModel):
    user_id: uuid.UUID
    given_name: str
    family_name: str
    nominated_at: datetime
    ended_at: datetime | None
    nominated_by_name: str | None


class AuditEntry(BaseModel):
    id: int
    at: datetime
    action: str
    outcome: str
    actor_name: str | None
    subject_name: str | None
    organisation_name: str | None
    client_address: str | None
