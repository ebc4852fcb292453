"""What identity tells the gateways about sessions: each gateway process holds the sessions it has resolved for
up to 30 seconds (services/gateway/sessions.py), and these events make it drop them at once. Written to the outbox
in the transaction that made the change, like every event; ids only, nothing personal."""

from __future__ import annotations

import uuid

import asyncpg

from shared.bus import add_event
from shared.contracts import AccessChanged, SessionEnded


async def session_ended(conn: asyncpg.Connection, user_id: uuid.UUID, session_id: uuid.UUID | None = None) -> None:
    """One session ended, or (no `session_id`) every session of the user."""
    await add_event(conn, "identity", SessionEnded(user_id=user_id, session_id=session_id))


async def access_changed(conn: asyncpg.Connection, user_id: uuid.UUID | None, reason: str) -> None:
    """What the user's sessions carry changed (None: anyone's may have, e.g. an LA's session rule)."""
    await add_event(conn, "identity", AccessChanged(user_id=user_id, reason=reason))
