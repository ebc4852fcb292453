"""Who may see and manage which organisations, decided on identity's own data."""

from __future__ import annotations

import uuid

import asyncpg

from shared.authz import VIRTUAL_SCHOOL_ROLES, not_found, roles_at
from shared.errors import Problem
from shared.internal_auth import Claims

LA_INVITABLE = {"vs_admin", "vs_caseworker", "vs_approver", "social_worker", "iro", "carer"}


def la_of(org: asyncpg.Record) -> uuid.UUID:
    return org["id"] if org["type"] == "local_authority" else org["la_id"]


def is_vs_admin_for(claims: Claims, org: asyncpg.Record) -> bool:
    la = la_of(org)
    return la is not None and "vs_admin" in roles_at(claims, str(la))


def is_dt_of(claims: Claims, org: asyncpg.Record) -> bool:
    return org["type"] == "setting" and "designated_teacher" in roles_at(claims, str(org["id"]))


def can_manage(claims: Claims, org: asyncpg.Record) -> bool:
    return is_vs_admin_for(claims, org) or is_dt_of(claims, org)


def can_view(claims: Claims, org: asyncpg.Record) -> bool:
    if can_manage(claims, org) or roles_at(claims, str(org["id"])):
        return True
    la = la_of(org)
    return la is not None and bool(roles_at(claims, str(la)) & VIRTUAL_SCHOOL_ROLES)


def invitable_roles(claims: Claims, org: asyncpg.Record) -> set[str]:
    if org["type"] == "local_authority":
        return set(LA_INVITABLE) if is_vs_admin_for(claims, org) else set()
    if is_vs_admin_for(claims, org):
        return {"designated_teacher", "setting_staff"}
    return {"setting_staff"} if is_dt_of(claims, org) else set()


async def organisation(conn: asyncpg.Connection, org_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM organisations WHERE id = $1", org_id)


async def visible(conn: asyncpg.Connection, claims: Claims, org_id: uuid.UUID) -> asyncpg.Record:
    org = await organisation(conn, org_id)
    if org is None or not can_view(claims, org):
        raise not_found("organisation")
    return org


async def managed(conn: asyncpg.Connection, claims: Claims, org_id: uuid.UUID,
                  *, vs_admin_only: bool = False) -> asyncpg.Record:
    """The organisation if the caller may manage it: 404 if they cannot even see it, 403 if only see."""
    org = await visible(conn, claims, org_id)
    allowed = is_vs_admin_for(claims, org) if vs_admin_only else can_manage(claims, org)
    if not allowed:
        raise Problem(403, "You cannot manage this organisation", code="forbidden")
    return org


async def user_las(conn: asyncpg.Connection, user_id: uuid.UUID) -> list[uuid.UUID]:
    """The LAs a user works with: their LA memberships and the LAs their settings sit in."""
    rows = await conn.fetch(
        "SELECT DISTINCT CASE WHEN o.type = 'local_authority' THEN o.id ELSE o.la_id END AS la "
        "FROM memberships m JOIN organisations o ON o.id = m.organisation_id WHERE m.user_id = $1", user_id)
    return [r["la"] for r in rows if r["la"] is not None]


async def administered_las(conn: asyncpg.Connection, claims: Claims, user_id: uuid.UUID) -> list[uuid.UUID]:
    """The LAs both the person works with and the caller administers (empty: not the caller's to act on). A VS
    admin acts on a person's memberships in these LAs only, never on another LA's."""
    return [la for la in await user_las(conn, user_id) if "vs_admin" in roles_at(claims, str(la))]


async def administers_user(conn: asyncpg.Connection, claims: Claims, user_id: uuid.UUID) -> bool:
    """A VS admin may act on accounts of people in their LA or in settings in their LA (on those memberships)."""
    return bool(await administered_las(conn, claims, user_id))
