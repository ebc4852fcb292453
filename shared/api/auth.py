"""Signing in and the session: the gateway answers these itself, asking identity."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from shared.api.identity import SessionInfo
from shared.api.operations import operation


class SignIn(BaseModel):
    email: str = Field(min_length=3, max_length=320, description="The address the account was registered with")
    password: str = Field(min_length=1, max_length=1024)


class SignInStarted(BaseModel):
    attempt_id: uuid.UUID = Field(description="Send it back with the emailed code. Returned whether or not the "
                                              "email and password were right; a code is emailed only if they were.")


class VerifyCode(BaseModel):
    attempt_id: uuid.UUID
    code: str = Field(min_length=1, max_length=32, description="8 digits, with or without the space: 1234 5678")


class ResendCode(BaseModel):
    attempt_id: uuid.UUID


class SignedIn(BaseModel):
    user_id: uuid.UUID
    expires_at: datetime
    idle_expires_at: datetime


class MembershipOut(BaseModel):
    organisation_id: uuid.UUID
    organisation_name: str
    organisation_type: str
    role: str


class Me(BaseModel):
    id: uuid.UUID
    email: str
    given_name: str
    family_name: str
    memberships: list[MembershipOut]

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip()


tags = ("auth",)
SIGN_IN = operation("sign_in", "post", "/auth/sign-in", "Start signing in with email and password", service="gateway",
                    body=SignIn, response=SignInStarted, status=202, public=True, errors=(422, 429), tags=tags)
VERIFY_SIGN_IN = operation("verify_sign_in", "post", "/auth/sign-in/verify", "Finish signing in with the emailed "
                           "code; sets the session cookie", service="gateway", body=VerifyCode, response=SignedIn,
                           public=True, errors=(400, 422, 429), tags=tags)
RESEND_SIGN_IN_CODE = operation("resend_sign_in_code", "post", "/auth/sign-in/resend", "Email a new code (the old "
                                "one stops working)", service="gateway", body=ResendCode, response=SignInStarted,
                                status=202, public=True, errors=(422, 429), tags=tags)
GET_ME = operation("get_me", "get", "/me", "The signed-in user and their organisations and roles", service="gateway",
                   response=Me, errors=(401,), tags=tags)
SIGN_OUT = operation("sign_out", "post", "/auth/sign-out", "Sign out of this session", service="gateway", status=204,
                     public=True, errors=(), tags=tags)
SIGN_OUT_EVERYWHERE = operation("sign_out_everywhere", "post", "/auth/sign-out-everywhere", "Sign out of every "
                                "session of this user", service="gateway", status=204, errors=(401,), tags=tags)
GET_SESSION = operation("get_session", "get", "/session", "When this session ends, without extending it",
                        service="gateway", response=SessionInfo, errors=(401,), tags=tags)
EXTEND_SESSION = operation("extend_session", "post", "/session/extend", "Stay signed in: restart the idle clock",
                           service="gateway", response=SessionInfo, errors=(401,), tags=tags)
GET_OPENAPI = operation("get_openapi", "get", "/openapi.json", "This document", service="gateway", public=True,
                        media="application/json", errors=(), tags=("meta",))
