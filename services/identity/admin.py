"""Administration: a Virtual School admin looks after their LA's settings, people and invitations; a Designated
Teacher looks after their setting's staff. Nobody reaches another LA's: that answers 404."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from typing import Any

import asyncpg
from aiohttp import web

from services.identity import audit, authz
from services.identity.accounts import ORGANISATION_DETAILS, publish_organisation, publish_user
from services.identity.domain.emails import normalise_email
from services.identity.membership import nominate
from services.identity.problems import invalid_fields
from services.identity.settings import IdentitySettings
from shared.api.identity import InvitationIn, Nomination, OrganisationPatch, SettingIn, StaffAccess
from shared.authz import not_found, require_user
from shared.bus import add_event
from shared.contracts import InvitationCreated
from shared.contracts import Organisation as VirtualSchool
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
    dt = await conn.fetchrow(
        "SELECT u.id AS user_id, u.given_name, u.family_name, u.email FROM designated_teacher_nominations n "
        "JOIN users u ON u.id = n.user_id WHERE n.setting_id = $1 AND n.ended_at IS NULL", org["id"])
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
        rows = await conn.fetch(
            "SELECT o.*, u.id AS user_id, u.given_name, u.family_name, u.email FROM organisations o "
            "LEFT JOIN designated_teacher_nominations n ON n.setting_id = o.id AND n.ended_at IS NULL "
            "LEFT JOIN users u ON u.id = n.user_id WHERE o.la_id = $1 ORDER BY o.name", la["id"])
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
        setting_id = uuid.uuid4()
        await conn.execute(
            "INSERT INTO organisations (id, name, type, la_id, setting_type, urn, phase, address) "
            "VALUES ($1, $2, 'setting', $3, $4, $5, $6, $7)", setting_id, body.name.strip(), la["id"],
            body.setting_type, body.urn, body.phase, body.address)
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
        required = ("name", "setting_type") if org["type"] == "setting" else ("name",)
        if blanked := [field for field in required if field in changes and changes[field] is None]:
            raise invalid_fields(*[(field, "This cannot be left empty") for field in blanked])
        if org["type"] == "local_authority" and {"setting_type", "urn", "phase"} & set(changes):
            raise invalid_fields(*[(f, "A local authority does not have this") for f in
                                   sorted({"setting_type", "urn", "phase"} & set(changes))])
        if changes:
            assignments = ", ".join(f"{column} = ${i}" for i, column in enumerate(changes, start=2))
            await conn.execute(f"UPDATE organisations SET {assignments}, updated_at = now() WHERE id = $1",
                               org["id"], *[str(v) if v is not None else None for v in changes.values()])
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
        rows = await conn.fetch(
            "SELECT u.id, u.given_name, u.family_name, u.email, u.disabled_at, array_agg(m.role ORDER BY m.role) "
            "AS roles, (SELECT max(created_at) FROM sessions s WHERE s.user_id = u.id) AS last_signed_in_at, "
            "a.children, a.sections, a.user_id IS NOT NULL AS has_access FROM memberships m "
            "JOIN users u ON u.id = m.user_id "
            "LEFT JOIN staff_access a ON a.setting_id = m.organisation_id AND a.user_id = u.id "
            "WHERE m.organisation_id = $1 GROUP BY u.id, a.children, a.sections, a.user_id "
            "ORDER BY u.family_name, u.given_name", org["id"])
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
        rows = await conn.fetch(
            "SELECT i.*, u.given_name || ' ' || u.family_name AS invited_by_name FROM invitations i "
            "LEFT JOIN users u ON u.id = i.invited_by WHERE i.organisation_id = $1 AND i.accepted_at IS NULL "
            "AND i.revoked_at IS NULL AND i.expires_at > now() ORDER BY i.created_at DESC", org["id"])
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
        token = secrets.token_urlsafe(32)
        invitation_id = uuid.uuid4()
        try:
            expires_at = await conn.fetchval(
                "INSERT INTO invitations (id, token_hash, organisation_id, role, email, email_normalised, given_name, "
                "family_name, invited_by, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
                "now() + make_interval(days => $10)) RETURNING expires_at",
                invitation_id, hashlib.sha256(token.encode()).digest(), org["id"], body.role, email,
                normalise_email(email), " ".join(body.given_name.split()), " ".join(body.family_name.split()), inviter,
                settings.invitation_days)
        except asyncpg.UniqueViolationError:
            raise invalid_fields(("email", "There is already an open invitation for this email address")) from None
        inviter_row = await conn.fetchrow("SELECT given_name, family_name FROM users WHERE id = $1", inviter)
        la = await authz.organisation(conn, authz.la_of(org))
        await add_event(conn, "identity", InvitationCreated(
            invitation_id=invitation_id, email=email, given_name=body.given_name, family_name=body.family_name,
            role=body.role, organisation_id=org["id"], organisation_name=org["name"],
            invited_by_name=f"{inviter_row['given_name']} {inviter_row['family_name']}", token=token,
            expires_at=expires_at, virtual_school=VirtualSchool(
                name=la["name"], contact_email=la["contact_email"], contact_phone=la["contact_phone"]) if la else None),
            tenant=str(authz.la_of(org)), correlation_id=request[REQUEST_ID])
        await audit.record(conn, "invitation_sent", actor_id=inviter, organisation_id=org["id"],
                           details={"role": body.role, "invitation_id": str(invitation_id)})
    return web.json_response({"id": str(invitation_id), "expires_at": expires_at.isoformat()}, status=201)


@routes.delete("/invitations/{invitation_id}")
async def withdraw_invitation(request: web.Request) -> web.Response:
    claims = request[CLAIMS]
    async with request.app[POOL].acquire() as conn, conn.transaction():
        inv = await conn.fetchrow("SELECT * FROM invitations WHERE id = $1 AND accepted_at IS NULL "
                                  "AND revoked_at IS NULL FOR UPDATE", path_uuid(request, "invitation_id"))
        org = inv and await authz.organisation(conn, inv["organisation_id"])
        if not inv or not org or inv["role"] not in authz.invitable_roles(claims, org):
            raise not_found("invitation")
        await conn.execute("UPDATE invitations SET revoked_at = now() WHERE id = $1", inv["id"])
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
        member = await conn.fetchval("SELECT 1 FROM memberships m JOIN users u ON u.id = m.user_id "
                                     "WHERE m.user_id = $1 AND m.organisation_id = $2 AND u.disabled_at IS NULL",
                                     body.user_id, org["id"])
        if not member:
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
        rows = await conn.fetch(
            "SELECT n.*, u.given_name, u.family_name, b.given_name || ' ' || b.family_name AS nominated_by_name "
            "FROM designated_teacher_nominations n JOIN users u ON u.id = n.user_id "
            "LEFT JOIN users b ON b.id = n.nominated_by WHERE n.setting_id = $1 "
            "ORDER BY n.nominated_at DESC, n.id DESC",
            org["id"])
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
        await conn.execute("UPDATE users SET disabled_at = coalesce(disabled_at, now()), updated_at = now() "
                           "WHERE id = $1", user_id)
        await conn.execute("UPDATE sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL", user_id)
        await publish_user(conn, user_id)
        await audit.record(conn, "account_deactivated", actor_id=claims.sub, subject_user_id=user_id)
    return web.Response(status=204)


@routes.post("/users/{user_id}/reactivate")
async def reactivate(request: web.Request) -> web.Response:
    claims = request[CLAIMS]
    async with request.app[POOL].acquire() as conn, conn.transaction():
        user_id = await _administered_user(conn, claims, request)
        await conn.execute("UPDATE users SET disabled_at = NULL, updated_at = now() WHERE id = $1", user_id)
        await publish_user(conn, user_id)
        await audit.record(conn, "account_reactivated", actor_id=claims.sub, subject_user_id=user_id)
    return web.Response(status=204)


@routes.post("/users/{user_id}/sessions/revoke-all")
async def end_users_sessions(request: web.Request) -> web.Response:
    claims = request[CLAIMS]
    async with request.app[POOL].acquire() as conn, conn.transaction():
        user_id = await _administered_user(conn, claims, request)
        await conn.execute("UPDATE sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL", user_id)
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
        if not await conn.fetchval("SELECT 1 FROM memberships WHERE user_id = $1 AND organisation_id = $2 "
                                   "AND role = 'setting_staff'", user_id, org["id"]):
            raise not_found("member of staff")
        await conn.execute(
            "INSERT INTO staff_access (setting_id, user_id, children, sections, updated_by) "
            "VALUES ($1, $2, $3, $4, $5) "
            "ON CONFLICT (setting_id, user_id) DO UPDATE SET children = $3, sections = $4, updated_by = $5, "
            "updated_at = now()", org["id"], user_id, body.children, body.sections, uuid.UUID(claims.sub))
        await publish_user(conn, user_id)
        await audit.record(conn, "staff_access_changed", actor_id=claims.sub, subject_user_id=user_id,
                           organisation_id=org["id"])
    return web.Response(status=204)


@routes.get("/organisations/{la_id}/audit")
async def audit_trail(request: web.Request) -> web.Response:
    """What happened in this LA: for its VS admins only."""
    claims = request[CLAIMS]
    try:
        limit = min(max(int(request.query.get("limit", "50")), 1), 500)
        user_filter = uuid.UUID(request.query["user_id"]) if request.query.get("user_id") else None
    except ValueError:
        raise invalid_fields(("limit", "Enter a number from 1 to 500")) from None
    action = request.query.get("action") or None
    async with request.app[POOL].acquire() as conn:
        la = await authz.managed(conn, claims, path_uuid(request, "la_id"), vs_admin_only=True)
        if la["type"] != "local_authority":
            raise not_found()
        rows = await conn.fetch(
            "SELECT a.id, a.at, a.action, a.outcome, a.client_address, "
            "actor.given_name || ' ' || actor.family_name AS actor_name, "
            "subject.given_name || ' ' || subject.family_name AS subject_name, o.name AS organisation_name "
            "FROM audit_log a LEFT JOIN users actor ON actor.id = a.actor_id "
            "LEFT JOIN users subject ON subject.id = a.subject_user_id "
            "LEFT JOIN organisations o ON o.id = a.organisation_id "
            "WHERE $1 = ANY(a.la_ids) AND ($2::text IS NULL OR a.action = $2) "
            "AND ($3::uuid IS NULL OR a.subject_user_id = $3 OR a.actor_id = $3) ORDER BY a.id DESC LIMIT $4",
            la["id"], action, user_filter, limit)
    return web.json_response([{
        "id": r["id"], "at": r["at"].isoformat(), "action": r["action"], "outcome": r["outcome"],
        "actor_name": r["actor_name"], "subject_name": r["subject_name"],
        "organisation_name": r["organisation_name"], "client_address": r["client_address"]} for r in rows])


