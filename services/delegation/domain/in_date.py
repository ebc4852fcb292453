"""The "in date" figure: of an LA's children in care, how many have a PEP in date (none of their PEP clocks
overdue: domain/clocks.py's `in_date`), as a whole, per group (setting, social worker, QA caseworker), and as of
the end of each of the LA's terms this academic year so far (today for the current term). Nothing here does I/O.

    counted = [Counted(child, peps, groups) for ...]   # each child in care with their PEPs
    figure(counted, config, today)                     # (children, in date)
    trend_days(config, today)                          # [("Autumn 2026", date(2026, 12, 18), False), ...]
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from services.delegation.domain.clocks import PEP_CLOCKS, ChildFacts, Clock, PepFacts, clocks, in_date
from services.delegation.domain.timescales import Calendar, Timescales, terms

ACADEMIC_YEAR_STARTS = (9, 1)  # 1 September


@dataclass(frozen=True)
class Counted:
    """A child in care now, their PEPs, and the groups they count in (group name -> id, None for none)."""

    child: ChildFacts
    peps: list[PepFacts]
    groups: dict[str, uuid.UUID | None] = field(default_factory=dict)


def percent(in_date_count: int, children: int) -> float | None:
    return round(100 * in_date_count / children, 1) if children else None


def in_care_on(child: ChildFacts, on: date) -> bool:
    """In care on a day, as far as the read model can tell: in care now, and not yet entered care after that day.
    (A child who has left care since is no longer counted on any day: delegation does not keep when they left.)"""
    return child.in_care and (child.date_entered_care is None or child.date_entered_care <= on)


def overdue(child: ChildFacts, peps: list[PepFacts], config: Timescales, today: date) -> list[Clock]:
    """Why a child's PEP is not in date today: each of their PEP clocks that is overdue."""
    return [c for c in clocks(child, peps, config, today) if c.state == "overdue" and c.key in PEP_CLOCKS]


def figure(counted: Iterable[Counted], config: Timescales, on: date) -> tuple[int, int]:
    """(children in care on `on`, of those in date on `on`)."""
    children = in_date_count = 0
    for c in counted:
        if not in_care_on(c.child, on):
            continue
        children += 1
        in_date_count += in_date(c.child, c.peps, config, on)
    return children, in_date_count


def academic_year_start(today: date) -> date:
    month, day = ACADEMIC_YEAR_STARTS
    return date(today.year if (today.month, today.day) >= (month, day) else today.year - 1, month, day)


def trend_note(config: Timescales, today: date) -> str | None:
    """Why there is no trend on `today`, in words (None when there is one)."""
    if trend_days(config, today):
        return None
    start = academic_year_start(today)
    if any(t.end >= start for t in terms(Calendar.of(config))):
        return "No term of this academic year has started yet"
    return ("The LA has no term dates for this academic year: add them on the timescales page to see the figure "
            "term by term")


def trend_days(config: Timescales, today: date) -> list[tuple[str, date, bool]]:
    """The days the trend is counted on: each of the LA's terms this academic year that has started, as of its
    last day (today for the term today is in), and today outside term time. Empty without term dates."""
    start = academic_year_start(today)
    end = date(start.year + 1, start.month, start.day)
    out: list[tuple[str, date, bool]] = []
    for term in terms(Calendar.of(config)):
        if term.end < start or term.start >= end or term.start > today:
            continue
        current = term.start <= today <= term.end
        out.append((term.name, today if current else term.end, current))
    if out and not any(current for _, _, current in out):
        out.append(("Today", today, True))
    return out
