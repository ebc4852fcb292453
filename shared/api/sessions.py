"""The gateway's two internal calls to identity about sessions, declared once for both sides.

The gateway resolves a session cookie with identity when it does not hold it (services/gateway/sessions.py) and
reports, in batches, when people it served were last active, so identity's idle clock sees requests the gateway
answered from what it held. Neither is part of the public API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

RESOLVE_PATH = "/sessions/resolve"
TOUCH_PATH = "/sessions/touch"
# One batch at most: a gateway process flushes every second or so, so this is far above any real batch.
MAX_TOUCHES = 10_000


class ResolvedSession(BaseModel):
    """Who holds a live session, and the clocks identity judges it by."""

    session_id: uuid.UUID
    user_id: uuid.UUID
    expires_at: datetime  # the absolute limit
    idle_expires_at: datetime  # when it ends unless the idle clock is restarted first
    idle_timeout_seconds: int  # the person's own rule (their LAs' strictest)
    warning_seconds: int
    # identity restarts the idle clock only when it was last restarted at least this long ago (store.py), so a
    # gateway that mirrors the clock knows which of its requests identity would have written.
    touch_after_seconds: float = 0.0
    memberships: list[dict[str, Any]]


class SessionTouch(BaseModel):
    session_id: uuid.UUID
    at: datetime  # the request that restarted the clock (identity takes the earlier of it and its own now)


class SessionTouches(BaseModel):
    touches: list[SessionTouch] = Field(max_length=MAX_TOUCHES)
