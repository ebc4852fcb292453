"""identity's HTTP API as the gateway exposes it: request and response models, shared by both so the
gateway validates and documents exactly what identity accepts. Additive changes only within /api/v1."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, Field

from shared.api.operations import Operation, operation

SettingType = Literal["school", "academy", "college", "early_years", "alternative_provision"]
Phase = Literal["early_years", "primary", "secondary", "all_through", "post_16", "special"]


# RFC 5321's limit on a forward path. Every email field in the portal and the services is checked by email_error /
# Email below, and the length is capped before any pattern sees the text: no pattern ever runs on a megabyte.
EMAIL_MAX_LENGTH = 320
EMAIL_FORMAT = "Enter an email address in the correct format, like name@example.com"


def normalised_email(value: str) -> str | None:
    """The address as email-validator writes it, or None if it is not one. The one check of an email address."""
    if len(value) > EMAIL_MAX_LENGTH:
        return None
    # Reserved test domains (.test) are allowed: nobody can receive mail there, and demos and tests use them.
    try:
        return validate_email(value.strip(), check_deliverability=False, test_environment=True).normalized
    except EmailNotValidError:
        return None


def email_error(value: str, empty: str = "Enter an email address") -> str | None:
    """What to tell the person about what they typed in an email field (None: it is an address)."""
    if not value.strip():
        return empty
    if len(value) > EMAIL_MAX_LENGTH:
        return f"The email address must be {EMAIL_MAX_LENGTH} characters or fewer"
    return None if normalised_email(value) else EMAIL_FORMAT


def _email(value: str) -> str:
    normalised = normalised_email(value)
    if normalised is None:
        raise ValueError(EMAIL_FORMAT)
    return normalised


# The length is checked by pydantic's own string schema, before the validator runs.
Email = Annotated[str, Field(max_length=EMAIL_MAX_LENGTH), AfterValidator(_email)]

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


class SessionRules(BaseModel):
    """An LA's own session rules, in minutes (identity checks the bounds and names the field: 5 to 120 minutes,
    a warning of at least 1 minute and shorter than the idle timeout)."""
    idle_minutes: int = Field(ge=0, le=10_000, description="Minutes without activity that end a session of anyone "
                              "who works for the LA (5 to 120)")
    warning_minutes: int = Field(ge=0, le=10_000, description="Minutes before that when the timeout warning shows "
                                 "(at least 1, less than idle_minutes)")


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


class SessionRulesOut(BaseModel):
    idle_minutes: int
    warning_minutes: int
    set_by_la: bool = Field(description="False: the LA has set none, and these are the service's default")
    version: int | None = Field(default=None, description="How many times the LA has set its rules")
    changed_at: datetime | None = None
    changed_by_name: str | None = None


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


class StaffPerson(BaseModel):
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
    designated_teacher: StaffPerson | None
    can_manage: bool


class SettingSummary(BaseModel):
    id: uuid.UUID
    name: str
    setting_type: str | None
    urn: str | None
    phase: str | None
    designated_teacher: StaffPerson | None


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


class IdentityAuditEntry(BaseModel):
    id: int
    at: datetime
    action: str
    outcome: str
    actor_name: str | None
    subject_name: str | None
    organisation_name: str | None
    client_address: str | None


# ---- operations ------------------------------------------------------------------------------------

class InvitationLookupQuery(BaseModel):
    token: str = Field(min_length=1, max_length=200, description="The token from the emailed invitation link")


class AuditQuery(BaseModel):
    action: str | None = Field(default=None, max_length=100, description="Only this kind of action")
    user_id: uuid.UUID | None = Field(default=None, description="Only actions by or about this person")
    limit: int = Field(default=50, ge=1, le=500)


def _op(id: str, method: str, path: str, summary: str, **options: Any) -> Operation:
    return operation(id, method, path, summary, service="identity", **options)


LOOKUP_INVITATION = _op("lookup_invitation", "get", "/invitations/lookup", "What an emailed invitation link is for",
                        query=InvitationLookupQuery, response=InvitationPreview, public=True, tags=("registration",))
REGISTER = _op("register", "post", "/registrations", "Register from an invitation; a code is emailed to verify the "
               "address", body=Registration, response=RegistrationStarted, status=202, public=True,
               tags=("registration",))
VERIFY_REGISTRATION = _op("verify_registration", "post", "/registrations/verify", "Verify the address with the "
                          "emailed code: the account is created", body=RegistrationCode, status=204, public=True,
                          tags=("registration",))
RESEND_REGISTRATION_CODE = _op("resend_registration_code", "post", "/registrations/resend", "Email a new registration "
                               "code", body=RegistrationResend, response=RegistrationResend, status=202, public=True,
                               tags=("registration",))
REQUEST_PASSWORD_RESET = _op("request_password_reset", "post", "/auth/password-reset", "Forgotten password: email a "
                             "code (same answer for unknown emails)", body=PasswordResetRequest, response=ResetStarted,
                             status=202, public=True, with_address=True, tags=("auth",))
COMPLETE_PASSWORD_RESET = _op("complete_password_reset", "post", "/auth/password-reset/complete", "Set a new password "
                              "with the emailed code; every session ends", body=PasswordResetComplete, status=204,
                              public=True, with_address=True, tags=("auth",))
ACCEPT_INVITATION = _op("accept_invitation", "post", "/invitations/accept", "Accept an invitation with the account "
                        "you are signed in to", body=AcceptInvitation, response=InvitationAccepted, tags=("account",))
CHANGE_PASSWORD = _op("change_password", "post", "/me/password", "Change my password (my other sessions end)",
                      body=PasswordChange, status=204, errors=(401, 404, 422, 429), tags=("account",))
CHANGE_EMAIL = _op("change_email", "post", "/me/email", "Change my email: a code is sent to the new address",
                   body=EmailChange, response=EmailChangeStarted, status=202, errors=(401, 404, 422, 429),
                   tags=("account",))
VERIFY_EMAIL_CHANGE = _op("verify_email_change", "post", "/me/email/verify", "Confirm my new email address with the "
                          "code", body=EmailChangeCode, status=204, tags=("account",))
LIST_MY_SESSIONS = _op("list_my_sessions", "get", "/me/sessions", "My sessions", response=MySession, many=True,
                       tags=("account",))
END_MY_SESSION = _op("end_my_session", "delete", "/me/sessions/{session_id}", "Sign out one of my sessions", status=204,
                     tags=("account",))
GET_ORGANISATION = _op("get_organisation", "get", "/organisations/{org_id}", "An organisation I can see",
                       response=OrganisationOut, tags=("administration",))
CHANGE_ORGANISATION = _op("change_organisation", "patch", "/organisations/{org_id}", "Change an organisation's "
                          "details (VS admin)", body=OrganisationPatch, response=OrganisationOut,
                          tags=("administration",))
LIST_SETTINGS = _op("list_settings", "get", "/organisations/{la_id}/settings", "The education settings in an LA's area",
                    response=SettingSummary, many=True, tags=("administration",))
ADD_SETTING = _op("add_setting", "post", "/organisations/{la_id}/settings", "Add an education setting (VS admin)",
                  body=SettingIn, response=OrganisationOut, status=201, tags=("administration",))
GET_SESSION_RULES = _op("get_session_rules", "get", "/organisations/{la_id}/session-rules", "How long without "
                        "activity ends the session of anyone who works for the LA, and when the warning shows (the "
                        "LA's VS admin)", response=SessionRulesOut, tags=("administration",))
SET_SESSION_RULES = _op("set_session_rules", "put", "/organisations/{la_id}/session-rules", "Change them (the LA's VS "
                        "admin); someone who works for several LAs follows the shortest idle timeout. Sessions "
                        "follow the new rules from their next request", body=SessionRules, response=SessionRulesOut,
                        errors=(401, 403, 404, 422), tags=("administration",))
LIST_MEMBERS = _op("list_members", "get", "/organisations/{org_id}/users", "The people in an organisation I manage",
                   response=Member, many=True, tags=("administration",))
LIST_INVITATIONS = _op("list_invitations", "get", "/organisations/{org_id}/invitations", "Open invitations",
                       response=OpenInvitation, many=True, tags=("administration",))
INVITE = _op("invite", "post", "/organisations/{org_id}/invitations", "Invite someone by name, email and role",
             body=InvitationIn, response=InvitationSent, status=201, tags=("administration",))
WITHDRAW_INVITATION = _op("withdraw_invitation", "delete", "/invitations/{invitation_id}", "Withdraw an invitation",
                          status=204, tags=("administration",))
NOMINATE_DESIGNATED_TEACHER = _op("nominate_designated_teacher", "post",
                                  "/organisations/{setting_id}/designated-teacher", "Nominate the setting's "
                                  "Designated Teacher", body=Nomination, response=OrganisationOut,
                                  tags=("administration",))
DESIGNATED_TEACHER_HISTORY = _op("designated_teacher_history", "get",
                                 "/organisations/{setting_id}/designated-teacher/history", "Who has been the "
                                 "nominated DT", response=Nominated, many=True, tags=("administration",))
DEACTIVATE_USER = _op("deactivate_user", "post", "/users/{user_id}/deactivate", "Deactivate an account: its sessions "
                      "end at once", status=204, tags=("administration",))
REACTIVATE_USER = _op("reactivate_user", "post", "/users/{user_id}/reactivate", "Reactivate an account", status=204,
                      tags=("administration",))
END_USER_SESSIONS = _op("end_user_sessions", "post", "/users/{user_id}/sessions/revoke-all", "End every session of an "
                        "account", status=204, tags=("administration",))
SET_STAFF_ACCESS = _op("set_staff_access", "put", "/organisations/{setting_id}/staff/{user_id}/access", "Which "
                       "children and sections a member of staff may see (DT)", body=StaffAccess, status=204,
                       tags=("administration",))
LIST_AUDIT = _op("list_audit", "get", "/organisations/{la_id}/audit", "The LA's identity audit trail", query=AuditQuery,
                 response=IdentityAuditEntry, many=True, tags=("administration",))
