"""What each service holds about a child, for the two duties it has about it: erasing or anonymising it when
pep erases a child whose retention ended (event pep.child.erased; the inbox makes a redelivered event do
nothing; a tombstone then makes the bus drop any later event about the child, and the child's messages leave
the service's dead-letter and retry queues: shared/tombstones.py), and showing it in a subject access export
(the gateway gathers every service's part). Each service gives the SQL, on its own schema only."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import asyncpg
from aiohttp import web

from shared import tombstones
from shared.authz import organisations_where
from shared.bus import MessageContext, Subscription, queue_name, subscribe
from shared.contracts import ChildErased
from shared.errors import Problem
from shared.service import POOL
from shared.web import CLAIMS, path_uuid

log = logging.getLogger(__name__)
Eraser = Callable[[asyncpg.Connection, ChildErased], Awaitable[int]]


def erasure_subscription(service: str, erase: Eraser) -> Subscription:
    """`erase(conn, event)` runs in the inbox's transaction and says how many records it erased or anonymised."""

    async def handler(ctx: MessageContext, data: ChildErased) -> None:
        async with ctx.effect() as conn:
            count = await erase(conn, data)
            # Erasure is final: from now on the bus drops any event about the child (shared/tombstones.py)...
            await tombstones.remember(conn, data.child_id, data.pep_ids)
        if ctx.consumers is not None:  # ...and the broker keeps none of their dead letters or waiting retries
            consumers = ctx.consumers
            await tombstones.purge_queues(consumers.settings, [queue_name(consumers.settings, s)
                                                               for s in consumers.subscriptions],
                                          data.child_id, data.pep_ids)
        # The child's id only: nothing personal goes in the log.
        log.info("child's records erased at the end of their retention",
                 extra={"service": service, "child_id": str(data.child_id), "records": count})

    return subscribe(f"{service}.child_erasure", ChildErased, handler)


async def erase_by_function(conn: asyncpg.Connection, function: str, data: ChildErased) -> int:
    """Call the service's own SECURITY DEFINER function (its migrations define it) with the child and PEPs."""
    return int(await conn.fetchval(f"SELECT {function}($1, $2::uuid[])", data.child_id, data.pep_ids) or 0)


# ---- subject access: what each service holds about a child, for the gateway's export -----------------------

Gatherer = Callable[[asyncpg.Connection, uuid.UUID, list[uuid.UUID], list[uuid.UUID]], Awaitable[dict[str, Any]]]


def plain(value: Any) -> Any:
    """A stored value as JSON: ids and dates as strings, amounts as exact strings."""
    if isinstance(value, uuid.UUID | date | datetime):
        return str(value) if isinstance(value, uuid.UUID) else value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def rows(records: list[asyncpg.Record]) -> list[dict[str, Any]]:
    return [{k: plain(v) for k, v in dict(r).items()} for r in records]


def subject_access_routes(service: str, gather: Gatherer) -> web.RouteTableDef:
    """GET /children/{child_id}/subject-access?pep_id=...: what this service holds about the child, for the
    gateway's subject access export (pep has already said the caller is the child's LA's VS admin). Only what
    belongs to an LA where the caller is VS admin is ever read, so a caller who is not gets empty lists.
    `gather(conn, child_id, pep_ids, la_ids)` reads this service's own schema."""
    routes = web.RouteTableDef()

    @routes.get("/children/{child_id}/subject-access")
    async def subject_access(request: web.Request) -> web.Response:
        child_id = path_uuid(request, "child_id")
        try:
            pep_ids = [uuid.UUID(p) for p in request.query.getall("pep_id", [])]
        except ValueError:
            raise Problem(422, "Give PEP ids", code="validation") from None
        la_ids = [uuid.UUID(o) for o in organisations_where(request[CLAIMS], "vs_admin")]
        async with request.app[POOL].acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            held = await gather(conn, child_id, pep_ids, la_ids) if la_ids else {}
        return web.json_response({"held_by": service, **held})

    return routes
