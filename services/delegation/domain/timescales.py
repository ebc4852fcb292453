"""The timescale engine: when each step of a PEP is due, by the LA's rules, and why.

Working days are Monday to Friday except England and Wales bank holidays (from the maintained `holidays`
library, so a new or moved bank holiday arrives with a package upgrade, not a code change). School days are
working days inside the LA's term periods, except its INSET days: half-terms and holidays are the gaps between
periods. Every rule is a named piece of the LA's configuration with a default; each remembers the configuration
version that last set it, so a deadline can say which rule set it and how. Nothing here does I/O.

    config = Timescales()                      # the national defaults; an LA's saved version in practice
    due = deadlines(config, meeting=date(2027, 3, 3))
    due["delegate"].due                        # date(2027, 2, 17)
    due["delegate"].explanation                # "10 working days before the meeting on 3 March 2027 (default …)"
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any, Literal

import holidays

Unit = Literal["working_days", "school_days", "weeks", "months"]
Placement = Literal["planned", "emergency"]
UNIT_WORDS: dict[str, tuple[str, str]] = {"working_days": ("working day", "working days"),
                                          "school_days": ("school day", "school days"), "weeks": ("week", "weeks"),
                                          "months": ("month", "months")}
# What each rule counts from, in words (RuleSpec.event).
Event = Literal["meeting", "entered_care", "change", "last_meeting", "submission", "due_date"]
EVENT_WORDS: dict[str, str] = {"meeting": "the meeting", "entered_care": "entering care",
                               "change": "a change of school or placement", "last_meeting": "the last PEP meeting",
                               "submission": "the PEP is submitted", "due_date": "a PEP deadline"}


@dataclass(frozen=True)
class Rule:
    """`amount` `unit`s from an event; `version` is the LA configuration version that set it (0: the default)."""

    amount: int
    unit: Unit
    version: int = 0

    def words(self) -> str:
        one, many = UNIT_WORDS[self.unit]
        return f"{self.amount} {one if self.amount == 1 else many}"


@dataclass(frozen=True)
class RuleSpec:
    label: str  # what is due, as a person reads it
    before: bool  # counted back from the event, not forward
    event: Event
    default: Rule

    @property
    def counts(self) -> str:
        """What the rule counts from, in words: 'before the meeting', 'after entering care'."""
        return f"{'before' if self.before else 'after'} {EVENT_WORDS[self.event]}"


# The order here is the order deadlines are shown in.
RULES: dict[str, RuleSpec] = {
    "initial_pep": RuleSpec("Initial PEP in place", False, "entered_care", Rule(20, "working_days")),
    "initial_pep_emergency": RuleSpec("Initial PEP in place (emergency placement)", False, "entered_care",
                                      Rule(10, "working_days")),
    "delegate": RuleSpec("Delegate sections to the Designated Teacher", True, "meeting", Rule(10, "working_days")),
    "dt_return": RuleSpec("Designated Teacher returns the PEP", False, "meeting", Rule(10, "working_days")),
    "vs_review": RuleSpec("Virtual School review (QA)", False, "meeting", Rule(4, "weeks")),
    "approver": RuleSpec("Approval", False, "meeting", Rule(6, "weeks")),
    "finalise": RuleSpec("Social worker finalises the PEP", False, "meeting", Rule(8, "weeks")),
    # The PEP clocks (domain/clocks.py, issue 18):
    "review_after_change": RuleSpec("PEP review after a change of school or placement", False, "change",
                                    Rule(10, "working_days")),
    "post16_review": RuleSpec("Post-16 PEP review (from the 16th birthday, instead of termly)", False,
                              "last_meeting", Rule(6, "months")),
    "qa_review": RuleSpec("Virtual School quality check of a submitted PEP", False, "submission",
                          Rule(10, "working_days")),
    "due_soon": RuleSpec("A PEP deadline shows as due soon", True, "due_date", Rule(5, "working_days")),
    "escalate_after": RuleSpec("An overdue PEP is escalated to the Virtual School", False, "due_date",
                               Rule(10, "working_days")),
}
DEFAULT_RULES: dict[str, Rule] = {name: spec.default for name, spec in RULES.items()}
TERM_RULES = {"termly_deadline": "The LA's termly deadline", "next_pep": "Next PEP meeting"}
LABELS = {**{name: spec.label for name, spec in RULES.items()}, **TERM_RULES}


@dataclass(frozen=True)
class TermPeriod:
    """A stretch of school days. A term is its consecutive periods with the same name (the half-terms of
    'Autumn 2026'); the gaps between periods are holidays and half-terms."""

    term: str
    start: date
    end: date


@dataclass(frozen=True)
class TermlyDeadline:
    term: str
    due: date


@dataclass(frozen=True)
class Timescales:
    """One version of an LA's timescale configuration."""

    version: int = 0
    rules: Mapping[str, Rule] = field(default_factory=lambda: dict(DEFAULT_RULES))
    term_periods: tuple[TermPeriod, ...] = ()
    inset_days: frozenset[date] = frozenset()
    termly_deadlines: tuple[TermlyDeadline, ...] = ()
    term_dates_version: int = 0  # the version that last changed the term periods or INSET days
    termly_deadlines_version: int = 0

    def rule(self, name: str) -> Rule:
        return self.rules.get(name, DEFAULT_RULES[name])


@dataclass(frozen=True)
class Deadline:
    """A computed deadline: `due` is None when it cannot be worked out (the explanation says why)."""

    key: str
    label: str
    due: date | None
    rule: str
    rule_version: int
    explanation: str


class TermDatesMissing(ValueError):
    """School days were needed beyond the term dates the LA has given."""


def long_date(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def add_months(day: date, months: int) -> date:
    """The same day `months` later (earlier when negative), or the month's last day when it has no such day."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    last = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, min(day.day, last))


def calendar_offset(start: date, amount: int, unit: Unit) -> date:
    """`amount` calendar weeks or months from `start`, before any move to a working day."""
    return add_months(start, amount) if unit == "months" else start + timedelta(weeks=amount)


@functools.lru_cache(maxsize=1)
def _bank_holidays() -> holidays.HolidayBase:
    # England and Wales share their bank holidays; the object adds years as they are asked about.
    return holidays.country_holidays("GB", subdiv="ENG")


def bank_holiday(day: date) -> str | None:
    """The bank holiday's name (England and Wales), or None."""
    name = _bank_holidays().get(day)
    return str(name) if name else None


class Calendar:
    """Working-day and school-day arithmetic for one LA."""

    def __init__(self, term_periods: Iterable[TermPeriod] = (), inset_days: Iterable[date] = ()) -> None:
        self.term_periods = tuple(sorted(term_periods, key=lambda p: p.start))
        self.inset_days = frozenset(inset_days)

    @classmethod
    def of(cls, config: Timescales) -> Calendar:
        return cls(config.term_periods, config.inset_days)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and bank_holiday(day) is None

    def in_term(self, day: date) -> bool:
        return any(p.start <= day <= p.end for p in self.term_periods)

    def is_school_day(self, day: date) -> bool:
        return self.is_working_day(day) and self.in_term(day) and day not in self.inset_days

    def why_not_working(self, day: date) -> str:
        """Why a day is not a working day, for explanations: 'a Saturday', 'Easter Monday'."""
        name = bank_holiday(day)
        if name:
            return f"{name}, a bank holiday"
        return f"a {day:%A}"

    def add(self, start: date, amount: int, unit: Unit) -> date:
        """`amount` units after `start` (before it when negative); the start day itself is not counted.
        Weeks and months are calendar ones (a month from 31 January is the last day of February); one that lands
        on another day moves to the next working day, or for a deadline before the event to the working day
        before, so it never gives less time than the rule says."""
        if unit in ("weeks", "months"):
            day = calendar_offset(start, amount, unit)
            while not self.is_working_day(day):
                day += timedelta(days=1 if amount >= 0 else -1)
            return day
        counts = self.is_working_day if unit == "working_days" else self._checked_school_day
        step = timedelta(days=1 if amount >= 0 else -1)
        day, left = start, abs(amount)
        while left:
            day += step
            if counts(day):
                left -= 1
        return day

    def _checked_school_day(self, day: date) -> bool:
        if not self.term_periods or not (self.term_periods[0].start <= day <= self.term_periods[-1].end):
            covered = (f"run from {long_date(self.term_periods[0].start)} to {long_date(self.term_periods[-1].end)}"
                       if self.term_periods else "are not set")
            raise TermDatesMissing(f"school days cannot be counted to {long_date(day)}: the LA's term dates {covered}")
        return self.is_school_day(day)


@dataclass(frozen=True)
class Term:
    name: str
    start: date
    end: date
    teaching_weeks: tuple[date, ...]  # the Monday of each week with at least one school day of this term


def terms(calendar: Calendar) -> list[Term]:
    """The LA's terms in order: consecutive periods with the same name make one term."""
    return list(_terms(calendar.term_periods, calendar.inset_days))


@functools.lru_cache(maxsize=64)
def _terms(term_periods: tuple[TermPeriod, ...], inset_days: frozenset[date]) -> tuple[Term, ...]:
    # Kept per LA's term dates: every child's termly clock asks (a prompt tick, for every child in care), and
    # walking three years of term days for each of 10,000 children took 14 s.
    calendar = Calendar(term_periods, inset_days)
    groups: list[list[TermPeriod]] = []
    for period in calendar.term_periods:
        if groups and groups[-1][-1].term == period.term:
            groups[-1].append(period)
        else:
            groups.append([period])
    out = []
    for group in groups:
        mondays: set[date] = set()
        for period in group:
            day = period.start
            while day <= period.end:
                if calendar.is_school_day(day):
                    mondays.add(day - timedelta(days=day.weekday()))
                day += timedelta(days=1)
        out.append(Term(group[0].term, group[0].start, group[-1].end, tuple(sorted(mondays))))
    return tuple(out)


def rule_source(rule: str, version: int) -> str:
    """Which rule set a date, in words: "default rule 'x'" or "LA rule 'x', version 3"."""
    return f"default rule '{rule}'" if version == 0 else f"LA rule '{rule}', version {version}"


def offset_deadline(config: Timescales, calendar: Calendar, name: str, event_day: date,
                     counts: str | None = None) -> Deadline:
    """`counts`: the event in words when the rule's own are too general ('after the change of school')."""
    spec, rule = RULES[name], config.rule(name)
    when = f"{rule.words()} {counts or spec.counts} on {long_date(event_day)}"
    source = rule_source(name, rule.version)
    try:
        due = calendar.add(event_day, -rule.amount if spec.before else rule.amount, rule.unit)
    except TermDatesMissing as exc:
        return Deadline(name, spec.label, None, name, rule.version, f"{when}, but {exc} ({source})")
    if rule.unit in ("weeks", "months"):
        landed = calendar_offset(event_day, -rule.amount if spec.before else rule.amount, rule.unit)
        if landed != due:
            when += (f" is {long_date(landed)}, {calendar.why_not_working(landed)}, "
                     f"so the {'working day before' if spec.before else 'next working day'}")
    return Deadline(name, spec.label, due, name, rule.version, f"{when} ({source})")


def _term_of(all_terms: list[Term], day: date) -> tuple[int, bool]:
    """The index of the term a day falls in (True), or of the next term when it is outside term time (False);
    len(all_terms) when no term is left."""
    for index, term in enumerate(all_terms):
        if term.start <= day <= term.end:
            return index, True
        if day < term.start:
            return index, False
    return len(all_terms), False


def _week_of_term(term: Term, day: date) -> int:
    monday = day - timedelta(days=day.weekday())
    return max(1, sum(1 for week in term.teaching_weeks if week <= monday))


def _termly_deadline(config: Timescales, all_terms: list[Term], meeting: date) -> Deadline:
    name, version = "termly_deadline", config.termly_deadlines_version
    label, source = LABELS[name], rule_source(name, version)
    index, inside = _term_of(all_terms, meeting)
    if index == len(all_terms):
        return Deadline(name, label, None, name, version, f"The LA has no term dates for the meeting on "
                        f"{long_date(meeting)}, so there is no termly deadline ({source})")
    term = all_terms[index]
    due = next((d.due for d in config.termly_deadlines if d.term == term.name), None)
    which = "the term of" if inside else "the first term after"
    if due is None:
        return Deadline(name, label, None, name, version, f"The LA has set no deadline date for {term.name}, the "
                        f"term of the meeting on {long_date(meeting)} ({source})")
    return Deadline(name, label, due, name, version, f"The LA's deadline for {term.name}, {which} the "
                    f"meeting on {long_date(meeting)} ({source})")


def _next_pep(config: Timescales, calendar: Calendar, all_terms: list[Term], meeting: date) -> Deadline:
    name, version = "next_pep", config.term_dates_version
    label, source = LABELS[name], rule_source(name, version)
    index, inside = _term_of(all_terms, meeting)
    if inside:
        week = _week_of_term(all_terms[index], meeting)
        why = f"in week {week} of {all_terms[index].name}"
    else:
        # A meeting in the holidays counts for the term that follows it, as its first week.
        week = 1
        why = "outside term time, so counted as week 1 of the term after it"
    following = index + 1
    if following >= len(all_terms):
        return Deadline(name, label, None, name, version, f"The meeting on {long_date(meeting)} is {why}, and "
                        f"the LA has no term dates for the term after, so the next PEP cannot be dated yet ({source})")
    term = all_terms[following]
    if not term.teaching_weeks:
        return Deadline(name, label, None, name, version, f"{term.name} has no school days ({source})")
    target_week = min(week, len(term.teaching_weeks))
    monday = term.teaching_weeks[target_week - 1]
    same_day = monday + timedelta(days=min(meeting.weekday(), 4))
    week_days = [monday + timedelta(days=n) for n in range(5)]
    school = [d for d in week_days if calendar.is_school_day(d) and term.start <= d <= term.end]
    due = next((d for d in school if d >= same_day), school[-1])
    shortened = "" if target_week == week else f" ({term.name} has only {len(term.teaching_weeks)} weeks)"
    moved = "" if due == same_day else f", on {long_date(due)} as {long_date(same_day)} is not a school day"
    return Deadline(name, label, due, name, version, f"Week {target_week} of {term.name}{shortened}{moved}: the same "
                    f"week of term as the meeting on {long_date(meeting)}, which is {why} ({source})")


def deadlines(config: Timescales, *, meeting: date | None = None, entered_care: date | None = None,
              placement: Placement = "planned", moved_on: date | None = None,
              submitted_on: date | None = None, post16: bool = False) -> dict[str, Deadline]:
    """Every deadline that follows from the dates given, keyed by rule, in the order to show them.

    `entered_care` gives the initial PEP's deadline (the emergency rule for an emergency placement);
    `meeting` gives the delegation, the return and sign-off steps, the termly deadline, the next PEP and, with
    `post16` (a young person of 16 or over), the next Post-16 review; `moved_on` the review after a change of
    school or placement; `submitted_on` the Virtual School's quality check."""
    calendar = Calendar.of(config)
    out: dict[str, Deadline] = {}
    if entered_care is not None:
        name = "initial_pep_emergency" if placement == "emergency" else "initial_pep"
        out["initial_pep"] = replace(offset_deadline(config, calendar, name, entered_care), key="initial_pep")
    if moved_on is not None:
        out["review_after_change"] = offset_deadline(config, calendar, "review_after_change", moved_on)
    if meeting is not None:
        for name in ("delegate", "dt_return", "vs_review", "approver", "finalise"):
            out[name] = offset_deadline(config, calendar, name, meeting)
        all_terms = terms(calendar)
        out["termly_deadline"] = _termly_deadline(config, all_terms, meeting)
        out["next_pep"] = _next_pep(config, calendar, all_terms, meeting)
        if post16:
            out["post16_review"] = offset_deadline(config, calendar, "post16_review", meeting)
    if submitted_on is not None:
        out["qa_review"] = offset_deadline(config, calendar, "qa_review", submitted_on)
    return out


@dataclass(frozen=True)
class Change:
    field: str
    before: str
    after: str


def _period_words(p: TermPeriod) -> str:
    return f"{p.term}: {long_date(p.start)} to {long_date(p.end)}"


def _list_change(name: str, before: Iterable[str], after: Iterable[str]) -> list[Change]:
    old, new = list(before), list(after)
    removed, added = [x for x in old if x not in new], [x for x in new if x not in old]
    if not removed and not added:
        return []
    return [Change(name, "; ".join(removed) or "(nothing removed)", "; ".join(added) or "(nothing added)")]


def changes(old: Timescales, new: Timescales) -> list[Change]:
    """What a new version changes, in words: each rule whose number or unit changed, and the term periods, INSET
    days and termly deadline dates removed (before) and added (after)."""
    out = []
    for name in RULES:
        a, b = old.rule(name), new.rule(name)
        if (a.amount, a.unit) != (b.amount, b.unit):
            out.append(Change(f"rules.{name}", a.words(), b.words()))
    out += _list_change("term_periods", map(_period_words, old.term_periods), map(_period_words, new.term_periods))
    out += _list_change("inset_days", map(long_date, sorted(old.inset_days)), map(long_date, sorted(new.inset_days)))
    out += _list_change("termly_deadlines", (f"{d.term}: {long_date(d.due)}" for d in old.termly_deadlines),
                        (f"{d.term}: {long_date(d.due)}" for d in new.termly_deadlines))
    return out


def next_version(current: Timescales, edited: Timescales) -> Timescales:
    """The edited configuration as the version after `current`: a rule keeps the version that set it unless its
    number or unit changes now, and so do the term dates and the termly deadline dates."""
    version = current.version + 1
    rules = {}
    for name in RULES:
        old, new = current.rule(name), edited.rule(name)
        same = (old.amount, old.unit) == (new.amount, new.unit)
        rules[name] = old if same else Rule(new.amount, new.unit, version)
    same_terms = (current.term_periods, current.inset_days) == (edited.term_periods, edited.inset_days)
    same_deadlines = current.termly_deadlines == edited.termly_deadlines
    return Timescales(version=version, rules=rules, term_periods=edited.term_periods, inset_days=edited.inset_days,
                      termly_deadlines=edited.termly_deadlines,
                      term_dates_version=current.term_dates_version if same_terms else version,
                      termly_deadlines_version=current.termly_deadlines_version if same_deadlines else version)


def to_json(config: Timescales) -> dict[str, Any]:
    """The configuration as stored (a JSON document per version)."""
    return {"version": config.version,
            "rules": {n: {"amount": r.amount, "unit": r.unit, "version": r.version} for n, r in config.rules.items()},
            "term_periods": [{"term": p.term, "start": p.start.isoformat(), "end": p.end.isoformat()}
                             for p in config.term_periods],
            "inset_days": [d.isoformat() for d in sorted(config.inset_days)],
            "termly_deadlines": [{"term": d.term, "due": d.due.isoformat()} for d in config.termly_deadlines],
            "term_dates_version": config.term_dates_version,
            "termly_deadlines_version": config.termly_deadlines_version}


def from_json(doc: Mapping[str, Any]) -> Timescales:
    rules = {n: Rule(int(r["amount"]), r["unit"], int(r.get("version", 0))) for n, r in doc.get("rules", {}).items()
             if n in RULES}
    return Timescales(
        version=int(doc.get("version", 0)), rules={**DEFAULT_RULES, **rules},
        term_periods=tuple(TermPeriod(p["term"], date.fromisoformat(p["start"]), date.fromisoformat(p["end"]))
                           for p in doc.get("term_periods", [])),
        inset_days=frozenset(date.fromisoformat(d) for d in doc.get("inset_days", [])),
        termly_deadlines=tuple(TermlyDeadline(d["term"], date.fromisoformat(d["due"]))
                               for d in doc.get("termly_deadlines", [])),
        term_dates_version=int(doc.get("term_dates_version", 0)),
        termly_deadlines_version=int(doc.get("termly_deadlines_version", 0)))
