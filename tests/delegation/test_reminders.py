"""Which reminders an open task is owed, worked by hand against a calendar (England and Wales bank holidays)."""

from __future__ import annotations

from datetime import date

from services.delegation.domain.reminders import Reminder, owed
from services.delegation.domain.timescales import Calendar

CAL = Calendar()


def test_a_task_due_on_a_wednesday_in_an_ordinary_week() -> None:
    due = date(2027, 3, 17)  # Wednesday; no bank holiday within a week either side
    assert owed(due, date(2027, 3, 12), CAL) == []  # Friday before: not yet
    # Due soon 2 working days before: Tuesday 16th (1), Monday 15th (2).
    assert owed(due, date(2027, 3, 15), CAL) == [Reminder("due_soon", date(2027, 3, 15))]
    assert owed(due, date(2027, 3, 16), CAL) == [Reminder("due_soon", date(2027, 3, 15))]  # the same one
    assert owed(due, date(2027, 3, 17), CAL) == [Reminder("due_today", due)]
    # Overdue from the next working day, Thursday 18th.
    assert owed(due, date(2027, 3, 18), CAL) == [Reminder("overdue", date(2027, 3, 18))]
    # Escalated 5 working days after: Thu 18 (1), Fri 19 (2), Mon 22 (3), Tue 23 (4), Wed 24 (5).
    assert owed(due, date(2027, 3, 24), CAL) == [Reminder("overdue", date(2027, 3, 18)),
                                                 Reminder("escalated", date(2027, 3, 24))]
    # Overdue again every 7 days: 25th; the escalation is not repeated.
    assert owed(due, date(2027, 3, 25), CAL) == [Reminder("overdue", date(2027, 3, 25)),
                                                 Reminder("escalated", date(2027, 3, 24))]
    # A scheduler back after a fortnight owes the latest overdue only (18th, 25th, 1 April: 1 April).
    assert owed(due, date(2027, 4, 2), CAL)[0] == Reminder("overdue", date(2027, 4, 1))


def test_easter_moves_due_soon_and_escalation() -> None:
    # Good Friday 26 March 2027 and Easter Monday 29 March 2027 are bank holidays. Due Tuesday 30 March.
    due = date(2027, 3, 30)
    # Due soon 2 working days before: Mon 29 and Fri 26 are holidays, so Thu 25 (1), Wed 24 (2).
    assert owed(due, date(2027, 3, 24), CAL) == [Reminder("due_soon", date(2027, 3, 24))]
    assert owed(due, date(2027, 3, 23), CAL) == []
    # Escalated 5 working days after: Wed 31 (1), Thu 1 (2), Fri 2 (3), Mon 5 (4), Tue 6 April (5).
    assert Reminder("escalated", date(2027, 4, 6)) in owed(due, date(2027, 4, 6), CAL)
    assert all(r.rule != "escalated" for r in owed(due, date(2027, 4, 5), CAL))


def test_christmas_holidays_delay_the_first_overdue_reminder() -> None:
    # Christmas Day 2027 is a Saturday and Boxing Day a Sunday: the bank holidays are Mon 27 and Tue 28 December.
    due = date(2027, 12, 24)  # Friday
    assert owed(due, date(2027, 12, 28), CAL) == []
    assert owed(due, date(2027, 12, 29), CAL) == [Reminder("overdue", date(2027, 12, 29))]
