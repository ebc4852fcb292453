"""Delegation's part when a child's retention ends: the tasks on their PEPs, the tasks' history and reminders,
and its read models of the child and PEPs go (migration 0011's erase_child, the one path past task_events'
append-only rule)."""

from __future__ import annotations

import asyncpg

from shared.contracts import ChildErased
from shared.erasure import erase_by_function, erasure_subscription


async def _erase(conn: asyncpg.Connection, data: ChildErased) -> int:
    return await erase_by_function(conn, "erase_child", data)


subscription = erasure_subscription("delegation", _erase)
