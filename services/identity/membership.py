"""Memberships and the one nominated Designated Teacher per setting."""

from __future__ import annotations

import uuid

import asyncpg

from services.identity.accounts import publish_organisation, publish_user


async def add_membership(conn: asyncpg.Connection, user_id: uuid.UUID, org_id: uuid.UUID, role: str,
                         by: uuid.UUID | None) -> None:
    if role == "designated_teacher":
        await nominate(conn, org_id, user_id, by)
        return
    # Accepting a new invitation to a role reinstates it if that organisation's admins had deactivated it.
    await conn.execute("INSERT INTO memberships (user_id, organisation_id, role) VALUES ($1, $2, $3) "
                       "ON CONFLICT (user_id, organisation_id, role) DO UPDATE SET disabled_at = NULL, "
                       "disabled_by = NULL", user_id, org_id, role)


async def nominate(conn: asyncpg.Connection, setting_id: uuid.UUID, user_id: uuid.UUID,
                   by: uuid.UUID | None) -> uuid.UUID | None:
    """Make this person the setting's one nominated DT; the previous DT stays on as staff. Returns the previous."""
    current = await conn.fetchval("SELECT user_id FROM designated_teacher_nominations WHERE setting_id = $1 "
                                  "AND ended_at IS NULL", setting_id)
    if current == user_id:
        return current  # already the DT: nothing changes, so no new line in the history
    previous = await conn.fetchval(
        "UPDATE designated_teacher_nominations SET ended_at = now() WHERE setting_id = $1 AND ended_at IS NULL "
        "RETURNING user_id", setting_id)
    if previous is not None and previous != user_id:
        await conn.execute("DELETE FROM memberships WHERE user_id = $1 AND organisation_id = $2 "
                           "AND role = 'designated_teacher'", previous, setting_id)
        await conn.execute("INSERT INTO memberships (user_id, organisation_id, role) VALUES ($1, $2, 'setting_staff') "
                           "ON CONFLICT DO NOTHING", previous, setting_id)
    await conn.execute("INSERT INTO designated_teacher_nominations (setting_id, user_id, nominated_by) "
                       "VALUES ($1, $2, $3)", setting_id, user_id, by)
    await conn.execute("DELETE FROM memberships WHERE user_id = $1 AND organisation_id = $2 AND role = 'setting_staff'",
                       user_id, setting_id)
    await conn.execute("DELETE FROM staff_access WHERE user_id = $1 AND setting_id = $2", user_id, setting_id)
    await conn.execute("INSERT INTO memberships (user_id, organisation_id, role) VALUES ($1, $2, 'designated_teacher') "
                       "ON CONFLICT DO NOTHING", user_id, setting_id)
    if previous is not None and previous != user_id:
        await publish_user(conn, previous)
    await publish_organisation(conn, setting_id)
    return previous
