"""Meeting reminders on real Postgres and RabbitMQ: claimed once per (meeting version, address) however many
schedulers tick at once, then sent by the consumer; cancelled meetings get none, moved ones get one for the new
date, and a version that only adds people reminds only them."""
# ruff: noqa: F811  (the `notify` fixture is imported from test_consumers, and named as a parameter)

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime
from zoneinfo import ZoneInfo

from services.notify import meeting_reminders
from shared.bus import OutboxRelay
from tests.notify.test_consumers import SERVICE, Notify, eventually, notify, notify_database, text_of  # noqa: F401

UK = ZoneInfo("Europe/London")
MEETING = date(2026, 12, 3)  # a Thursday
TWO_DAYS_BEFORE = datetime(2026, 12, 1, 7, 0, tzinfo=UK)
LA, CHILD = uuid.uuid4(), uuid.uuid4()
DT, CARER, NEW = "dana.r@example.test", "pat.r@example.test", "nia.r@example.test"


async def _world(notify: Notify) -> None:
    pool = notify.pool
    await pool.execute("INSERT INTO users (id, email, given_name, family_name, changed_at) VALUES "
                       "($1, 'Dana.R@example.test', 'Dana', 'Teacher', now()) ON CONFLICT DO NOTHING", uuid.uuid4())
    await pool.execute("INSERT INTO children (id, version, la_id, given_name, family_name) VALUES "
                       "($1, 1, $2, 'Jordan', 'Example') ON CONFLICT DO NOTHING", CHILD, LA)
    await pool.execute("INSERT INTO organisations (id, name, organisation_type, contact_email, changed_at) VALUES "
                       "($1, 'Northshire Virtual School', 'la', 'vs@northshire.test', now()) ON CONFLICT DO NOTHING",
                       LA)


async def _version(notify: Notify, pep_id: uuid.UUID, sequence: int, on: date, invited: list[str],
                   cancelled: bool = False, at: str = "15:30", where: str = "Room 4") -> None:
    await notify.pool.execute(
        "INSERT INTO meeting_versions (pep_id, sequence, meeting_date, meeting_time, location, invited, cancelled, "
        "child_id, la_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)", pep_id, sequence, on, at, where, invited,
        cancelled, CHILD, LA)


async def _ticks(notify: Notify, moment: datetime, replicas: int = 3) -> int:
    """Several schedulers at the same moment, as several notify replicas are."""
    claimed = await asyncio.gather(*(meeting_reminders.tick(notify.pool, moment, 2) for _ in range(replicas)))
    await OutboxRelay(notify.pool, notify.bus, notify.settings, SERVICE).publish_batch()
    return sum(claimed)


async def _claimed(notify: Notify, pep_id: uuid.UUID) -> list[tuple[int, str]]:
    rows = await notify.pool.fetch("SELECT sequence, recipient FROM meeting_reminders WHERE pep_id = $1 "
                                   "ORDER BY sequence, recipient", pep_id)
    return [(r["sequence"], r["recipient"]) for r in rows]


def _reminders(notify: Notify, to: str) -> list[str]:
    return [text_of(m) for m in notify.mail(to) if str(m["Subject"]) == "Reminder: PEP meeting for Jordan E."]


async def test_a_meeting_is_reminded_once_two_days_before_from_seven_in_the_morning(notify: Notify) -> None:
    await _world(notify)
    pep, cancelled, moved, later = (uuid.uuid4() for _ in range(4))
    await _version(notify, pep, 0, MEETING, [DT, CARER])
    await _version(notify, cancelled, 0, MEETING, [CARER])
    await _version(notify, cancelled, 1, MEETING, [CARER], cancelled=True)
    await _version(notify, moved, 0, MEETING, [CARER])
    await _version(notify, moved, 1, date(2026, 12, 10), [CARER])
    await _version(notify, later, 0, date(2026, 12, 4), ["other.r@example.test"])

    assert await _ticks(notify, TWO_DAYS_BEFORE.replace(hour=6, minute=59)) == 0
    assert await _ticks(notify, TWO_DAYS_BEFORE) == 1  # one meeting, claimed by one of the three
    assert await _ticks(notify, TWO_DAYS_BEFORE.replace(hour=12)) == 0  # and never again
    assert await _claimed(notify, pep) == [(0, DT), (0, CARER)]
    for other in (cancelled, moved, later):
        assert await _claimed(notify, other) == []

    await eventually(lambda: _has(notify, [DT, CARER]), what="the reminders")
    [to_dt], [to_carer] = _reminders(notify, DT), _reminders(notify, CARER)
    assert "Hello Dana," in to_dt and f"https://epep.northshire.test/peps/{pep}" in to_dt
    assert "When: Thursday 3 December 2026 at 3:30pm Where: Room 4" in to_dt
    assert "Hello," in to_carer and "/peps/" not in to_carer  # no account: the meeting, not a link
    assert "Northshire Virtual School Email: vs@northshire.test" in to_carer

    # Someone added to the meeting (same date, time and place): only they are reminded.
    await _version(notify, pep, 1, MEETING, [DT, CARER, NEW])
    assert await _ticks(notify, TWO_DAYS_BEFORE.replace(hour=9)) == 1
    assert await _claimed(notify, pep) == [(0, DT), (0, CARER), (1, NEW)]
    await eventually(lambda: _has(notify, [NEW]), what="the newcomer's reminder")

    # Moved a day later: reminded again for the new date, from two days before it.
    await _version(notify, pep, 2, date(2026, 12, 4), [DT, CARER, NEW], at="10:00")
    assert await _ticks(notify, TWO_DAYS_BEFORE.replace(hour=10)) == 0  # 4 December is three days away
    assert await _ticks(notify, datetime(2026, 12, 2, 7, 5, tzinfo=UK)) == 2  # and the one always on the 4th
    await eventually(lambda: _has(notify, [DT, CARER, NEW], 2), what="the moved meeting's reminders")
    assert "When: Friday 4 December 2026 at 10am" in _reminders(notify, CARER)[-1]
    await asyncio.sleep(0.5)
    assert [len(_reminders(notify, to)) for to in (DT, CARER, NEW)] == [2, 2, 2]


async def _has(notify: Notify, addresses: list[str], count: int = 1) -> bool:
    return all(len(_reminders(notify, to)) >= count for to in addresses)


async def test_a_reminder_for_a_meeting_moved_or_cancelled_since_it_was_claimed_is_not_sent(notify: Notify) -> None:
    await _world(notify)
    pep = uuid.uuid4()
    carer = f"late.{pep.hex[:6]}@example.test"
    await _version(notify, pep, 0, MEETING, [carer])
    claimed = await meeting_reminders.tick(notify.pool, TWO_DAYS_BEFORE, 2)
    assert claimed >= 1
    await _version(notify, pep, 1, MEETING, [carer], cancelled=True)  # before the event is published
    await OutboxRelay(notify.pool, notify.bus, notify.settings, SERVICE).publish_batch()
    await eventually(lambda: _handled(notify, pep), what="the reminder event")
    assert _reminders(notify, carer) == []


async def _handled(notify: Notify, pep_id: uuid.UUID) -> bool:
    return bool(await notify.pool.fetchval(
        "SELECT 1 FROM inbox i JOIN outbox o ON o.event_id = i.event_id WHERE i.consumer = 'notify.meeting_reminders' "
        "AND o.envelope->'data'->>'pep_id' = $1", str(pep_id)))
