"""How emails say things: times in UK local time and roles in words. Pure functions, no I/O."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")

# Spelled out here rather than taken from strftime, which follows the process's locale.
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")

ROLES = {
    "vs_admin": "Virtual School administrator",
    "vs_caseworker": "Virtual School caseworker",
    "vs_approver": "Virtual School approver",
    "social_worker": "social worker",
    "iro": "Independent Reviewing Officer",
    "designated_teacher": "Designated Teacher",
    "setting_staff": "member of staff",
    "carer": "carer",
}


def london_time(moment: datetime) -> str:
    """An instant as people in England read it, GOV.UK style: "Monday 7 December 2026 at 4:30pm".

    On the hour it is "4pm"; 12:00 is "midday". 00:00 is written as midnight at the end of the day
    before ("Sunday 6 December 2026 at midnight"), because "Monday at midnight" is read as the end of
    Monday, and a deadline read a day late is the mistake that matters.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("an aware datetime is needed: a naive one has no place on the clock")
    local = moment.astimezone(LONDON)
    if (local.hour, local.minute) == (0, 0):
        return f"{_date(local - timedelta(days=1))} at midnight"
    if (local.hour, local.minute) == (12, 0):
        return f"{_date(local)} at midday"
    hour = local.hour % 12 or 12
    minutes = f":{local.minute:02d}" if local.minute else ""
    return f"{_date(local)} at {hour}{minutes}{'am' if local.hour < 12 else 'pm'}"


def _date(local: datetime) -> str:
    return f"{_DAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]} {local.year}"


def role_in_words(role: str) -> str:
    """The role with its article, to follow "as": "a social worker", "an Independent Reviewing Officer".

    A role this service does not know yet (contracts grow additively) is still said, if less nicely.
    """
    words = ROLES.get(role, role.replace("_", " "))
    article = "an" if words[:1].lower() in ("a", "e", "i", "o", "u") else "a"
    return f"{article} {words}"


def day_in_words(day: date) -> str:
    """A date GOV.UK style: "Tuesday 1 December 2026"."""
    return f"{_DAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]} {day.year}"
