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
from datetime import date, datetime, timedelta

import asyncpg
from aiohttp import web

from shared import tombstones
from shared.api.children import CONFIRM_RETENTION, GET_RETENTION, SET_RETENTION
from shared.api.retention import (
    DEFAULT_KEEP_UNTIL_AGE,
    NOTICE_DAYS,
    RetentionConfirm,
    RetentionReduction,
    RetentionRule,
    RetentionState,
)
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


_WAITING = ("SELECT keep_until_age, previous_age, proposed_by, proposed_at, takes_effect_on, confirmed_by, "
            "confirmed_at FROM retention_changes WHERE la_id = $1 AND applied_at IS NULL AND superseded_at IS NULL "
            "ORDER BY proposed_at DESC LIMIT 1")


async def _state(conn: asyncpg.Connection, la_id: uuid.UUID) -> RetentionState:
    """The age in effect, and the reduction waiting, if any."""
    age = await conn.fetchval("SELECT keep_until_age FROM retention_rules WHERE la_id = $1", la_id)
    waiting = await conn.fetchrow(_WAITING, la_id)
    return RetentionState(keep_until_age=age or DEFAULT_KEEP_UNTIL_AGE,
                          pending=RetentionReduction(**dict(waiting)) if waiting else None)


async def _lock_rule(conn: asyncpg.Connection, la_id: uuid.UUID) -> None:
    """One change of an LA's rule at a time (the row may not exist yet, so not a row lock)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('pep.retention:' || $1::uuid::text, 0))", la_id)


@serves(routes, GET_RETENTION)
async def get_rule(request: web.Request) -> RetentionState:
    la_id = _virtual_school_la(request, VIRTUAL_SCHOOL_ROLES)
    async with request.app[POOL].acquire() as conn:
        return await _state(conn, la_id)


@serves(routes, SET_RETENTION)
async def put_rule(request: web.Request) -> RetentionState:
    """The LA's VS admin chooses the birthday on which its children's records are erased. An increase (or the same
    age) applies at once; a reduction waits NOTICE_DAYS and a second VS admin's confirmation, so one request cannot
    erase every older child within the hour. Either way it replaces a reduction still waiting, and is recorded."""
    la_id = _virtual_school_la(request, frozenset({"vs_admin"}))
    body = await parse_body(request, RetentionRule)
    who = uuid.UUID(request[CLAIMS].sub)
    today = datetime.now(UK).date()
    async with request.app[POOL].acquire() as conn, conn.transaction():
        await _lock_rule(conn, la_id)
        current = await conn.fetchval("SELECT keep_until_age FROM retention_rules WHERE la_id = $1", la_id) \
            or DEFAULT_KEEP_UNTIL_AGE
        await conn.execute("UPDATE retention_changes SET superseded_at = now() WHERE la_id = $1 "
                           "AND applied_at IS NULL AND superseded_at IS NULL", la_id)
        reduction = body.keep_until_age < current
        await conn.execute(
            "INSERT INTO retention_changes (la_id, previous_age, keep_until_age, proposed_by, takes_effect_on, "
            "applied_at) VALUES ($1, $2, $3, $4, $5, CASE WHEN $6 THEN NULL ELSE now() END)",
            la_id, current, body.keep_until_age, who,
            today + timedelta(days=NOTICE_DAYS) if reduction else today, reduction)
        if not reduction:
            await conn.execute(
                "INSERT INTO retention_rules (la_id, keep_until_age, changed_by) VALUES ($1, $2, $3) "
                "ON CONFLICT (la_id) DO UPDATE SET keep_until_age = $2, changed_by = $3, changed_at = now()",
                la_id, body.keep_until_age, who)
        state = await _state(conn, la_id)
    log.info("retention reduction proposed" if reduction else "retention rule changed",
             extra={"la_id": str(la_id), "keep_until_age": body.keep_until_age, "previous_age": current})
    return state


@serves(routes, CONFIRM_RETENTION)
async def confirm_rule(request: web.Request) -> RetentionState:
    """A second VS admin of the LA confirms the reduction waiting (never the one who proposed it). It still takes
    effect only on its date, when the retention job applies it."""
    la_id = _virtual_school_la(request, frozenset({"vs_admin"}))
    body = await parse_body(request, RetentionConfirm)
    who = uuid.UUID(request[CLAIMS].sub)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        await _lock_rule(conn, la_id)
        waiting = await conn.fetchrow(
            "SELECT id, keep_until_age, proposed_by, confirmed_by FROM retention_changes WHERE la_id = $1 "
            "AND applied_at IS NULL AND superseded_at IS NULL ORDER BY proposed_at DESC LIMIT 1", la_id)
        if waiting is None or waiting["keep_until_age"] != body.keep_until_age or waiting["confirmed_by"]:
            raise Problem(409, "There is no such reduction waiting to be confirmed",
                          "The rule may have changed since you looked: check it again.", code="no_pending_reduction")
        if waiting["proposed_by"] == who:
            raise Problem(403, "Another Virtual School administrator must confirm this",
                          "A reduction needs a second administrator: you proposed this one.", code="same_admin")
        await conn.execute("UPDATE retention_changes SET confirmed_by = $2, confirmed_at = now() WHERE id = $1",
                           waiting["id"], who)
        state = await _state(conn, la_id)
    log.info("retention reduction confirmed", extra={"la_id": str(la_id), "keep_until_age": body.keep_until_age})
    return state


async def apply_due(pool: asyncpg.Pool, today: date) -> int:
    """Make confirmed reductions whose date has come the age in effect; how many."""
    async with pool.acquire() as conn, conn.transaction():
        applied = await conn.fetch(
            "UPDATE retention_changes SET applied_at = now() WHERE applied_at IS NULL AND superseded_at IS NULL "
            "AND confirmed_by IS NOT NULL AND takes_effect_on <= $1 RETURNING la_id, keep_until_age, proposed_by",
            today)
        for change in applied:
            await conn.execute(
                "INSERT INTO retention_rules (la_id, keep_until_age, changed_by) VALUES ($1, $2, $3) "
                "ON CONFLICT (la_id) DO UPDATE SET keep_until_age = $2, changed_by = $3, changed_at = now()",
                change["la_id"], change["keep_until_age"], change["proposed_by"])
            log.info("retention reduction took effect",
                     extra={"la_id": str(change["la_id"]), "keep_until_age": change["keep_until_age"]})
    return len(applied)


async def erase_ended(pool: asyncpg.Pool, today: date) -> int:
    """Erase every child whose retention ended on or before `today` by the age in effect (a reduction only once
    confirmed and due: apply_due); how many this call erased."""
    await apply_due(pool, today)
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
