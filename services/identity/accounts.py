"""Creating organisations and accounts (the full invitation flow is its own issue)."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from services.identity.domain.emails import normalise_email
from services.identity.session_events import access_changed
from shared.bus import add_event
from shared.contracts import OrganisationChanged, UserChanged

ORGANISATION_DETAILS = {"setting_type", "urn", "phase", "address", "contact_email", "contact_phone"}


async def create_organisation(conn: asyncpg.Connection, org_id: uuid.UUID, name: str, org_type: str,
                              la_id: uuid.UUID | None = None, **details: str | None) -> bool:
    """Details: setting_type, urn, phase, address, contact_email, contact_phone. False if it already existed."""
    assert set(details) <= ORGANISATION_DETAILS, set(details) - ORGANISATION_DETAILS
    columns = ["id", "name", "type", "la_id", *details]
    values = [org_id, name, org_type, la_id, *details.values()]
    placeholders = ", ".join(f"${i}" for i in range(1, len(values) + 1))
    created = await conn.fetchval(f"INSERT INTO organisations ({', '.join(columns)}) VALUES ({placeholders}) "
                                  "ON CONFLICT (id) DO NOTHING RETURNING 1", *values)
    if created:
        await publish_organisation(conn, org_id)
    return bool(created)


async def create_user(conn: asyncpg.Connection, user_id: uuid.UUID, email: str, given_name: str, family_name: str,
                      password_hash: str | None, memberships: list[tuple[uuid.UUID, str]]) -> bool:
    """Create the account with its memberships and tell other services; False if it already existed."""
    created = await conn.fetchval(
        "INSERT INTO users (id, email, email_normalised, given_name, family_name, password_hash) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING 1",
        user_id, email.strip(), normalise_email(email), given_name, family_name, password_hash)
    if not created:
        return False
    await conn.executemany("INSERT INTO memberships (user_id, organisation_id, role) VALUES ($1, $2, $3)",
                           [(user_id, org, role) for org, role in memberships])
    await publish_user(conn, user_id)
    return True


async def publish_user(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    """Tell other services who this person now is: after any change to name, email, roles, access or status."""
    user = await conn.fetchrow("SELECT id, email, given_name, family_name, disabled_at FROM users WHERE id = $1",
                               user_id)
    # Only the memberships no LA has deactivated; staff with no grant from their DT see nothing.
    rows = await conn.fetch(
        "SELECT m.organisation_id, o.type, m.role, a.children, a.sections, a.user_id IS NOT NULL AS has_access "
        "FROM memberships m JOIN organisations o ON o.id = m.organisation_id "
        "LEFT JOIN staff_access a ON a.setting_id = m.organisation_id AND a.user_id = m.user_id "
        "AND m.role = 'setting_staff' WHERE m.user_id = $1 AND m.disabled_at IS NULL", user_id)
    memberships: list[dict[str, Any]] = []
    for r in rows:
        entry: dict[str, Any] = {"organisation_id": str(r["organisation_id"]), "organisation_type": r["type"],
                                 "role": r["role"]}
        if r["role"] == "setting_staff":
            entry["children"] = ([str(c) for c in r["children"]] if r["children"] is not None else None) \
                if r["has_access"] else []
            entry["sections"] = r["sections"] if r["has_access"] else []
        memberships.append(entry)
    await add_event(conn, "identity", UserChanged(
        user_id=user["id"], email=user["email"], given_name=user["given_name"], family_name=user["family_name"],
        memberships=memberships, disabled=user["disabled_at"] is not None or not memberships))
    # The gateways drop the sessions they hold for this person, so their next request carries the change.
    await access_changed(conn, user_id, "user_changed")


async def publish_organisation(conn: asyncpg.Connection, org_id: uuid.UUID) -> None:
    org = await conn.fetchrow(
        "SELECT o.*, n.user_id AS dt FROM organisations o LEFT JOIN designated_teacher_nominations n "
        "ON n.setting_id = o.id AND n.ended_at IS NULL WHERE o.id = $1", org_id)
    await add_event(conn, "identity", OrganisationChanged(
        organisation_id=org["id"], name=org["name"], organisation_type=org["type"], la_id=org["la_id"],
        setting_type=org["setting_type"], urn=org["urn"], designated_teacher_id=org["dt"],
        contact_email=org["contact_email"], contact_phone=org["contact_phone"]))
