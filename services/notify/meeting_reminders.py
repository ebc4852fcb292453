"""A reminder of a PEP meeting, `meeting_reminder_days` before it (2 unless set), from 07:00 UK time.

It goes to the people invited to the meeting's latest version notify recorded (`meeting_versions.invited`):
carers and parents without accounts too. The digest scheduler's loop (one in every replica, on the same clock)
calls `tick`, which for each meeting due a reminder claims a row per (pep_id, sequence, address) in
`meeting_reminders` and puts a `notify.meeting_reminder.due` event in notify's outbox, in one transaction: so
another replica, or a restart, claims nothing more, and the consumer sends each email once. A cancelled meeting
is not reminded; a moved one (a new version) is reminded for its new date; a version that changed only who is
invited reminds only the people not already reminded of that same date, time and place.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import asyncpg

from services.notify import directory
from services.notify.digest import SEND_FROM_HOUR, UK
from services.notify.directory import Child
from services.notify.emails import Email
from services.notify.pep_notices import _pep_link, _when
from services.notify.settings import NotifySettings
from shared.bus import MessageContext, add_event
from shared.contracts import MeetingReminderDue, Organisation

log = logging.getLogger(__name__)

# The latest version of each meeting on a day in the window: `DISTINCT ON` after narrowing by date.
_DUE = """
SELECT * FROM (SELECT DISTINCT ON (pep_id) * FROM meeting_versions
               WHERE pep_id IN (SELECT pep_id FROM meeting_versions WHERE meeting_date BETWEEN $1 AND $2)
               ORDER BY pep_id, sequence DESC) latest
WHERE NOT cancelled AND child_id IS NOT NULL AND meeting_date BETWEEN $1 AND $2
"""

# Addresses already reminded of this very meeting (same date, time and place) under an earlier version.
_ALREADY = """
SELECT r.recipient FROM meeting_reminders r
JOIN meeting_versions v ON v.pep_id = r.pep_id AND v.sequence = r.sequence
WHERE r.pep_id = $1 AND v.meeting_date = $2 AND v.meeting_time IS NOT DISTINCT FROM $3
  AND coalesce(trim(v.location), '') = coalesce(trim($4), '')
"""


async def tick(pool: asyncpg.Pool, moment: datetime, days: int) -> int:
    """Claim the reminders due now; the number of meetings this call claimed any for."""
    local = moment.astimezone(UK)
    if local.hour < SEND_FROM_HOUR:
        return 0
    today = local.date()
    claimed = 0
    for meeting in await pool.fetch(_DUE, today, today + timedelta(days=days)):
        async with pool.acquire() as conn, conn.transaction():
            already = {r["recipient"] for r in await conn.fetch(
                _ALREADY, meeting["pep_id"], meeting["meeting_date"], meeting["meeting_time"], meeting["location"])}
            wanted = sorted(set(meeting["invited"]) - already)
            mine = [r["recipient"] for r in await conn.fetch(
                "INSERT INTO meeting_reminders (pep_id, sequence, recipient) SELECT $1, $2, unnest($3::text[]) "
                "ON CONFLICT DO NOTHING RETURNING recipient", meeting["pep_id"], meeting["sequence"], wanted)]
            if not mine:
                continue  # reminded already (another replica, or an earlier tick)
            await add_event(conn, "notify", MeetingReminderDue(pep_id=meeting["pep_id"], sequence=meeting["sequence"],
                                                               recipients=sorted(mine)),
                            tenant=str(meeting["la_id"]) if meeting["la_id"] else None)
            claimed += 1
    return claimed


# ---- sending them ------------------------------------------------------------------------------------------


async def reminder_emails(ctx: MessageContext, data: MeetingReminderDue, settings: NotifySettings) -> list[Email]:
    pool = ctx.pool
    latest = await pool.fetchrow("SELECT * FROM meeting_versions WHERE pep_id = $1 ORDER BY sequence DESC LIMIT 1",
                                 data.pep_id)
    if latest is None or latest["sequence"] != data.sequence or latest["cancelled"]:
        # Moved or cancelled since it was claimed: the new version has its own reminder, a cancelled one none.
        log.info("meeting reminder no longer due", extra={"event_id": str(ctx.envelope.event_id)})
        return []
    child = await directory.child(pool, latest["child_id"])
    accounts = {r["address"]: r["given_name"] for r in await pool.fetch(
        "SELECT lower(email) AS address, given_name FROM users WHERE lower(email) = ANY($1::text[]) AND NOT disabled",
        [a.casefold() for a in data.recipients])}
    virtual_school = await directory.virtual_school(pool, latest["la_id"]) if latest["la_id"] else None
    when = _when(latest["meeting_date"], latest["meeting_time"])
    # Only people with an account can open the PEP: carers and parents are told the meeting, not sent a link.
    return [reminder_email(address, accounts.get(address.casefold(), ""), child, when,
                           (latest["location"] or "").strip(),
                           _pep_link(settings, data.pep_id) if address.casefold() in accounts else "", virtual_school)
            for address in data.recipients]


def reminder_email(recipient: str, given_name: str, child: Child, when: str, place: str, link: str,
                   virtual_school: Organisation | None) -> Email:
    """One reminder: the meeting's date, time and place, and (for someone with an account) a link to the PEP."""
    return Email("meeting_reminder", recipient, {"given_name": given_name, "child": child.short_name,
                                                 "child_name": child.full_name, "when": when,
                                                 "place": place, "previous_when": "", "link": link},
                 virtual_school=virtual_school)
