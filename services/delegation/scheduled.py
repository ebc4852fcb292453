"""Delegation on schedule: a termly PEP (the one signing off the last starts) is delegated to the school by
itself on the LA's "delegate" date before its meeting, with the sections and the originator of the child's last
delegation, so the cycle goes on without anyone having to remember it. Once per PEP (a row claimed with the
task in one transaction), never when someone has delegated it already, and never without a meeting date."""

from __future__ import annotations

import logging
from datetime import date

import asyncpg

from services.delegation import task_store, timescale_store
from services.delegation.domain.timescales import TermDatesMissing, deadlines

log = logging.getLogger(__name__)
NOTE = "Delegated on schedule: the same sections as last time"

CANDIDATES = """
SELECT p.id AS pep_id, p.child_id, p.la_id, p.meeting_date, c.setting_id,
       last.sections, last.originator_id
FROM peps p
JOIN children c ON c.id = p.child_id
JOIN LATERAL (
    SELECT t.sections, t.originator_id FROM tasks t
    WHERE t.child_id = p.child_id AND t.pep_id <> p.id AND t.kind = 'complete_sections'
    ORDER BY t.created_at DESC LIMIT 1
) last ON true
WHERE p.kind = 'termly_review' AND p.status IN ('created', 'in_progress', 'returned')
  AND p.meeting_date IS NOT NULL AND p.meeting_date >= $1 AND c.setting_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.pep_id = p.id AND t.kind = 'complete_sections')
  AND NOT EXISTS (SELECT 1 FROM scheduled_delegations s WHERE s.pep_id = p.id)
"""


async def delegate_due(pool: asyncpg.Pool, today: date) -> int:
    """Delegate every PEP whose delegation date has come; the number this call delegated."""
    made = 0
    for row in await pool.fetch(CANDIDATES, today):
        async with pool.acquire() as conn, conn.transaction():
            config, _ = await timescale_store.current(conn, row["la_id"])
            try:
                when = deadlines(config, meeting=row["meeting_date"])["delegate"].due
            except TermDatesMissing:
                when = None
            if when is None or when > today:
                continue
            if await conn.fetchval("INSERT INTO scheduled_delegations (pep_id) VALUES ($1) ON CONFLICT DO NOTHING "
                                   "RETURNING 1", row["pep_id"]) is None:
                continue  # another replica, or an earlier tick, did it
            due, rule = await task_store.due_by_rule(conn, row["la_id"], row["meeting_date"], "dt_return")
            task = await task_store.create_task(
                conn, kind="complete_sections", pep_id=row["pep_id"], child_id=row["child_id"], la_id=row["la_id"],
                setting_id=row["setting_id"], sections=list(row["sections"]), assignee_user_id=None,
                originator_id=row["originator_id"], due_date=due, due_rule=rule, note=NOTE, feedback=None, by=None,
                correlation_id=None)
            await conn.execute("UPDATE scheduled_delegations SET task_id = $2 WHERE pep_id = $1", row["pep_id"],
                               task["id"] if task else None)
            made += task is not None
    if made:
        log.info("delegated on schedule", extra={"count": made})
    return made
