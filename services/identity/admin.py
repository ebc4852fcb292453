"""Administration over HTTP: a Virtual School admin looks after their LA's settings, people and invitations; a
Designated Teacher looks after their setting's staff. Nobody reaches another LA's: that answers 404.
Who may manage what is in authz.py, the rules in domain/administration.py, the SQL in admin_store.py."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from aiohttp import web

from services.identity import admin_store as store
from services.identity import audit, authz
from services.identity.accounts import ORGANISATION_DETAILS, publish_organisation, publish_user
from services.identity.domain.administration import audit_page_size, invitation_token, organisation_change_errors
from services.identity.domain.emails import normalise_email
from services.identity.membership import nominate
from services.identity.problems import invalid_fields
from services.identity.settings import IdentitySettings
from shared.api.identity import InvitationIn, Nomination, OrganisationPatch, SettingIn, StaffAccess
from shared.authz import not_found, require_user
from shared.errors import Problem
from shared.internal_auth import Claims
from shared.service import POOL, SETTINGS
from shared.web import CLAIMS, REQUEST_ID, parse_body, path_uuid

routes = web.RouteTableDef()


def _person(row: asyncpg.Record | None, prefix: str = "") -> dict[str, Any] | None:
    if row is None or row[f"{prefix}user_id"] is None:
        return None
    return {"user_id": str(row[f"{prefix}user_id"]), "given_name": row[f"{prefix}given_name"],
            "family_name": row[f"{prefix}family_name"], "email": row[f"{prefix}email"]}


async def _organisation_out(conn: asyncpg.Connection, claims: Claims, org: asyncpg.Record) -> dict[str, Any]:
    dt = await store.designated_teacher(conn, org["id"])
    return {"id": str(org["id"]), "name": org["name"], "organisation_type": org["type"],
            "la_id": str(org["la_id"]) if org["la_id"] else None,
            **{k: org[k] for k in sorted(ORGANISATION_DETAILS)},
            "designated_teacher": _person(dt), "can_manage": authz.can_manage(claims, org)}


# ---- organisations --------------------------------------------------------------------------------


@routes.get("/organisations/{org_id}")
async def get_organisation(request: web.Request) -> web.Response:
    claims = request[CLAIMS]
    async with request.app[POOL].acquire() as conn:
        org = await authz.visible(conn, claims, path_uuid(request, "org_id"))
        return web.json_response(await _organisation_out(conn, claims, org))


@routes.get("/organisations/{la_id}/settings")
async def list_settings(request: web.Request) -> web.Response:
    claims = request[CLAIMS]
    async with request.app[POOL].acquire() as conn:
        la = await authz.visible(conn, claims, path_uuid(request, "la_id"))
        if la["type"] != "local_authority":
            raise not_found()
        rows = await store.settings_of(conn, la["id"])
    return web.json_response([{"id": str(r["id"]), "name": r["name"], "setting_type": r["setting_type"],
                               "urn": r["urn"], "phase": r["phase"], "designated_teacher": _person(r)}
                              for r in rows])


@routes.post("/organisations/{la_id}/settings")
async def add_setting(request: web.Request) -> web.Response:
    claims = request[CLAIMS]
    body = await parse_body(request, SettingIn)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        la = await authz.managed(conn, claims, path_uuid(request, "la_id"), vs_admin_only=True)
        if la["type"] != "local_authority":
            raise not_found()
        setting_id = await store.add_setting(conn, la["id"], body.name.strip(), body.setting_type, body.urn,
                                             body.phase, body.address)
        await publish_organisation(conn, setting_id)
        await audit.record(conn, "setting_added", actor_id=claims.sub, organisation_id=setting_id)
        org = await authz.organisation(conn, setting_id)
        assert org is not None
        return web.json_response(await _organisation_out(conn, claims, org), status=201)


@routes.patch("/organisations/{org_id}")
async def edit_organisation(request: web.Request) -> web.Response:
    claims = request[CLAIMS]
    body = await parse_body(request, OrganisationPatch)
    changes = body.model_dump(exclude_unset=True)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        org = await authz.managed(conn, claims, path_uuid(request, "org_id"), vs_admin_only=True)
        if errors := organisation_change_errors(org["type"], changes):
            raise invalid_fields(*errors)
        if changes:
            await store.change_organisation(conn, org["id"], changes)
            await publish_organisation(conn, org["id"])
            await audit.record(conn, "organisation_changed", actor_id=claims.sub, organisation_id=org["id"],
                               details={"fields": sorted(changes)})
        fresh = await authz.organisation(conn, org["id"])
        assert fresh is not None
        return web.json_response(await _organisation_out(conn, claims, fresh))


# ---- people ---------------------------------------------------------------------------------------


@routes.get("/organisations/{org_id}/users")
async def list_users(request: web.Request) -> web.Response:
    claims = request[CLAIMS]
    async with request.app[POOL].acquire() as conn:
        org = await authz.managed(conn, claims, path_uuid(request, "org_id"))
        rows = await store.people_of(conn, org["id"])
    return web.json_response([{
        "user_id": str(r["id"]), "given_name": r["given_name"], "family_name": r["family_name"], "email": r["email"],
        "roles": r["roles"], "deactivated": r["disabled_at"] is not None,
        "last_signed_in_at": r["last_signed_in_at"].isoformat() if r["last_signed_in_at"] else None,
        "access": {"children": [str(c) for c in r["children"]] if r["children"] is not None else None,
                   "sections": r["sections"]} if r["has_access"] else None} for r in rows])


@routes.get("/organisations/{org_id}/invitations")
async def list_invitations(request: web.Request) -> web.Response:
    claims = request[CLAIMS]
    async with request.app[POOL].acquire() as conn:
        org = await authz.managed(conn, claims, path_uuid(request, "org_id"))
        rows = await store.open_invitations(conn, org["id"])
    return web.json_response([{
        "id": str(r["id"]), "given_name": r["given_name"], "family_name": r["family_name"], "email": r["email"],
        "role": r["role"], "created_at": r["created_at"].isoformat(), "expires_at": r["expires_at"].isoformat(),
        "invited_by_name": r["invited_by_name"]} for r in rows])


@routes.post("/organisations/{org_id}/invitations")
async def invite(request: web.Request) -> web.Response:
    claims = request[CLAIMS]
    inviter = uuid.UUID(require_user(claims))
    body = await parse_body(request, InvitationIn)
    settings = request.app[SETTINGS]
    assert isinstance(settings, IdentitySettings)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        org = await authz.managed(conn, claims, path_uuid(request, "org_id"))
        if body.role not in authz.invitable_roles(claims, org):
            raise invalid_fields(("role", "Choose a role you can invite"))
        email = str(body.email).strip()
        token, token_hash = invitation_token()
        la_id = authz.la_of(org)
        try:
            invitation_id, expires_at = await store.create_invitation(
                conn, org=org, la_id=la_id, la=await authz.organisation(conn, la_id), role=body.role, email=email,
                email_normalised=normalise_email(email), given_name=body.given_name, family_name=body.family_name,
                inviter=inviter, token=token, token_hash=token_hash, days=settings.invitation_days,
                correlation_id=request[REQUEST_ID])
        except store.InvitationOpen:
            raise invalid_fields(("email", "There is already an open invitation for this email address")) from None
        await audit.record(conn, "invitation_sent", actor_id=inviter, organisation_id=org["id"],
                           details={"role": body.role, "invitation_id": str(invitation_id)})
    return web.json_response({"id": str(invitation_id), "expires_at": expires_at.isoformat()}, status=201)


@routes.delete("/invitations/{invitation_id}")
async def withdraw_invitation(request: web.Request) -> web.Response:
    claims = request[CLAIMS]
    async with request.app[POOL].acquire() as conn, conn.transaction():
        inv = await store.open_invitation(conn, path_uuid(request, "invitation_id"))
        org = inv and await authz.organisation(conn, inv["organisation_id"])
        if not inv or not org or inv["role"] not in authz.invitable_roles(claims, org):
            raise not_found("invitation")
        await store.withdraw_invitation(conn, inv["id"])
        await audit.record(conn, "invitation_withdrawn", actor_id=claims.sub, organisation_id=org["id"],
                           details={"invitation_id": str(inv["id"])})
    return web.Response(status=204)


@routes.post("/organisations/{setting_id}/designated-teacher")
async def change_designated_teacher(request: web.Request) -> web.Response:
    claims = request[CLAIMS]
    body = await parse_body(request, Nomination)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        org = await authz.managed(conn, claims, path_uuid(request, "setting_id"), vs_admin_only=True)
        if org["type"] != "setting":
            raise not_found()
        if not await store.is_active_member(conn, body.user_id, org["id"]):
            raise invalid_fields(("user_id", "Choose someone who works at this setting"))
        previous = await nominate(conn, org["id"], body.user_id, uuid.UUID(claims.sub))
        await publish_user(conn, body.user_id)
        await audit.record(conn, "designated_teacher_changed", actor_id=claims.sub, subject_user_id=body.user_id,
                           organisation_id=org["id"], details={"previous": str(previous) if previous else None})
        return web.json_response(await _organisation_out(conn, claims, org))


@routes.get("/organisations/{setting_id}/designated-teacher/history")
async def designated_teacher_history(request: web.Request) -> web.Response:
    claims = request[CLAIMS]
    async with request.app[POOL].acquire() as conn:
        org = await authz.managed(conn, claims, path_uuid(request, "setting_id"))
        rows = await store.designated_teacher_history(conn, org["id"])
    return web.json_response([{
        "user_id": str(r["user_id"]), "given_name": r["given_name"], "family_name": r["family_name"],
        "nominated_at": r["nominated_at"].isoformat(), "ended_at": r["ended_at"].isoformat() if r["ended_at"] else None,
        "nominated_by_name": r["nominated_by_name"]} for r in rows])


async def _administered_user(conn: asyncpg.Connection, claims: Claims, request: web.Request) -> uuid.UUID:
    user_id = path_uuid(request, "user_id")
    if not await authz.administers_user(conn, claims, user_id):
        raise not_found("person")
    return user_id


@routes.post("/users/{user_id}/deactivate")
async def deactivate(request: web.Request) -> web.Response:
    """Effective at once: every session ends and sign-in stops working."""
    claims = request[CLAIMS]
    async with request.app[POOL].acquire() as conn, conn.transaction():
        user_id = await _administered_user(conn, claims, request)
        if str(user_id) == claims.sub:
            raise Problem(422, "You cannot deactivate your own account", code="own_account")
        await store.deactivate(conn, user_id)
        await publish_user(conn, user_id)
        await audit.record(conn, "account_deactivated", actor_id=claims.sub, subject_user_id=user_id)
    return web.Response(status=204)


@routes.post("/users/{user_id}/reactivate")
async def reactivate(request: web.Request) -> web.Response:
    claims = request[CLAIMS]
    async with request.app[POOL].acquire() as conn, conn.transaction():
        user_id = await _administered_user(conn, claims, request)
        await store.reactivate(conn, user_id)
        await publish_user(conn, user_id)
        await audit.record(conn, "account_reactivated", actor_id=claims.sub, subject_user_id=user_id)
    return web.Response(status=204)


@routes.post("/users/{user_id}/sessions/revoke-all")
async def end_users_sessions(request: web.Request) -> web.Response:
    claims = request[CLAIMS]
    async with request.app[POOL].acquire() as conn, conn.transaction():
        user_id = await _administered_user(conn, claims, request)
        await store.end_sessions(conn, user_id)
        await audit.record(conn, "sessions_ended_by_admin", actor_id=claims.sub, subject_user_id=user_id)
    return web.Response(status=204)


@routes.put("/organisations/{setting_id}/staff/{user_id}/access")
async def set_staff_access(request: web.Request) -> web.Response:
    """A DT decides which children and PEP sections each member of their staff may see."""
    claims = request[CLAIMS]
    body = await parse_body(request, StaffAccess)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        org = await authz.visible(conn, claims, path_uuid(request, "setting_id"))
        if not authz.is_dt_of(claims, org):
            raise Problem(403, "Only the setting's Designated Teacher can change staff access", code="forbidden")
        user_id = path_uuid(request, "user_id")
        if not await store.is_staff_member(conn, user_id, org["id"]):
            raise not_found("member of staff")
        await store.set_staff_access(conn, org["id"], user_id, body.children, body.sections, uuid.UUID(claims.sub))
        await publish_user(conn, user_id)
        await audit.record(conn, "staff_access_changed", actor_id=claims.sub, subject_user_id=user_id,
                           organisation_id=org["id"])
    return web.Response(status=204)


@routes.get("/organisations/{la_id}/audit")
async def audit_trail(request: web.Request) -> web.Response:
    """What happened in this LA: for its VS admins only."""
    claims = request[CLAIMS]
    try:
        limit = audit_page_size(request.query.get("limit"))
        user_filter = uuid.UUID(request.query["user_id"]) if request.query.get("user_id") else None
    except ValueError:
        raise invalid_fields(("limit", "Enter a number from 1 to 500")) from None
    action = request.query.get("action") or None
    async with request.app[POOL].acquire() as conn:
        la = await authz.managed(conn, claims, path_uuid(request, "la_id"), vs_admin_only=True)
        if la["type"] != "local_authority":
            raise not_found()
        rows = await store.audit_trail(conn, la["id"], action, user_filter, limit)
    return web.json_response([{
        "id": r["id"], "at": r["at"].isoformat(), "action": r["action"], "outcome": r["outcome"],
        "actor_name": r["actor_name"], "subject_name": r["subject_name"],
        "organisation_name": r["organisation_name"], "client_address": r["client_address"]} for r in rows])
