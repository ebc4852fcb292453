"""Administration over HTTP: a Virtual School admin looks after their LA's settings, people and invitations; a
Designated Teacher looks after their setting's staff. Nobody reaches another LA's: that answers 404.
Who may manage what is in authz.py, the rules in domain/administration.py, the SQL in admin_store.py."""

from __future__ import annotations

import uuid

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
from shared.api import identity as api
from shared.api.identity import (
    Access,
    IdentityAuditEntry,
    InvitationIn,
    InvitationSent,
    Member,
    Nominated,
    Nomination,
    OpenInvitation,
    OrganisationOut,
    OrganisationPatch,
    SettingIn,
    SettingSummary,
    StaffAccess,
    StaffPerson,
)
from shared.authz import not_found, require_user
from shared.errors import Problem
from shared.internal_auth import Claims
from shared.service import POOL, SETTINGS
from shared.web import CLAIMS, REQUEST_ID, parse_body, path_uuid, serves

routes = web.RouteTableDef()


def _person(row: asyncpg.Record | None) -> StaffPerson | None:
    if row is None or row["user_id"] is None:
        return None
    return StaffPerson(user_id=row["user_id"], given_name=row["given_name"], family_name=row["family_name"],
                       email=row["email"])


async def _organisation_out(conn: asyncpg.Connection, claims: Claims, org: asyncpg.Record) -> OrganisationOut:
    dt = await store.designated_teacher(conn, org["id"])
    return OrganisationOut(id=org["id"], name=org["name"], organisation_type=org["type"], la_id=org["la_id"],
                           **{k: org[k] for k in sorted(ORGANISATION_DETAILS)},
                           designated_teacher=_person(dt), can_manage=authz.can_manage(claims, org))


# ---- organisations --------------------------------------------------------------------------------


@serves(routes, api.GET_ORGANISATION)
async def get_organisation(request: web.Request) -> OrganisationOut:
    claims = request[CLAIMS]
    async with request.app[POOL].acquire() as conn:
        org = await authz.visible(conn, claims, path_uuid(request, "org_id"))
        return await _organisation_out(conn, claims, org)


@serves(routes, api.LIST_SETTINGS)
async def list_settings(request: web.Request) -> list[SettingSummary]:
    claims = request[CLAIMS]
    async with request.app[POOL].acquire() as conn:
        la = await authz.visible(conn, claims, path_uuid(request, "la_id"))
        if la["type"] != "local_authority":
            raise not_found()
        rows = await store.settings_of(conn, la["id"])
    return [SettingSummary(id=r["id"], name=r["name"], setting_type=r["setting_type"], urn=r["urn"],
                           phase=r["phase"], designated_teacher=_person(r)) for r in rows]


@serves(routes, api.ADD_SETTING)
async def add_setting(request: web.Request) -> OrganisationOut:
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
        return await _organisation_out(conn, claims, org)


@serves(routes, api.CHANGE_ORGANISATION)
async def edit_organisation(request: web.Request) -> OrganisationOut:
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
        return await _organisation_out(conn, claims, fresh)


# ---- people ---------------------------------------------------------------------------------------


@serves(routes, api.LIST_MEMBERS)
async def list_users(request: web.Request) -> list[Member]:
    claims = request[CLAIMS]
    async with request.app[POOL].acquire() as conn:
        org = await authz.managed(conn, claims, path_uuid(request, "org_id"))
        rows = await store.people_of(conn, org["id"])
    return [Member(user_id=r["id"], given_name=r["given_name"], family_name=r["family_name"], email=r["email"],
                   roles=r["roles"], deactivated=r["deactivated"],
                   last_signed_in_at=r["last_signed_in_at"],
                   access=Access(children=r["children"], sections=r["sections"]) if r["has_access"] else None)
            for r in rows]


@serves(routes, api.LIST_INVITATIONS)
async def list_invitations(request: web.Request) -> list[OpenInvitation]:
    claims = request[CLAIMS]
    async with request.app[POOL].acquire() as conn:
        org = await authz.managed(conn, claims, path_uuid(request, "org_id"))
        rows = await store.open_invitations(conn, org["id"])
    return [OpenInvitation(id=r["id"], given_name=r["given_name"], family_name=r["family_name"], email=r["email"],
                           role=r["role"], created_at=r["created_at"], expires_at=r["expires_at"],
                           invited_by_name=r["invited_by_name"]) for r in rows]


@serves(routes, api.INVITE)
async def invite(request: web.Request) -> InvitationSent:
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
    return InvitationSent(id=invitation_id, expires_at=expires_at)


@serves(routes, api.WITHDRAW_INVITATION)
async def withdraw_invitation(request: web.Request) -> None:
    claims = request[CLAIMS]
    async with request.app[POOL].acquire() as conn, conn.transaction():
        inv = await store.open_invitation(conn, path_uuid(request, "invitation_id"))
        org = inv and await authz.organisation(conn, inv["organisation_id"])
        if not inv or not org or inv["role"] not in authz.invitable_roles(claims, org):
            raise not_found("invitation")
        await store.withdraw_invitation(conn, inv["id"])
        await audit.record(conn, "invitation_withdrawn", actor_id=claims.sub, organisation_id=org["id"],
                           details={"invitation_id": str(inv["id"])})


@serves(routes, api.NOMINATE_DESIGNATED_TEACHER)
async def change_designated_teacher(request: web.Request) -> OrganisationOut:
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
        return await _organisation_out(conn, claims, org)


@serves(routes, api.DESIGNATED_TEACHER_HISTORY)
async def designated_teacher_history(request: web.Request) -> list[Nominated]:
    claims = request[CLAIMS]
    async with request.app[POOL].acquire() as conn:
        org = await authz.managed(conn, claims, path_uuid(request, "setting_id"))
        rows = await store.designated_teacher_history(conn, org["id"])
    return [Nominated(user_id=r["user_id"], given_name=r["given_name"], family_name=r["family_name"],
                      nominated_at=r["nominated_at"], ended_at=r["ended_at"], nominated_by_name=r["nominated_by_name"])
            for r in rows]


async def _administered_user(conn: asyncpg.Connection, claims: Claims,
                             request: web.Request) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """The person, and the caller's LAs they work in: what the caller's actions on them may touch."""
    user_id = path_uuid(request, "user_id")
    las = await authz.administered_las(conn, claims, user_id)
    if not las:
        raise not_found("person")
    return user_id, las


@serves(routes, api.DEACTIVATE_USER)
async def deactivate(request: web.Request) -> None:
    """Effective at once, for the caller's LAs only: the person's roles there stop counting; with no other LA's
    work left, every session ends and sign-in stops working."""
    claims = request[CLAIMS]
    async with request.app[POOL].acquire() as conn, conn.transaction():
        user_id, las = await _administered_user(conn, claims, request)
        if str(user_id) == claims.sub:
            raise Problem(422, "You cannot deactivate your own account", code="own_account")
        await store.deactivate(conn, user_id, las, uuid.UUID(claims.sub))
        await publish_user(conn, user_id)
        await audit.record(conn, "account_deactivated", actor_id=claims.sub, subject_user_id=user_id,
                           details={"las": [str(la) for la in las]})


@serves(routes, api.REACTIVATE_USER)
async def reactivate(request: web.Request) -> None:
    """Only what the caller's LAs deactivated comes back: another LA's deactivation stands."""
    claims = request[CLAIMS]
    async with request.app[POOL].acquire() as conn, conn.transaction():
        user_id, las = await _administered_user(conn, claims, request)
        await store.reactivate(conn, user_id, las)
        await publish_user(conn, user_id)
        await audit.record(conn, "account_reactivated", actor_id=claims.sub, subject_user_id=user_id,
                           details={"las": [str(la) for la in las]})


@serves(routes, api.END_USER_SESSIONS)
async def end_users_sessions(request: web.Request) -> None:
    """A whole-account action: only for an admin of every LA the person works for."""
    claims = request[CLAIMS]
    async with request.app[POOL].acquire() as conn, conn.transaction():
        user_id, las = await _administered_user(conn, claims, request)
        if not await store.only_in(conn, user_id, las):
            raise Problem(403, "This person also works for another local authority",
                          "Only they, or an administrator of every local authority they work for, can end all "
                          "their sessions. You can deactivate them for your local authority.",
                          code="works_elsewhere")
        await store.end_sessions(conn, user_id)
        await audit.record(conn, "sessions_ended_by_admin", actor_id=claims.sub, subject_user_id=user_id)


@serves(routes, api.SET_STAFF_ACCESS)
async def set_staff_access(request: web.Request) -> None:
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


@serves(routes, api.LIST_AUDIT)
async def audit_trail(request: web.Request) -> list[IdentityAuditEntry]:
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
    return [IdentityAuditEntry.model_validate(dict(r)) for r in rows]
