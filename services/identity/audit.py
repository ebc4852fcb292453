"""The append-only record of identity actions, each also published as an event."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from services.identity.authz import user_las
from shared.bus import add_event
from shared.contracts import AuditRecorded


async def record(conn: asyncpg.Connection, action: str, outcome: str = "success", *,
                 actor_id: uuid.UUID | str | None = None, subject_user_id: uuid.UUID | None = None,
                 organisation_id: uuid.UUID | None = None, client_address: str | None = None,
                 details: dict[str, Any] | None = None) -> None:
    """Keep what happened, to whom, by whom, where; never a secret, a code or a password."""
    actor = uuid.UUID(str(actor_id)) if actor_id and not str(actor_id).startswith("service:") else None
    las: set[uuid.UUID] = set()
    if subject_user_id is not None:
        las.update(await user_las(conn, subject_user_id))
    if organisation_id is not None:
        org = await conn.fetchrow("SELECT id, type, la_id FROM organisations WHERE id = $1", organisation_id)
        if org is not None:
            las.add(org["id"] if org["type"] == "local_authority" else org["la_id"])
    row = await conn.fetchrow(
        "INSERT INTO audit_log (action, outcome, actor_id, subject_user_id, organisation_id, la_ids, client_address, "
        "details) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id, at",
        action, outcome, actor, subject_user_id, organisation_id, [la for la in las if la], client_address,
        details or {})
    await add_event(conn, "identity", AuditRecorded(
        audit_id=row["id"], action=action, outcome=outcome, actor_id=actor, subject_user_id=subject_user_id,
        organisation_id=organisation_id, at=row["at"]))
