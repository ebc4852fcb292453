"""What qa holds about a child: in a subject access export, the QA reviews of their PEPs and their PP+ funding
requests with each decision; when the child's retention ends, the figures stay so the Virtual School's past
dashboards still add up, but names and everything anyone wrote go (migration 0009's anonymise_child, the one
path past the append-only rule on reviews and funding decisions)."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from shared.contracts import ChildErased
from shared.erasure import erase_by_function, erasure_subscription, rows, subject_access_routes


async def _anonymise(conn: asyncpg.Connection, data: ChildErased) -> int:
    # A decision still pending on one of the child's PEPs (pep never took it) holds its reviewer's words: it goes.
    await conn.execute("DELETE FROM pending_decisions WHERE pep_id = ANY($1::uuid[])", data.pep_ids)
    return await erase_by_function(conn, "anonymise_child", data)


subscription = erasure_subscription("qa", _anonymise)


async def _held(conn: asyncpg.Connection, child_id: uuid.UUID, pep_ids: list[uuid.UUID],
                la_ids: list[uuid.UUID]) -> dict[str, Any]:
    requests = await conn.fetch("SELECT * FROM funding_requests WHERE (child_id = $1 OR pep_id = ANY($2::uuid[])) "
                                "AND la_id = ANY($3::uuid[]) ORDER BY requested_at", child_id, pep_ids, la_ids)
    return {"qa_reviews": rows(await conn.fetch(
                "SELECT * FROM reviews WHERE (child_id = $1 OR pep_id = ANY($2::uuid[])) AND la_id = ANY($3::uuid[]) "
                "ORDER BY id", child_id, pep_ids, la_ids)),
            "funding_requests": rows(requests),
            "funding_decisions": rows(await conn.fetch(
                "SELECT * FROM funding_decisions WHERE request_id = ANY($1::uuid[]) ORDER BY id",
                [r["id"] for r in requests]))}


routes = subject_access_routes("qa", _held)
