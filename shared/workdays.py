"""Working days: Monday to Friday except England and Wales bank holidays (the maintained `holidays` library, so
a new or moved bank holiday arrives with a package upgrade, not a code change). Small and without I/O, so any
service can count in working days; delegation's timescale engine adds school days and term dates on top."""

from __future__ import annotations

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
