"""Erasure is final: each service keeps a tombstone for every child it erased (and each of the child's PEPs),
in the `tombstones` table of its own schema (shared bus migration 0002), and drops any later event about them.

Delivery is at-least-once and may be late or out of order: a retry waiting its turn, a dead letter an operator
replays (`python -m shared.deadletters replay`), an event delayed behind the erasure. Without a tombstone any
of these would write the child back into a read model after `pep.child.erased` took it out. So:

- `remember` writes the tombstones, in the transaction that erases (pep's retention job, and every service's
  `<service>.child_erasure` consumer, shared.erasure);
- the bus asks `about_erased` before it hands an event to any consumer, and acks one about an erased child or
  PEP (its data's `child_id` or `pep_id`) without handling it;
- `purge_queues` then takes the child's messages out of the service's dead-letter and retry queues, so the
  broker does not keep them either. A retry a consumer holds while it waits for its time is not in the queue to
  be taken: when it comes due the tombstone drops it.

A tombstone holds ids only, nothing personal, and is never deleted: it is what keeps the erasure done.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable
from typing import Any

import aio_pika
import asyncpg
from aio_pika.abc import AbstractIncomingMessage

from shared.contracts import ChildErased, event_type_of
from shared.settings import ServiceSettings

log = logging.getLogger(__name__)
ABOUT = ("child_id", "pep_id")  # the fields of an event's data that say which child (or PEP) it is about
# The erasure itself is never dropped: handling it again erases nothing more, and purges the queues again.
ERASURE = event_type_of(ChildErased)[0]


def ids_about(data: dict[str, Any]) -> list[uuid.UUID]:
    """The child and PEP ids an event's data is about (those that are ids at all)."""
    found = []
    for key in ABOUT:
        value = data.get(key)
        if isinstance(value, str):
            try:
                found.append(uuid.UUID(value))
            except ValueError:
                continue
    return found


async def remember(conn: asyncpg.Connection, child_id: uuid.UUID, pep_ids: Iterable[uuid.UUID]) -> None:
    """Tombstones for the child and each of their PEPs, in the caller's (erasing) transaction."""
    ids = [child_id, *pep_ids]
    await conn.execute("INSERT INTO tombstones (id, child_id) SELECT i, $2 FROM unnest($1::uuid[]) i "
                       "ON CONFLICT (id) DO NOTHING", ids, child_id)


async def about_erased(conn: asyncpg.Connection | asyncpg.Pool, event_type: str, data: dict[str, Any]) -> bool:
    """Whether an event (other than the erasure itself) is about a child, or PEP, this service erased."""
    if event_type == ERASURE:
        return False
    ids = ids_about(data)
    return bool(ids) and bool(await conn.fetchval("SELECT 1 FROM tombstones WHERE id = ANY($1::uuid[]) LIMIT 1",
                                                  ids))


def _is_about(body: bytes, ids: set[str]) -> bool:
    try:
        envelope = json.loads(body)
    except ValueError:
        return False
    data = envelope.get("data") if isinstance(envelope, dict) else None
    return isinstance(data, dict) and any(str(i) in ids for i in ids_about(data))


async def purge_queues(settings: ServiceSettings, queues: Iterable[str], child_id: uuid.UUID,
                       pep_ids: Iterable[uuid.UUID], limit: int = 100_000) -> int:
    """Delete every message about the child or their PEPs from these consumer queues' dead-letter and retry
    queues (`<queue>.dlq`, `<queue>.retry`; full names, prefix included); the others go back where they were.
    How many were deleted."""
    ids = {str(child_id), *(str(p) for p in pep_ids)}
    purged = 0
    from shared.bus import connect  # the bus imports this module

    async with await connect(settings, timeout=10) as conn:
        for name in queues:
            for suffix in (".dlq", ".retry"):
                channel = await conn.channel()
                try:
                    queue = await channel.declare_queue(f"{name}{suffix}", passive=True)
                except aio_pika.exceptions.ChannelNotFoundEntity:
                    continue  # not declared (yet): nothing kept there
                taken: list[AbstractIncomingMessage] = []
                while len(taken) < limit and (message := await queue.get(fail=False, no_ack=False)) is not None:
                    taken.append(message)
                for message in taken:
                    if _is_about(message.body, ids):
                        await message.ack()
                        purged += 1
                    else:
                        await message.nack(requeue=True)
                await channel.close()
    if purged:
        log.info("an erased child's messages purged from dead-letter and retry queues",
                 extra={"child_id": str(child_id), "messages": purged})
    return purged
