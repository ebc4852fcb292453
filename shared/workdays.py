"""Working days: Monday to Friday except England and Wales bank holidays (the maintained `holidays` library, so
a new or moved bank holiday arrives with a package upgrade, not a code change). Small and without I/O, so any
service can count in working days; delegation's timescale engine adds school days and term dates on top."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

UK = ZoneInfo("Europe/London")


@lru_cache(maxsize=1)
def _bank_holidays() -> holidays.HolidayBase:
    # England and Wales share their bank holidays; the object adds years as they are asked about.
    return holidays.country_holidays("GB", subdiv="ENG")


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _bank_holidays()


def add_working_days(day: date, n: int) -> date:
    """The nth working day after `day` (n >= 0; 0 gives `day` itself)."""
    found = day
    while n > 0:
        found += timedelta(days=1)
        if is_working_day(found):
            n -= 1
    return found


def uk_date(moment: datetime) -> date:
    """The day a moment falls on in the UK: a PEP submitted at 00:30 BST on a Tuesday was submitted on Tuesday."""
    return moment.astimezone(UK).date()


def within_working_days(start: date, moment: datetime, n: int) -> bool:
    """Whether `moment` falls no later than the nth working day after `start` (UK time); earlier is within."""
    return uk_date(moment) <= add_working_days(start, n)


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or the month's last day when it has no such day (31 January + 1: 28 or 29
    February)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = (date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month + 1, min(day.day, last))


def add_period(start: date, amount: int, unit: str, term_periods: Sequence[tuple[date, date]] = (),
               inset_days: Collection[date] = ()) -> date | None:
    """The day `amount` `unit`s after `start` (amount >= 0), counted as an LA's timescale rules count
    (delegation's engine, services/delegation/domain/timescales.py Calendar.add; a test holds the two equal):
    working_days; school_days (working days inside the term periods, not INSET days; None when the count runs
    past the last period); weeks and months are calendar ones, moved on to the next working day."""
    if unit in ("weeks", "months"):
        day = add_months(start, amount) if unit == "months" else start + timedelta(weeks=amount)
        while not is_working_day(day):
            day += timedelta(days=1)
        return day
    if unit == "working_days":
        return add_working_days(start, amount)
    if unit != "school_days":
        raise ValueError(f"unknown unit {unit!r}")
    periods = sorted(term_periods)
    day, left = start, amount
    while left:
        day += timedelta(days=1)
        if not periods or not periods[0][0] <= day <= periods[-1][1]:
            return None
        if is_working_day(day) and day not in inset_days and any(a <= day <= b for a, b in periods):
            left -= 1
    return day
