"""The other half of the retention job: when pep erases a child whose retention ended (event pep.child.erased),
each service erases or anonymises what it holds about that child, in its own schema only. Each service gives
the SQL it runs; the inbox makes a redelivered event do nothing."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import asyncpg

from shared.bus import MessageContext, Subscription
from shared.contracts import ChildErased, event_type_of, parse_data

log = logging.getLogger(__name__)
Eraser = Callable[[asyncpg.Connection, ChildErased], Awaitable[int]]


def erasure_subscription(service: str, erase: Eraser) -> Subscription:
    """`erase(conn, event)` runs in the inbox's transaction and says how many records it erased or anonymised."""

    async def handler(ctx: MessageContext) -> None:
        data = parse_data(ctx.envelope)
        assert isinstance(data, ChildErased)
        async with ctx.effect() as conn:
            count = await erase(conn, data)
        # The child's id only: nothing personal goes in the log.
        log.info("child's records erased at the end of their retention",
                 extra={"service": service, "child_id": str(data.child_id), "records": count})

    event_type, version = event_type_of(ChildErased)
    return Subscription(name=f"{service}.child_erasure", routing_keys=[f"{event_type}.v{version}"], handler=handler)


async def erase_by_function(conn: asyncpg.Connection, function: str, data: ChildErased) -> int:
    """Call the service's own SECURITY DEFINER function (its migrations define it) with the child and PEPs."""
    return int(await conn.fetchval(f"SELECT {function}($1, $2::uuid[])", data.child_id, data.pep_ids) or 0)
