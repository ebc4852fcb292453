"""Reminders as they happen, or once a day: each person chooses (GET/PUT /me/notification-preferences).

Only reminders (due soon, due today, overdue, escalated) wait for a digest: sign-in codes, security notices,
invitations and workflow emails always go at once. A reminder for someone who wants a digest is kept in
`digest_items` (once per event, person and kind, however often the event is redelivered). From 07:00 UK time
each replica's scheduler looks for people with waiting items; for each, one transaction claims the day's
digest (`digests` has one row per person per day, so another replica or a restart does nothing), takes the
items and puts a `notify.digest.due` event in notify's outbox. Its consumer sends the one email through the
usual delivery path, exactly once.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, Literal

import asyncpg
from aiohttp import web
from pydantic import BaseModel, ConfigDict

from services.notify import directory
from services.notify.directory import Person
from services.notify.emails import Email
from services.notify.settings import NotifySettings
from shared.api.notifications import (
    GET_NOTIFICATION_PREFERENCES,
    SET_NOTIFICATION_PREFERENCES,
    NotificationPreferences,
)
from shared.authz import require_user
from shared.bus import MessageContext, add_event
from shared.contracts import DigestDue
from shared.schedule import UK, every
from shared.service import POOL, SETTINGS
from shared.web import CLAIMS, parse_body, serves

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
SEND_FROM_HOUR = 7
DIGESTIBLE = frozenset({"task_due_soon", "task_due_today", "task_overdue", "task_escalated", "clock_due_soon",
                        "clock_overdue", "clock_escalated"})
WHAT = {"task_due_soon": "Due soon", "task_due_today": "Due today", "task_overdue": "Overdue",
        "task_escalated": "Overdue (escalated to the Virtual School)", "clock_due_soon": "Due soon",
        "clock_overdue": "Overdue", "clock_escalated": "Overdue (escalated to the Virtual School)"}


class Preferences(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reminders: Literal["immediate", "daily"]


@serves(routes, GET_NOTIFICATION_PREFERENCES)
async def get_preferences(request: web.Request) -> NotificationPreferences:
    user = uuid.UUID(require_user(request[CLAIMS]))
    chosen = await request.app[POOL].fetchval("SELECT reminders FROM preferences WHERE user_id = $1", user)
    return NotificationPreferences(reminders=chosen or "immediate")


@serves(routes, SET_NOTIFICATION_PREFERENCES)
async def put_preferences(request: web.Request) -> NotificationPreferences:
    user = uuid.UUID(require_user(request[CLAIMS]))
    body = await parse_body(request, Preferences)
    await request.app[POOL].execute(
        "INSERT INTO preferences (user_id, reminders) VALUES ($1, $2) ON CONFLICT (user_id) DO UPDATE SET "
        "reminders = $2, updated_at = now()", user, body.reminders)
    return NotificationPreferences(reminders=body.reminders)


async def hold_for_digest(ctx: MessageContext, people: Iterable[Person], outgoing: list[Email],
                          la_id: uuid.UUID | None) -> list[Email]:
    """The reminders to send now; those for people who chose a daily digest are kept for it instead."""
    by_email = {p.email.casefold(): p for p in people if p.user_id is not None}
    users = [p.user_id for p in by_email.values()]
    daily = {r["user_id"] for r in await ctx.pool.fetch(
        "SELECT user_id FROM preferences WHERE user_id = ANY($1::uuid[]) AND reminders = 'daily'", users)}
    now = []
    for email in outgoing:
        person = by_email.get(email.recipient.casefold())
        if email.template in DIGESTIBLE and person is not None and person.user_id in daily:
            await ctx.pool.execute(
                "INSERT INTO digest_items (event_id, user_id, template, values, la_id) VALUES ($1, $2, $3, $4, $5) "
                "ON CONFLICT DO NOTHING", ctx.envelope.event_id, person.user_id, email.template,
                json.loads(json.dumps(dict(email.values), default=str)), la_id)
        else:
            now.append(email)
    return now


# ---- the scheduler -----------------------------------------------------------------------------------------


async def tick(pool: asyncpg.Pool, moment: datetime) -> int:
    """Claim today's digest for everyone with waiting reminders; the number claimed by this call."""
    local = moment.astimezone(UK)
    if local.hour < SEND_FROM_HOUR:
        return 0
    today = local.date()
    claimed = 0
    for user_id in [r["user_id"] for r in await pool.fetch(
            "SELECT DISTINCT user_id FROM digest_items WHERE digest_date IS NULL")]:
        async with pool.acquire() as conn, conn.transaction():
            if await conn.fetchval("INSERT INTO digests (user_id, digest_date) VALUES ($1, $2) ON CONFLICT "
                                   "DO NOTHING RETURNING 1", user_id, today) is None:
                continue  # today's went already (another replica, or earlier today): the rest wait for tomorrow
            la_id = await conn.fetchval(
                "UPDATE digest_items SET digest_date = $2 WHERE user_id = $1 AND digest_date IS NULL RETURNING la_id",
                user_id, today)
            await add_event(conn, "notify", DigestDue(user_id=user_id, digest_date=today),
                            tenant=str(la_id) if la_id else None)
            claimed += 1
    return claimed


async def _work(app: web.Application, moment: datetime) -> None:
    from services.notify import meeting_reminders  # (it imports this module)

    settings = app[SETTINGS]
    assert isinstance(settings, NotifySettings)
    await tick(app[POOL], moment)
    await meeting_reminders.tick(app[POOL], moment, settings.meeting_reminder_days)


# Every replica runs it: digests and meeting reminders are each claimed with a unique row.
scheduler = every("digests", lambda app: app[SETTINGS].digest_interval_seconds, _work)


# ---- sending one ---------------------------------------------------------------------------------------------


def digest_email(person: Person, digest_date: date, items: list[dict[str, Any]], virtual_school: Any) -> Email:
    lines = [{"what": WHAT.get(i["template"], "Reminder"),
              "child": i["values"].get("child_name") or i["values"].get("child", ""),
              "task": i["values"].get("what", ""), "due": i["values"].get("due", ""),
              "label": i["values"].get("label", ""),  # a PEP clock's prompt: what is due, not a task
              "link": i["values"].get("link", "")} for i in items]
    return Email("daily_digest", person.email, {"given_name": person.given_name, "count": len(lines),
                                                "items": lines, "day": digest_date.isoformat()},
                 virtual_school=virtual_school)


async def digest_emails(ctx: MessageContext, data: Any, settings: NotifySettings) -> list[Email]:
    assert isinstance(data, DigestDue)
    person = await directory.person(ctx.pool, data.user_id)
    rows = await ctx.pool.fetch("SELECT template, values, la_id FROM digest_items WHERE user_id = $1 AND "
                                "digest_date = $2 ORDER BY id", data.user_id, data.digest_date)
    if person is None or not rows:
        return []  # a deactivated account, or nothing after all
    las = [r["la_id"] for r in rows if r["la_id"] is not None]
    virtual_school = await directory.virtual_school(ctx.pool, las[0]) if las else None
    return [digest_email(person, data.digest_date, [dict(r) for r in rows], virtual_school)]
