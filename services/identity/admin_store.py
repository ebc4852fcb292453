"""Administration in identity's schema: organisations and their Designated Teachers, people, invitations, staff
access and the audit trail, as an LA's or a setting's administrators see and change them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from services.identity.domain.administration import one_line
from services.identity.session_events import session_ended
from shared.bus import add_event
from shared.contracts import InvitationCreated
from shared.contracts import Organisation as VirtualSchool

# ---- organisations --------------------------------------------------------------------------------


async def designated_teacher(conn: asyncpg.Connection, setting_id: uuid.UUID) -> asyncpg.Record | None:
    """The setting's nominated DT now (user_id, given_name, family_name, email), if it has one."""
    return await conn.fetchrow(
        "SELECT u.id AS user_id, u.given_name, u.family_name, u.email FROM designated_teacher_nominations n "
        "JOIN users u ON u.id = n.user_id WHERE n.setting_id = $1 AND n.ended_at IS NULL", setting_id)


async def settings_of(conn: asyncpg.Connection, la_id: uuid.UUID) -> list[asyncpg.Record]:
    """An LA's settings by name, each with its DT's user_id, given_name, family_name and email (or NULLs)."""
    return await conn.fetch(
        "SELECT o.*, u.id AS user_id, u.given_name, u.family_name, u.email FROM organisations o "
        "LEFT JOIN designated_teacher_nominations n ON n.setting_id = o.id AND n.ended_at IS NULL "
        "LEFT JOIN users u ON u.id = n.user_id WHERE o.la_id = $1 ORDER BY o.name", la_id)


async def add_setting(conn: asyncpg.Connection, la_id: uuid.UUID, name: str, setting_type: str, urn: str | None,
                      phase: str | None, address: str | None) -> uuid.UUID:
    setting_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO organisations (id, name, type, la_id, setting_type, urn, phase, address) "
        "VALUES ($1, $2, 'setting', $3, $4, $5, $6, $7)", setting_id, name, la_id, setting_type, urn, phase, address)
    return setting_id


async def change_organisation(conn: asyncpg.Connection, org_id: uuid.UUID, changes: dict[str, Any]) -> None:
    """Set these columns (names from the API's model, never from the caller's text) to these values."""
    assignments = ", ".join(f"{column} = ${i}" for i, column in enumerate(changes, start=2))
    await conn.execute(f"UPDATE organisations SET {assignments}, updated_at = now() WHERE id = $1",
                       org_id, *[str(v) if v is not None else None for v in changes.values()])


async def is_active_member(conn: asyncpg.Connection, user_id: uuid.UUID, org_id: uuid.UUID) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM memberships m JOIN users u ON u.id = m.user_id "
                                    "WHERE m.user_id = $1 AND m.organisation_id = $2 AND u.disabled_at IS NULL "
                                    "AND m.disabled_at IS NULL", user_id, org_id))


async def designated_teacher_history(conn: asyncpg.Connection, setting_id: uuid.UUID) -> list[asyncpg.Record]:
    """Every nomination of the setting's DT, latest first, with who nominated them."""
    return await conn.fetch(
        "SELECT n.*, u.given_name, u.family_name, b.given_name || ' ' || b.family_name AS nominated_by_name "
        "FROM designated_teacher_nominations n JOIN users u ON u.id = n.user_id "
        "LEFT JOIN users b ON b.id = n.nominated_by WHERE n.setting_id = $1 "
        "ORDER BY n.nominated_at DESC, n.id DESC", setting_id)


# ---- people ---------------------------------------------------------------------------------------


async def people_of(conn: asyncpg.Connection, org_id: uuid.UUID) -> list[asyncpg.Record]:
    """Everyone with a membership of the organisation, with their roles there, when they last signed in and
    (for a setting's staff) the access their DT gave them."""
    return await conn.fetch(
        "SELECT u.id, u.given_name, u.family_name, u.email, "
        "u.disabled_at IS NOT NULL OR bool_and(m.disabled_at IS NOT NULL) AS deactivated, "
        "array_agg(m.role ORDER BY m.role) "
        "AS roles, (SELECT max(created_at) FROM sessions s WHERE s.user_id = u.id) AS last_signed_in_at, "
        "a.children, a.sections, a.user_id IS NOT NULL AS has_access FROM memberships m "
        "JOIN users u ON u.id = m.user_id "
        "LEFT JOIN staff_access a ON a.setting_id = m.organisation_id AND a.user_id = u.id "
        "WHERE m.organisation_id = $1 GROUP BY u.id, a.children, a.sections, a.user_id "
        "ORDER BY u.family_name, u.given_name", org_id)


# A membership is in an LA when it is of the LA itself or of a setting in the LA's area.
_IN_LAS = ("m.organisation_id IN (SELECT id FROM organisations WHERE id = ANY($2::uuid[]) "
           "OR la_id = ANY($2::uuid[]))")


async def deactivate(conn: asyncpg.Connection, user_id: uuid.UUID, las: list[uuid.UUID], by: uuid.UUID) -> None:
    """At once, and only the person's memberships in these LAs: their roles there stop counting on their next
    request (a session resolves only active memberships). With none active left, they cannot sign in, and every
    session they have ends. Their work for any other LA is untouched."""
    await conn.execute("UPDATE memberships m SET disabled_at = now(), disabled_by = $3 WHERE m.user_id = $1 "
                       f"AND m.disabled_at IS NULL AND {_IN_LAS}", user_id, las, by)
    if not await conn.fetchval("SELECT 1 FROM memberships WHERE user_id = $1 AND disabled_at IS NULL", user_id):
        await end_sessions(conn, user_id)


async def reactivate(conn: asyncpg.Connection, user_id: uuid.UUID, las: list[uuid.UUID]) -> None:
    """Only the memberships in these LAs: another LA's deactivation stands."""
    await conn.execute("UPDATE memberships m SET disabled_at = NULL, disabled_by = NULL WHERE m.user_id = $1 "
                       f"AND {_IN_LAS}", user_id, las)


async def only_in(conn: asyncpg.Connection, user_id: uuid.UUID, las: list[uuid.UUID]) -> bool:
    """Whether every membership the person has (active or not) is in these LAs: a whole-account action is only
    for an admin whose LAs hold all of it."""
    return not await conn.fetchval(f"SELECT 1 FROM memberships m WHERE m.user_id = $1 AND NOT {_IN_LAS}",
                                   user_id, las)


async def end_sessions(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    await conn.execute("UPDATE sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL", user_id)
    await session_ended(conn, user_id)


async def is_staff_member(conn: asyncpg.Connection, user_id: uuid.UUID, setting_id: uuid.UUID) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM memberships WHERE user_id = $1 AND organisation_id = $2 "
                                    "AND role = 'setting_staff'", user_id, setting_id))


async def set_staff_access(conn: asyncpg.Connection, setting_id: uuid.UUID, user_id: uuid.UUID,
                           children: list[uuid.UUID] | None, sections: list[str] | None, by: uuid.UUID) -> None:
    await conn.execute(
        "INSERT INTO staff_access (setting_id, user_id, children, sections, updated_by) "
        "VALUES ($1, $2, $3, $4, $5) "
        "ON CONFLICT (setting_id, user_id) DO UPDATE SET children = $3, sections = $4, updated_by = $5, "
        "updated_at = now()", setting_id, user_id, children, sections, by)


# ---- invitations ----------------------------------------------------------------------------------


async def open_invitations(conn: asyncpg.Connection, org_id: uuid.UUID) -> list[asyncpg.Record]:
    """The organisation's invitations not yet accepted, withdrawn or expired, newest first."""
    return await conn.fetch(
        "SELECT i.*, u.given_name || ' ' || u.family_name AS invited_by_name FROM invitations i "
        "LEFT JOIN users u ON u.id = i.invited_by WHERE i.organisation_id = $1 AND i.accepted_at IS NULL "
        "AND i.revoked_at IS NULL AND i.expires_at > now() ORDER BY i.created_at DESC", org_id)


class InvitationOpen(Exception):
    """There is already an open invitation for this email address to this organisation."""


async def create_invitation(conn: asyncpg.Connection, *, org: asyncpg.Record, la_id: uuid.UUID,
                            la: asyncpg.Record | None, role: str, email: str, email_normalised: str,
                            given_name: str, family_name: str, inviter: uuid.UUID, token: str, token_hash: bytes,
                            days: int, correlation_id: str) -> tuple[uuid.UUID, datetime]:
    """A new invitation, announced with its link's token so notify can email it (the token is kept hashed).
    The event carries the names as typed; the row keeps them on one line each. InvitationOpen if one is open."""
    invitation_id = uuid.uuid4()
    try:
        expires_at: datetime = await conn.fetchval(
            "INSERT INTO invitations (id, token_hash, organisation_id, role, email, email_normalised, given_name, "
            "family_name, invited_by, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
            "now() + make_interval(days => $10)) RETURNING expires_at",
            invitation_id, token_hash, org["id"], role, email, email_normalised, one_line(given_name),
            one_line(family_name), inviter, days)
    except asyncpg.UniqueViolationError:
        raise InvitationOpen from None
    inviter_row = await conn.fetchrow("SELECT given_name, family_name FROM users WHERE id = $1", inviter)
    await add_event(conn, "identity", InvitationCreated(
        invitation_id=invitation_id, email=email, given_name=given_name, family_name=family_name,
        role=role, organisation_id=org["id"], organisation_name=org["name"],
        invited_by_name=f"{inviter_row['given_name']} {inviter_row['family_name']}", token=token,
        expires_at=expires_at, virtual_school=VirtualSchool(
            name=la["name"], contact_email=la["contact_email"], contact_phone=la["contact_phone"]) if la else None),
        tenant=str(la_id), correlation_id=correlation_id)
    return invitation_id, expires_at


async def open_invitation(conn: asyncpg.Connection, invitation_id: uuid.UUID) -> asyncpg.Record | None:
    """The invitation if not yet accepted or withdrawn, held for this transaction."""
    return await conn.fetchrow("SELECT * FROM invitations WHERE id = $1 AND accepted_at IS NULL "
                               "AND revoked_at IS NULL FOR UPDATE", invitation_id)


async def withdraw_invitation(conn: asyncpg.Connection, invitation_id: uuid.UUID) -> None:
    await conn.execute("UPDATE invitations SET revoked_at = now() WHERE id = $1", invitation_id)


# ---- the audit trail ------------------------------------------------------------------------------


async def audit_trail(conn: asyncpg.Connection, la_id: uuid.UUID, action: str | None, user_id: uuid.UUID | None,
                      limit: int) -> list[asyncpg.Record]:
    """The LA's audit entries, latest first: of one action, and by or about one person, when given."""
    return await conn.fetch(
        "SELECT a.id, a.at, a.action, a.outcome, a.client_address, "
        "actor.given_name || ' ' || actor.family_name AS actor_name, "
        "subject.given_name || ' ' || subject.family_name AS subject_name, o.name AS organisation_name "
        "FROM audit_log a LEFT JOIN users actor ON actor.id = a.actor_id "
        "LEFT JOIN users subject ON subject.id = a.subject_user_id "
        "LEFT JOIN organisations o ON o.id = a.organisation_id "
        "WHERE $1 = ANY(a.la_ids) AND ($2::text IS NULL OR a.action = $2) "
        "AND ($3::uuid IS NULL OR a.subject_user_id = $3 OR a.actor_id = $3) ORDER BY a.id DESC LIMIT $4",
        la_id, action, user_id, limit)
