"""The prompt scheduler: every replica of delegation runs it; each prompt still goes out once.

Each tick (from 07:00 UK time, like task reminders) reads every child in care and their PEPs in two queries and
each LA's timescales once, works out each child's PEP clocks for today (domain/clocks.py) and the prompts they
are owed (domain/prompts.py), in a worker thread so the event loop keeps serving, then asks in one query which of
those were sent already. The rest are sent in batches, in key order: one transaction claims each one's (child,
clock, due, stage) row with ON CONFLICT DO NOTHING and writes the event of each it claimed to the outbox. The key
makes every other attempt (another replica, a restart, the next tick) do nothing. notify turns the event into
emails.

The clock is the system's, unless EPEP_CLOCK_FILE names a file holding an ISO date-time (shared/schedule.py);
EPEP_PROMPT_INTERVAL_SECONDS says how often each replica looks.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime

import asyncpg
from aiohttp import web

from services.delegation import timescale_store
from services.delegation.domain.clocks import ChildFacts, PepFacts, clocks
from services.delegation.domain.prompts import Prompt, owed
from services.delegation.domain.timescales import Timescales
from shared.bus import add_event
from shared.contracts import PepClockPrompt
from shared.schedule import UK, every
from shared.service import POOL, SETTINGS

log = logging.getLogger(__name__)
SEND_FROM_HOUR = 7
BATCH = 200  # prompts claimed (and their events written) per transaction


@dataclass(frozen=True)
class Owed:
    child: asyncpg.Record
    prompt: Prompt

    @property
    def key(self) -> tuple[uuid.UUID, str, date, str]:
        return self.child["id"], self.prompt.clock.key, self.prompt.due, self.prompt.stage


def work_out(children: list[asyncpg.Record], peps: list[asyncpg.Record], configs: dict[uuid.UUID, Timescales],
             today: date) -> list[Owed]:
    """Every prompt owed today, for every child: pure CPU work (run in a thread)."""
    by_child: dict[uuid.UUID, list[PepFacts]] = {}
    for p in peps:
        by_child.setdefault(p["child_id"], []).append(PepFacts.of(p))
    out = []
    for child in children:
        config = configs[child["la_id"]]
        try:
            found = owed(clocks(ChildFacts.of(child), by_child.get(child["id"], []), config, today), config, today)
        except Exception as exc:  # one child's odd facts must not stop every other child's prompts
            log.error("PEP clocks could not be worked out for a child", extra={
                "child_id": str(child["id"]), "error": type(exc).__name__})
            continue
        out += [Owed(child, prompt) for prompt in found]
    return out


async def tick(pool: asyncpg.Pool, moment: datetime) -> int:
    """Send what is owed at `moment`; the number of prompts this call sent."""
    local = moment.astimezone(UK)
    if local.hour < SEND_FROM_HOUR:
        return 0
    today = local.date()
    async with pool.acquire() as conn:
        children = await conn.fetch("SELECT * FROM children WHERE in_care")
        peps = await conn.fetch("SELECT p.* FROM peps p JOIN children c ON c.id = p.child_id WHERE c.in_care")
        configs = {la: (await timescale_store.current(conn, la))[0] for la in {c["la_id"] for c in children}}
    candidates = await asyncio.to_thread(work_out, children, peps, configs, today)
    if not candidates:
        return 0
    keys = [c.key for c in candidates]
    async with pool.acquire() as conn:
        done = {(r["child_id"], r["clock"], r["due"], r["stage"]) for r in await conn.fetch(
            "SELECT p.child_id, p.clock, p.due, p.stage FROM clock_prompts p JOIN unnest($1::uuid[], $2::text[], "
            "$3::date[], $4::text[]) AS k (child_id, clock, due, stage) USING (child_id, clock, due, stage)",
            *(list(column) for column in zip(*keys, strict=True)))}
    # In key order, so two replicas sending overlapping batches wait for each other rather than deadlock.
    left = sorted((item for item in candidates if item.key not in done), key=lambda item: item.key)
    sent = 0
    for first in range(0, len(left), BATCH):
        sent += await _send_batch(pool, left[first:first + BATCH])
    return sent


async def _send_batch(pool: asyncpg.Pool, batch: list[Owed]) -> int:
    """Claim each prompt's row and write its event, in one transaction for the batch: those another replica (or an
    earlier tick) claimed first are skipped."""
    async with pool.acquire() as conn, conn.transaction():
        # Still in care, and who is responsible now? (It may have changed since the read.)
        now = {r["id"]: r for r in await conn.fetch(
            "SELECT id, in_care, setting_id, social_worker_id FROM children WHERE id = ANY($1::uuid[])",
            list({item.child["id"] for item in batch}))}
        batch = [item for item in batch if item.child["id"] in now and now[item.child["id"]]["in_care"]]
        if not batch:
            return 0
        claimed = {(r["child_id"], r["clock"], r["due"], r["stage"]) for r in await conn.fetch(
            "INSERT INTO clock_prompts (child_id, clock, due, stage, la_id) SELECT child_id, clock, due, stage, la_id "
            "FROM unnest($1::uuid[], $2::text[], $3::date[], $4::text[], $5::uuid[]) WITH ORDINALITY "
            "AS k (child_id, clock, due, stage, la_id, n) ORDER BY n ON CONFLICT DO NOTHING "
            "RETURNING child_id, clock, due, stage",
            *(list(column) for column in zip(*(item.key for item in batch), strict=True)),
            [item.child["la_id"] for item in batch])}
        for item in batch:
            if item.key not in claimed:
                continue
            child, prompt, who = item.child, item.prompt, now[item.child["id"]]
            await add_event(conn, "delegation", PepClockPrompt(
                child_id=child["id"], la_id=child["la_id"], setting_id=who["setting_id"],
                social_worker_id=who["social_worker_id"], pep_id=prompt.clock.pep_id, clock=prompt.clock.key,
                label=prompt.clock.label, due=prompt.due, stage=prompt.stage, explanation=prompt.clock.explanation,
                escalation=prompt.escalation), tenant=str(child["la_id"]))
    for item in batch:
        if item.key in claimed:
            log.info("PEP clock prompt sent", extra={"child_id": str(item.child["id"]), "clock": item.prompt.clock.key,
                                                     "stage": item.prompt.stage, "due": item.prompt.due.isoformat()})
    return len(claimed)


async def _work(app: web.Application, moment: datetime) -> None:
    await tick(app[POOL], moment)


# Every replica runs it; each prompt is claimed with a unique row, so none is sent twice.
scheduler = every("prompts", lambda app: app[SETTINGS].prompt_interval_seconds, _work)
