"""Registration, account care and administration: the gateway checks who is asking, validates the body
against the shared contract, and passes it to identity, which decides on its own data."""

from __future__ import annotations

from aiohttp import web

from services.gateway.forwarding import forward, routes
from services.gateway.handlers import GATEWAY, IDENTITY, _settings, authenticate
from services.gateway.openapi import Operation, ProblemDocument, operation
from shared.api import identity as api
from shared.web import REQUEST_ID


async def _session(request: web.Request, touch: bool) -> web.Response:
    token = request.cookies.get(_settings(request).session_cookie, "")
    if not token or len(token) > 128:
        await authenticate(request)  # answers the usual 401
    found = await request.app[IDENTITY].call("POST", "/sessions/resolve", GATEWAY, request_id=request[REQUEST_ID],
                                             json_body={"session_token": token, "touch": touch})
    info = api.SessionInfo(expires_at=found["expires_at"], idle_expires_at=found["idle_expires_at"],
                           warn_seconds_before=120, idle_timeout_seconds=found["idle_timeout_seconds"])
    return web.Response(text=info.model_dump_json(), content_type="application/json")


@routes.get("/api/v1/session")
async def session_info(request: web.Request) -> web.Response:
    """When this session ends; asking does not keep it alive (the timeout warning polls this)."""
    return await _session(request, touch=False)


@routes.post("/api/v1/session/extend")
async def extend_session(request: web.Request) -> web.Response:
    """'Stay signed in': restart the idle clock."""
    return await _session(request, touch=True)


operation(Operation("get", "/api/v1/session", "When this session ends, without extending it", None,
                    {200: api.SessionInfo, 401: ProblemDocument}, tags=["auth"]))
operation(Operation("post", "/api/v1/session/extend", "Stay signed in: restart the idle clock", None,
                    {200: api.SessionInfo, 401: ProblemDocument}, tags=["auth"]))

# Registration and forgotten password: no session yet.
forward("get", "/invitations/lookup", "What an emailed invitation link is for (query: token)",
        response=api.InvitationPreview, public=True, tags=("registration",))
forward("post", "/registrations", "Register from an invitation; a code is emailed to verify the address",
        body=api.Registration, response=api.RegistrationStarted, status=202, public=True, tags=("registration",))
forward("post", "/registrations/verify", "Verify the address with the emailed code: the account is created",
        body=api.RegistrationCode, status=204, public=True, tags=("registration",))
forward("post", "/registrations/resend", "Email a new registration code", body=api.RegistrationResend,
        response=api.RegistrationResend, status=202, public=True, tags=("registration",))
forward("post", "/auth/password-reset", "Forgotten password: email a code (same answer for unknown emails)",
        body=api.PasswordResetRequest, response=api.ResetStarted, status=202, public=True, with_address=True,
        tags=("auth",))
forward("post", "/auth/password-reset/complete", "Set a new password with the emailed code; every session ends",
        body=api.PasswordResetComplete, status=204, public=True, with_address=True, tags=("auth",))

# My account.
forward("post", "/invitations/accept", "Accept an invitation with the account you are signed in to",
        body=api.AcceptInvitation, response=api.InvitationAccepted)
forward("post", "/me/password", "Change my password (my other sessions end)", body=api.PasswordChange, status=204)
forward("post", "/me/email", "Change my email: a code is sent to the new address", body=api.EmailChange,
        response=api.EmailChangeStarted, status=202)
forward("post", "/me/email/verify", "Confirm my new email address with the code", body=api.EmailChangeCode,
        status=204)
forward("get", "/me/sessions", "My sessions", response=api.MySession, many=True)
forward("delete", "/me/sessions/{session_id}", "Sign out one of my sessions", status=204)

# Administration.
admin = ("administration",)
forward("get", "/organisations/{org_id}", "An organisation I can see", response=api.OrganisationOut, tags=admin)
forward("patch", "/organisations/{org_id}", "Change an organisation's details (VS admin)",
        body=api.OrganisationPatch, response=api.OrganisationOut, tags=admin)
forward("get", "/organisations/{la_id}/settings", "The education settings in an LA's area",
        response=api.SettingSummary, many=True, tags=admin)
forward("post", "/organisations/{la_id}/settings", "Add an education setting (VS admin)", body=api.SettingIn,
        response=api.OrganisationOut, status=201, tags=admin)
forward("get", "/organisations/{org_id}/users", "The people in an organisation I manage", response=api.Member,
        many=True, tags=admin)
forward("get", "/organisations/{org_id}/invitations", "Open invitations", response=api.OpenInvitation, many=True,
        tags=admin)
forward("post", "/organisations/{org_id}/invitations", "Invite someone by name, email and role",
        body=api.InvitationIn, response=api.InvitationSent, status=201, tags=admin)
forward("delete", "/invitations/{invitation_id}", "Withdraw an invitation", status=204, tags=admin)
forward("post", "/organisations/{setting_id}/designated-teacher", "Nominate the setting's Designated Teacher",
        body=api.Nomination, response=api.OrganisationOut, tags=admin)
forward("get", "/organisations/{setting_id}/designated-teacher/history", "Who has been the nominated DT",
        response=api.Nominated, many=True, tags=admin)
forward("post", "/users/{user_id}/deactivate", "Deactivate an account: its sessions end at once", status=204,
        tags=admin)
forward("post", "/users/{user_id}/reactivate", "Reactivate an account", status=204, tags=admin)
forward("post", "/users/{user_id}/sessions/revoke-all", "End every session of an account", status=204, tags=admin)
forward("put", "/organisations/{setting_id}/staff/{user_id}/access", "Which children and sections a member of "
        "staff may see (DT)", body=api.StaffAccess, status=204, tags=admin)
forward("get", "/organisations/{la_id}/audit", "The LA's identity audit trail (query: action, user_id, limit)",
        response=api.AuditEntry, many=True, tags=admin)
