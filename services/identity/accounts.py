"""Creating organisations and accounts (the full invitation flow is its own issue)."""

from __future__ import annotations

import uuid

import asyncpg

from services.identity.domain.emails import normalise_email
from shared.bus import add_event
from shared.contracts import UserChanged


async def create_organisation(conn: asyncpg.Connection, org_id: uuid.UUID, name: str, org_type: str,
                              la_id: uuid.UUID | None = None) -> None:
    await conn.execute("INSERT INTO organisations (id, name, type, la_id) VALUES ($1, $2, $3, $4) "
                       "ON CONFLICT (id) DO NOTHING", org_id, name, org_type, la_id)


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
    types = dict(await conn.fetch("SELECT id, type FROM organisations WHERE id = ANY($1::uuid[])",
                                  [org for org, _ in memberships]))
    await add_event(conn, "identity", UserChanged(
        user_id=user_id, email=email.strip(), given_name=given_name, family_name=family_name,
        memberships=[{"organisation_id": str(org), "organisation_type": types[org], "role": role}
                     for org, role in memberships]))
    return True
