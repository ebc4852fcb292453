"""What delegation holds about a child: in a subject access export, the tasks on their PEPs with each task's
history and reminders; when the child's retention ends, all of it and its read models of the child and PEPs
go (migration 0011's erase_child, the one path past task_events' append-only rule)."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from shared.contracts import ChildErased
from shared.erasure import erase_by_function, erasure_subscription, rows, subject_access_routes


async def _erase(conn: asyncpg.Connection, data: ChildErased) -> int:
    # Who reviewed the child's PEPs (the in-date figure's caseworker): no history rule, so plain SQL, together.
    await conn.execute("DELETE FROM pep_caseworkers WHERE child_id = $1 OR pep_id = ANY($2::uuid[])",
                       data.child_id, data.pep_ids)
    return await erase_by_function(conn, "erase_child", data)


subscription = erasure_subscription("delegation", _erase)


async def _held(conn: asyncpg.Connection, child_id: uuid.UUID, pep_ids: list[uuid.UUID],
                la_ids: list[uuid.UUID]) -> dict[str, Any]:
    tasks = await conn.fetch("SELECT * FROM tasks WHERE (child_id = $1 OR pep_id = ANY($2::uuid[])) "
                             "AND la_id = ANY($3::uuid[]) ORDER BY created_at", child_id, pep_ids, la_ids)
    ids = [t["id"] for t in tasks]
    return {"tasks": rows(tasks),
            "task_history": rows(await conn.fetch("SELECT * FROM task_events WHERE task_id = ANY($1::uuid[]) "
                                                  "ORDER BY id", ids)),
            "reminders": rows(await conn.fetch("SELECT * FROM reminders WHERE task_id = ANY($1::uuid[]) "
                                               "ORDER BY sent_at", ids)),
            "funding_requests": rows(await conn.fetch(
                "SELECT * FROM funding_requests WHERE (child_id = $1 OR pep_id = ANY($2::uuid[])) "
                "AND la_id = ANY($3::uuid[]) ORDER BY requested_at", child_id, pep_ids, la_ids)),
            "clock_prompts": rows(await conn.fetch(
                "SELECT * FROM clock_prompts WHERE child_id = $1 AND la_id = ANY($2::uuid[]) ORDER BY sent_at",
                child_id, la_ids)),
            "pep_caseworkers": rows(await conn.fetch(
                "SELECT * FROM pep_caseworkers WHERE (child_id = $1 OR pep_id = ANY($2::uuid[])) "
                "AND la_id = ANY($3::uuid[]) ORDER BY review_id", child_id, pep_ids, la_ids))}


routes = subject_access_routes("delegation", _held)
