"""Which reminders an open task is owed on a day: pure, so every rule can be worked by hand in tests.

- due soon: 2 working days before the due date;
- due today: on the due date;
- overdue: the working day after the due date, then every 7 days while it stays open;
- escalated: 5 working days after the due date, once, to the LA's Virtual School caseworkers.

Each reminder is named by (rule, occurrence): the day it fell due. Only the latest occurrence of each rule
that has arrived is owed, so a scheduler that was down for a fortnight sends one "overdue", not two: people
want to know where things stand, not to be told twice. Sending each exactly once is the scheduler's job
(a unique row per task, rule and occurrence).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from services.delegation.domain.timescales import Calendar

DUE_SOON_WORKING_DAYS = 2
ESCALATE_AFTER_WORKING_DAYS = 5
OVERDUE_EVERY_DAYS = 7
RULES = ("due_soon", "due_today", "overdue", "escalated")


@dataclass(frozen=True)
class Reminder:
    rule: str
    occurrence: date


def owed(due: date, today: date, calendar: Calendar) -> list[Reminder]:
    """The reminders an open task due on `due` is owed by `today`, each at its latest occurrence."""
    out: list[Reminder] = []
    soon = calendar.add(due, -DUE_SOON_WORKING_DAYS, "working_days")
    if soon <= today < due:
        out.append(Reminder("due_soon", soon))
    if today == due:
        out.append(Reminder("due_today", due))
    first_overdue = calendar.add(due, 1, "working_days")
    if today >= first_overdue:
        weeks = (today - first_overdue).days // OVERDUE_EVERY_DAYS
        out.append(Reminder("overdue", first_overdue + timedelta(days=weeks * OVERDUE_EVERY_DAYS)))
    escalate = calendar.add(due, ESCALATE_AFTER_WORKING_DAYS, "working_days")
    if today >= escalate:
        out.append(Reminder("escalated", escalate))
    return out
