"""The reminder scheduler: every replica of delegation runs it; each reminder still goes out once.

Each tick takes the open tasks with a due date near enough, asks the domain which reminders each is owed
today (Europe/London), and for each inserts its (task, rule, occurrence) row and its event in one
transaction. The primary key makes every other attempt (another replica, a restart, the next tick) do
nothing. Reminders go out from 07:00 UK time, not at midnight.

The clock is the system's, unless EPEP_CLOCK_FILE names a file holding an ISO date-time: the way tests (and
an operator rehearsing a term) move time for a running system.
"""

from __future__ import annotations

import logging
import uuid
from datetime import date, datetime, time, timedelta

import asyncpg
from aiohttp import web

from services.delegation import scheduled, timescale_store
from services.delegation.domain.reminders import owed
from services.delegation.domain.timescales import Calendar
from shared.bus import add_event
from shared.contracts import TaskReminder
from shared.metrics import REMINDER_LAG
from shared.schedule import UK, every
from shared.service import POOL, SETTINGS

log = logging.getLogger(__name__)
SEND_FROM_HOUR = 7
LOOK_AHEAD_DAYS = 7  # due soon is at most a few working days ahead, even across Christmas


async def tick(pool: asyncpg.Pool, moment: datetime) -> int:
    """Send what is owed at `moment`; the number of reminders this call sent."""
    local = moment.astimezone(UK)
    if local.hour < SEND_FROM_HOUR:
        return 0
    today = local.date()
    async with pool.acquire() as conn:
        tasks = await conn.fetch(
            "SELECT * FROM tasks WHERE status IN ('assigned', 'in_progress', 'returned') AND due_date IS NOT NULL "
            "AND due_date <= $1 ORDER BY due_date", today + timedelta(days=LOOK_AHEAD_DAYS))
    calendars: dict[uuid.UUID, Calendar] = {}
    sent = 0
    for task in tasks:
        if task["la_id"] not in calendars:
            async with pool.acquire() as conn:
                config, _ = await timescale_store.current(conn, task["la_id"])
            calendars[task["la_id"]] = Calendar.of(config)
        for reminder in owed(task["due_date"], today, calendars[task["la_id"]]):
            sent += await _send_once(pool, task, reminder.rule, reminder.occurrence, moment)
    return sent


async def _send_once(pool: asyncpg.Pool, task: asyncpg.Record, rule: str, occurrence: date,
                     moment: datetime) -> int:
    async with pool.acquire() as conn, conn.transaction():
        # Still open? (It may have been submitted since the list was read.)
        if await conn.fetchval("SELECT status FROM tasks WHERE id = $1", task["id"]) not in (
                "assigned", "in_progress", "returned"):
            return 0
        inserted = await conn.fetchval(
            "INSERT INTO reminders (task_id, rule, occurrence) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING "
            "RETURNING 1", task["id"], rule, occurrence)
        if inserted is None:
            return 0
        await add_event(conn, "delegation", TaskReminder(
            task_id=task["id"], pep_id=task["pep_id"], child_id=task["child_id"], la_id=task["la_id"],
            setting_id=task["setting_id"], assignee_user_id=task["assignee_user_id"],
            originator_id=task["originator_id"], kind=task["kind"], assignee_role=task["assignee_role"], rule=rule,
            occurrence=occurrence,
            due_date=task["due_date"]), tenant=str(task["la_id"]))
    log.info("reminder sent", extra={"task_id": str(task["id"]), "rule": rule, "occurrence": occurrence.isoformat()})
    owed_at = datetime.combine(occurrence, time(SEND_FROM_HOUR), UK)
    REMINDER_LAG.observe(max(0.0, (moment - owed_at).total_seconds()))
    return 1


async def _work(app: web.Application, moment: datetime) -> None:
    await tick(app[POOL], moment)
    await scheduled.delegate_due(app[POOL], moment.astimezone(UK).date())


# Every replica runs it; each piece of work is claimed with a unique row, so nothing is done twice.
scheduler = every("reminders", lambda app: app[SETTINGS].reminder_interval_seconds, _work)
