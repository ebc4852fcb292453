"""Retention: each LA keeps a child's records until the child's Nth birthday (75 unless its VS admin says
otherwise), then the retention job erases them.

The job runs on every replica (shared.schedule.every), on the clock file when one is set. Each child whose
retention ended is erased in one transaction: the SQL function `erase_child` (migration 0009) removes the
child's record, PEPs, files, notes, histories and access log, and the event `pep.child.erased` goes into the
outbox with it, so delegation, notify and qa erase or anonymise what they hold. The function is the only
path by which rows leave the append-only tables: it runs with the schema owner's rights, only for a whole
child, and only once that child's retention has ended; the service role itself still cannot UPDATE or
DELETE a single row of them. Replicas claim children with SKIP LOCKED, so each child is erased once."""

from __future__ import annotations

import logging
import uuid
from datetime import date, datetime

import asyncpg
from aiohttp import web

from shared import tombstones
from shared.api.children import GET_RETENTION, SET_RETENTION
from shared.api.retention import DEFAULT_KEEP_UNTIL_AGE, RetentionRule
from shared.authz import VIRTUAL_SCHOOL_ROLES, not_found, roles_at
from shared.bus import add_event
from shared.contracts import ChildErased
from shared.erasure import erasure_subscription
from shared.errors import Problem
from shared.schedule import UK, every
from shared.service import POOL, SETTINGS
from shared.web import CLAIMS, parse_body, path_uuid, serves

log = logging.getLogger(__name__)
# The day a child's retention ends, as erase_child reckons it (a 29 February birthday ends on 28 February).
ENDS = "(c.date_of_birth + make_interval(years => coalesce(r.keep_until_age, $2)))::date"
BATCH = 50  # children per tick: a backlog drains over a few ticks rather than in one long transaction

routes = web.RouteTableDef()


def _virtual_school_la(request: web.Request, roles: frozenset[str]) -> uuid.UUID:
    """The LA in the path, if the caller holds one of these roles there; 404 for anyone outside its Virtual
    School (another LA's rule is not theirs to know), 403 for its other VS roles."""
    la_id = path_uuid(request, "la_id")
    held = roles_at(request[CLAIMS], str(la_id))
    if not held & VIRTUAL_SCHOOL_ROLES:
        raise not_found("organisation")
    if not held & roles:
        raise Problem(403, "Only the Virtual School's administrators can change this", code="forbidden")
    return la_id


@serves(routes, GET_RETENTION)
async def get_rule(request: web.Request) -> RetentionRule:
    la_id = _virtual_school_la(request, VIRTUAL_SCHOOL_ROLES)
    async with request.app[POOL].acquire() as conn:
        age = await conn.fetchval("SELECT keep_until_age FROM retention_rules WHERE la_id = $1", la_id)
    return RetentionRule(keep_until_age=age or DEFAULT_KEEP_UNTIL_AGE)


@serves(routes, SET_RETENTION)
async def put_rule(request: web.Request) -> RetentionRule:
    """The LA's VS admin chooses the birthday on which its children's records are erased."""
    la_id = _virtual_school_la(request, frozenset({"vs_admin"}))
    body = await parse_body(request, RetentionRule)
    async with request.app[POOL].acquire() as conn:
        await conn.execute(
            "INSERT INTO retention_rules (la_id, keep_until_age, changed_by) VALUES ($1, $2, $3) ON CONFLICT (la_id) "
            "DO UPDATE SET keep_until_age = $2, changed_by = $3, changed_at = now()",
            la_id, body.keep_until_age, uuid.UUID(request[CLAIMS].sub))
    log.info("retention rule changed", extra={"la_id": str(la_id), "keep_until_age": body.keep_until_age})
    return body


async def erase_ended(pool: asyncpg.Pool, today: date) -> int:
    """Erase every child whose retention ended on or before `today`; how many this call erased."""
    erased = 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            due = await conn.fetch(
                f"SELECT c.id, c.la_id, {ENDS} AS ended FROM children c "
                f"LEFT JOIN retention_rules r ON r.la_id = c.la_id WHERE {ENDS} <= $1 "
                "ORDER BY c.date_of_birth LIMIT $3 FOR UPDATE OF c SKIP LOCKED",
                today, DEFAULT_KEEP_UNTIL_AGE, BATCH)
            for child in due:
                pep_ids = await conn.fetchval("SELECT erase_child($1, $2)", child["id"], today)
                if pep_ids is None:
                    continue
                # Erasure is final: pep's consumers drop any later event about the child (shared/tombstones.py).
                await tombstones.remember(conn, child["id"], pep_ids)
                await add_event(conn, "pep", ChildErased(child_id=child["id"], la_id=child["la_id"],
                                                         pep_ids=list(pep_ids), retention_ended=child["ended"]),
                                tenant=str(child["la_id"]))
                # The child's id only: nothing personal goes in the log.
                log.info("child's records erased at the end of their retention",
                         extra={"child_id": str(child["id"]), "peps": len(pep_ids)})
                erased += 1
        if len(due) < BATCH:
            return erased


async def _work(app: web.Application, moment: datetime) -> None:
    await erase_ended(app[POOL], moment.astimezone(UK).date())


async def _erased_already(conn: asyncpg.Connection, data: ChildErased) -> int:
    return 0  # the retention job erased the child and wrote the tombstones, in one transaction


# pep hears its own erasure too, like every service: so its dead-letter and retry queues keep nothing about the
# child either (shared.erasure purges them).
subscription = erasure_subscription("pep", _erased_already)
scheduler = every("retention", lambda app: app[SETTINGS].retention_interval_seconds, _work)
