"""The PEP clocks (issue 18): for one child, every statutory deadline running now, when it is due, whether it is
met, and which of the LA's rules set it. Pure: the caller brings delegation's read models and the LA's timescales.

- initial_pep: an initial PEP meeting within the LA's `initial_pep` rule of entering care (default 20 working
  days), or `initial_pep_emergency` after an emergency placement (default 10);
- review_after_change: a PEP meeting within `review_after_change` of the latest change of school or placement
  (default 10 working days);
- termly_review: a PEP meeting each term by the LA's termly deadline date (until the 16th birthday). A meeting in
  the holidays counts for the term after it. A term missed stays overdue until the next meeting is held; the term a
  child enters care in is the initial PEP's. `booked_late`: the meeting booked (or held) is after the deadline;
- post16_review: from the 16th birthday, instead of termly reviews, a PEP meeting within `post16_review` of the
  last one (default 6 months);
- qa_review: the Virtual School's quality check within `qa_review` of the PEP's submission (default 10 working
  days); it is the Virtual School's clock, not the child's, so `in_date` leaves it out.

A meeting counts as held when its PEP is not cancelled and its date is on or before the day asked about. A clock
not met is due soon from the LA's `due_soon` rule before its date (default 5 working days), and overdue the day
after it; the Virtual School is told `escalate_after` it (default 10 working days).

    found = clocks(ChildFacts.of(child_row), [PepFacts.of(r) for r in pep_rows], config, today)
    [(c.key, c.due, c.state) for c in found]    # [("initial_pep", date(2027, 1, 11), "overdue"), ...]
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from services.delegation.domain.timescales import (
    Calendar,
    Deadline,
    Term,
    TermDatesMissing,
    Timescales,
    long_date,
    offset_deadline,
    rule_source,
    terms,
)

KEYS = ("initial_pep", "review_after_change", "termly_review", "post16_review", "qa_review")
STATES = ("met", "open", "due_soon", "overdue")
# The child's own clocks: those `in_date` counts (QA is the Virtual School's).
PEP_CLOCKS = ("initial_pep", "review_after_change", "termly_review", "post16_review")
LABELS = {"initial_pep": "Initial PEP", "review_after_change": "Review after a change of school or placement",
          "termly_review": "Termly PEP review", "post16_review": "Post-16 PEP review",
          "qa_review": "Virtual School quality check"}
MOVE_LABELS = {"school": "Review after a change of school", "placement": "Review after a change of placement"}
# The QA check is done when the PEP leaves 'submitted' this way (status_on is then the day of the decision).
QA_DECIDED = ("approved", "returned")
QA_PAST = ("approved", "returned", "finalised", "in_progress")


@dataclass(frozen=True)
class ChildFacts:
    """What the clocks need of a child: delegation's `children` row."""

    child_id: uuid.UUID
    la_id: uuid.UUID
    in_care: bool
    date_of_birth: date | None = None
    date_entered_care: date | None = None
    entered_care_emergency: bool = False
    moved_on: date | None = None
    move_kind: str | None = None

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> ChildFacts:
        return cls(child_id=row["id"], la_id=row["la_id"], in_care=bool(row["in_care"]),
                   date_of_birth=row["date_of_birth"], date_entered_care=row["date_entered_care"],
                   entered_care_emergency=bool(row["entered_care_emergency"]), moved_on=row["moved_on"],
                   move_kind=row["move_kind"])


@dataclass(frozen=True)
class PepFacts:
    """What the clocks need of a PEP: delegation's `peps` row. `status_on`: the day of its latest status change."""

    pep_id: uuid.UUID
    status: str
    kind: str
    meeting_date: date | None
    submitted_on: date | None
    started_at: datetime
    status_on: date | None = None

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> PepFacts:
        return cls(pep_id=row["id"], status=row["status"], kind=row["kind"], meeting_date=row["meeting_date"],
                   submitted_on=row["submitted_on"], started_at=row["started_at"], status_on=row.get("status_on"))

    def held_by(self, day: date) -> bool:
        """Its meeting counts as held on `day`."""
        return self.status != "cancelled" and self.meeting_date is not None and self.meeting_date <= day


@dataclass(frozen=True)
class Clock:
    key: str  # initial_pep | review_after_change | termly_review | post16_review | qa_review
    label: str  # as a person reads it
    due: date | None  # None: cannot be dated (the explanation says why)
    state: str  # met | open | due_soon | overdue
    explanation: str  # which rule set it and how
    met_on: date | None = None
    pep_id: uuid.UUID | None = None
    booked_late: bool = False  # termly: the PEP under way meets after the term's deadline
    term: str | None = None  # termly: the term whose deadline it is ("Autumn 2026")


# ---- the LA's prompt and escalation rules ---------------------------------------------------------------------


def _add(config: Timescales, day: date, name: str, sign: int) -> date:
    rule = config.rule(name)
    calendar = Calendar.of(config)
    try:
        return calendar.add(day, sign * rule.amount, rule.unit)
    except TermDatesMissing:
        # School days past the LA's term dates: count working days rather than never prompt.
        return calendar.add(day, sign * rule.amount, "working_days")


def due_soon_from(config: Timescales, due: date) -> date:
    """The first day a clock due on `due` shows as due soon (the LA's `due_soon` rule before it)."""
    return _add(config, due, "due_soon", -1)


def escalates_on(config: Timescales, due: date) -> date:
    """The day the Virtual School is told of a clock still not met (the LA's `escalate_after` rule after it)."""
    return _add(config, due, "escalate_after", 1)


def state_of(config: Timescales, due: date | None, met_on: date | None, met: bool, today: date) -> str:
    if met or met_on is not None:
        return "met"
    if due is None:
        return "open"
    if today > due:
        return "overdue"
    if today >= due_soon_from(config, due):
        return "due_soon"
    return "open"


# ---- each clock -----------------------------------------------------------------------------------------------


def sixteenth_birthday(born: date) -> date:
    try:
        return born.replace(year=born.year + 16)
    except ValueError:  # born on 29 February, 16 in a common year (2100): 1 March
        return date(born.year + 16, 3, 1)


def _first_held(peps: Sequence[PepFacts], since: date, today: date) -> PepFacts | None:
    held = [p for p in peps if p.held_by(today) and p.meeting_date is not None and p.meeting_date >= since]
    return min(held, key=lambda p: p.meeting_date or since, default=None)


def _under_way(peps: Sequence[PepFacts]) -> PepFacts | None:
    """The PEP being written now (the latest started that is neither cancelled nor finalised)."""
    live = [p for p in peps if p.status not in ("cancelled", "finalised")]
    return max(live, key=lambda p: p.started_at, default=None)


def _from_deadline(config: Timescales, key: str, label: str, deadline: Deadline, peps: Sequence[PepFacts],
                   since: date, today: date) -> Clock:
    """A clock met by the first meeting held on or after `since`."""
    first = _first_held(peps, since, today)
    met_on = first.meeting_date if first else None
    explanation = deadline.explanation
    if first is not None and met_on is not None:
        explanation += f"; met by the PEP meeting on {long_date(met_on)}"
    pep = first or _under_way(peps)
    return Clock(key, label, deadline.due, state_of(config, deadline.due, met_on, False, today), explanation,
                 met_on=met_on, pep_id=pep.pep_id if pep else None)


def _initial(config: Timescales, calendar: Calendar, child: ChildFacts, peps: Sequence[PepFacts],
             today: date) -> Clock | None:
    entered = child.date_entered_care
    if entered is None:
        return None
    name = "initial_pep_emergency" if child.entered_care_emergency else "initial_pep"
    how = "by emergency placement" if child.entered_care_emergency else "(a planned placement)"
    deadline = offset_deadline(config, calendar, name, entered)
    deadline = replace(deadline, explanation=deadline.explanation.replace(
        f"on {long_date(entered)}", f"on {long_date(entered)} {how}", 1))
    return _from_deadline(config, "initial_pep", LABELS["initial_pep"], deadline, peps, entered, today)


def _after_change(config: Timescales, calendar: Calendar, child: ChildFacts, peps: Sequence[PepFacts],
                  today: date) -> Clock | None:
    moved = child.moved_on
    if moved is None or (child.date_entered_care is not None and moved <= child.date_entered_care):
        return None  # no change yet, or the placement they entered care into (the initial PEP's)
    what = {"school": "the change of school", "placement": "the change of placement"}.get(
        child.move_kind or "", "the change of school or placement")
    deadline = offset_deadline(config, calendar, "review_after_change", moved, counts=f"after {what}")
    label = MOVE_LABELS.get(child.move_kind or "", LABELS["review_after_change"])
    return _from_deadline(config, "review_after_change", label, deadline, peps, moved, today)


def _window_start(all_terms: Sequence[Term], index: int) -> date:
    """The first day whose meetings count for a term: the day after the term before it ends (a meeting in the
    holidays counts for the term after); for the first term the LA gives, its first day."""
    return all_terms[index - 1].end + timedelta(days=1) if index > 0 else all_terms[0].start


def _termly(config: Timescales, calendar: Calendar, child: ChildFacts, peps: Sequence[PepFacts],
            today: date) -> Clock:
    key, label = "termly_review", LABELS["termly_review"]
    source = rule_source("termly_deadline", config.termly_deadlines_version)
    all_terms = terms(calendar)
    index = next((i for i, t in enumerate(all_terms) if t.end >= today), None)
    if index is None:
        last = f"end on {long_date(all_terms[-1].end)}" if all_terms else "are not set"
        return Clock(key, label, None, "open", f"The LA's term dates {last}, so the termly review cannot be dated "
                     f"({source})", pep_id=_id(_under_way(peps)))
    deadline_of = {d.term: d.due for d in config.termly_deadlines}
    entered = child.date_entered_care

    def counts(i: int) -> bool:  # the term a child enters care in is the initial PEP's
        return entered is None or entered < _window_start(all_terms, i)

    def held_in(i: int) -> PepFacts | None:
        start = _window_start(all_terms, i)
        found = [p for p in peps if p.held_by(today) and p.meeting_date is not None
                 and start <= p.meeting_date <= all_terms[i].end]
        return min(found, key=lambda p: p.meeting_date or start, default=None)

    if index > 0 and counts(index - 1) and held_in(index) is None:
        before = all_terms[index - 1]
        due = deadline_of.get(before.name)
        since = [p for p in peps if p.held_by(today) and p.meeting_date and p.meeting_date > before.end]
        if due is not None and held_in(index - 1) is None and not since:
            # The last term's review was missed and no meeting has been held since: it stays overdue.
            pep = _under_way(peps)
            return Clock(key, label, due, state_of(config, due, None, False, today),
                         f"The LA's deadline for {before.name}; no PEP meeting was held that term ({source})",
                         pep_id=_id(pep), booked_late=pep is not None and pep.meeting_date is not None
                         and pep.meeting_date > due, term=before.name)
    if not counts(index):
        if index + 1 >= len(all_terms):
            return Clock(key, label, None, "open", f"Entered care in {all_terms[index].name} (the initial PEP's "
                         f"term); the LA has no term dates after it ({source})", pep_id=_id(_under_way(peps)),
                         term=all_terms[index].name)
        index += 1
    term = all_terms[index]
    due = deadline_of.get(term.name)
    held = held_in(index)
    if held is not None and held.meeting_date is not None:
        late = due is not None and held.meeting_date > due
        words = (f"The LA's deadline for {term.name} ({source}); met by the PEP meeting on "
                 f"{long_date(held.meeting_date)}" + (", after the deadline" if late else ""))
        return Clock(key, label, due, "met", words, met_on=held.meeting_date, pep_id=held.pep_id, booked_late=late,
                     term=term.name)
    pep = _under_way(peps)
    booked = pep.meeting_date if pep is not None else None
    if due is None:
        return Clock(key, label, None, "open", f"The LA has set no termly deadline date for {term.name} "
                     f"({source})", pep_id=_id(pep), term=term.name)
    late = booked is not None and booked > due
    words = f"The LA's deadline for {term.name} ({source})"
    if late and booked is not None:
        words += f"; the meeting booked for {long_date(booked)} is after it"
    return Clock(key, label, due, state_of(config, due, None, False, today), words, pep_id=_id(pep),
                 booked_late=late, term=term.name)


def _post16(config: Timescales, calendar: Calendar, birthday: date, peps: Sequence[PepFacts],
            today: date) -> Clock:
    held = [p for p in peps if p.held_by(today)]
    last = max(held, key=lambda p: p.meeting_date or date.min, default=None)
    if last is not None and last.meeting_date is not None:
        deadline = offset_deadline(config, calendar, "post16_review", last.meeting_date)
    else:
        deadline = offset_deadline(config, calendar, "post16_review", birthday, counts="after the 16th birthday")
    pep = _under_way(peps)
    return Clock("post16_review", LABELS["post16_review"], deadline.due,
                 state_of(config, deadline.due, None, False, today),
                 f"{deadline.explanation}; Post-16 reviews replace termly ones from the 16th birthday on "
                 f"{long_date(birthday)}", pep_id=_id(pep))


def _qa(config: Timescales, calendar: Calendar, peps: Sequence[PepFacts], today: date) -> Clock | None:
    sent = [p for p in peps if p.submitted_on is not None and p.status != "cancelled"]
    pep = max(sent, key=lambda p: p.started_at, default=None)
    if pep is None or pep.submitted_on is None or pep.submitted_on > today:
        return None
    deadline = offset_deadline(config, calendar, "qa_review", pep.submitted_on)
    if pep.status in QA_PAST:
        met_on = pep.status_on if pep.status in QA_DECIDED else None
        words = deadline.explanation + (f"; checked on {long_date(met_on)}" if met_on else "; checked")
        return Clock("qa_review", LABELS["qa_review"], deadline.due, "met", words, met_on=met_on, pep_id=pep.pep_id)
    return Clock("qa_review", LABELS["qa_review"], deadline.due, state_of(config, deadline.due, None, False, today),
                 deadline.explanation, pep_id=pep.pep_id)


def _id(pep: PepFacts | None) -> uuid.UUID | None:
    return pep.pep_id if pep is not None else None


# ---- the child's clocks ---------------------------------------------------------------------------------------


def clocks(child: ChildFacts, peps: list[PepFacts], config: Timescales, today: date) -> list[Clock]:
    """Every clock running for the child on `today`, in KEYS order; none for a child not in care."""
    if not child.in_care:
        return []
    calendar = Calendar.of(config)
    out = [_initial(config, calendar, child, peps, today), _after_change(config, calendar, child, peps, today)]
    birthday = sixteenth_birthday(child.date_of_birth) if child.date_of_birth else None
    if birthday is not None and today >= birthday:
        out.append(_post16(config, calendar, birthday, peps, today))
    else:
        out.append(_termly(config, calendar, child, peps, today))
    out.append(_qa(config, calendar, peps, today))
    return [c for c in out if c is not None]


def in_date(child: ChildFacts, peps: list[PepFacts], config: Timescales, on: date) -> bool:
    """True when the child is in care on `on` and none of their PEP clocks (all but qa_review) is overdue on `on`,
    counting as held only meetings on or before `on` (so it can be asked of a past day)."""
    if not child.in_care or (child.date_entered_care is not None and child.date_entered_care > on):
        return False
    return not any(c.state == "overdue" for c in clocks(child, peps, config, on) if c.key in PEP_CLOCKS)
