"""qa's part when a child's retention ends: the figures stay so the Virtual School's past dashboards still add
up, but names and everything anyone wrote go (migration 0009's anonymise_child, the one path past the
append-only rule on reviews and funding decisions)."""

from __future__ import annotations

import asyncpg

from shared.contracts import ChildErased
from shared.erasure import erase_by_function, erasure_subscription


async def _anonymise(conn: asyncpg.Connection, data: ChildErased) -> int:
    return await erase_by_function(conn, "anonymise_child", data)


subscription = erasure_subscription("qa", _anonymise)
