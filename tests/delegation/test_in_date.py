"""The in-date figure's own parts (services/delegation/domain/in_date.py), against dates worked out by hand: who is
counted on a day, the days the trend is counted on, and the reasons a child is not in date. And the one count of
an LA's rule other services make (shared.workdays.add_period, which qa counts its QA timescale with) agrees with
delegation's engine, day by day, for every unit.

The LA's year: Autumn 2026 2 Sep - 18 Dec (deadline Fri 11 Dec), Spring 2027 5 Jan - 25 Mar (deadline Fri 19 Mar),
Summer 2027 12 Apr - 21 Jul (deadline Fri 9 Jul)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from services.delegation.domain.clocks import ChildFacts, PepFacts
from services.delegation.domain.in_date import (
    Counted,
    academic_year_start,
    figure,
    in_care_on,
    overdue,
    percent,
    trend_days,
    trend_note,
)
from services.delegation.domain.timescales import Calendar, TermlyDeadline, TermPeriod, Timescales
from shared.workdays import add_months, add_period

TERMS = (
    TermPeriod("Autumn 2026", date(2026, 9, 2), date(2026, 10, 23)),
    TermPeriod("Autumn 2026", date(2026, 11, 2), date(2026, 12, 18)),
    TermPeriod("Spring 2027", date(2027, 1, 5), date(2027, 2, 12)),
    TermPeriod("Spring 2027", date(2027, 2, 22), date(2027, 3, 25)),
    TermPeriod("Summer 2027", date(2027, 4, 12), date(2027, 5, 28)),
    TermPeriod("Summer 2027", date(2027, 6, 7), date(2027, 7, 21)),
)
LA = Timescales(version=3, term_periods=TERMS, term_dates_version=2, termly_deadlines_version=3,
                termly_deadlines=(TermlyDeadline("Autumn 2026", date(2026, 12, 11)),
                                  TermlyDeadline("Spring 2027", date(2027, 3, 19)),
                                  TermlyDeadline("Summer 2027", date(2027, 7, 9))),
                inset_days=frozenset({date(2026, 11, 2), date(2027, 1, 5)}))
LA_ID = uuid.uuid4()


def child(**facts: object) -> ChildFacts:
    base: dict[str, object] = {"child_id": uuid.uuid4(), "la_id": LA_ID, "in_care": True,
                               "date_of_birth": date(2015, 6, 1), "date_entered_care": date(2024, 1, 8)}
    return ChildFacts(**{**base, **facts})  # type: ignore[arg-type]


def pep(meeting: date | None, status: str = "finalised") -> PepFacts:
    return PepFacts(pep_id=uuid.uuid4(), status=status, kind="termly_review", meeting_date=meeting,
                    submitted_on=None, started_at=datetime(2026, 9, 1, tzinfo=UTC))


def test_trend_is_each_term_so_far_as_of_its_end_and_today_for_the_current_term() -> None:
    # 3 February 2027 is in Spring 2027: Autumn as of its last day, Spring as of today; Summer not started.
    assert trend_days(LA, date(2027, 2, 3)) == [("Autumn 2026", date(2026, 12, 18), False),
                                                 ("Spring 2027", date(2027, 2, 3), True)]
    # In the Easter holidays no term is current: the terms so far, then today.
    assert trend_days(LA, date(2027, 4, 1)) == [("Autumn 2026", date(2026, 12, 18), False),
                                                 ("Spring 2027", date(2027, 3, 25), False),
                                                 ("Today", date(2027, 4, 1), True)]
    # Half-term (26 October 2026) is inside Autumn 2026, which runs 2 September to 18 December.
    assert trend_days(LA, date(2026, 10, 26)) == [("Autumn 2026", date(2026, 10, 26), True)]
    # A new academic year (1 September 2027) has no terms yet; without term dates there is no trend.
    assert trend_days(LA, date(2027, 9, 1)) == []
    assert trend_days(Timescales(), date(2027, 2, 3)) == []
    # Why there is none, in words: the LA's year has not started, or it has no term dates for it.
    assert trend_note(LA, date(2026, 9, 1)) == "No term of this academic year has started yet"
    assert trend_note(LA, date(2027, 9, 1)).startswith("The LA has no term dates for this academic year")
    assert trend_note(Timescales(), date(2027, 2, 3)).startswith("The LA has no term dates")
    assert trend_note(LA, date(2027, 2, 3)) is None
    assert academic_year_start(date(2027, 8, 31)) == date(2026, 9, 1)
    assert academic_year_start(date(2027, 9, 1)) == date(2027, 9, 1)


def test_a_child_counts_from_the_day_they_entered_care() -> None:
    kid = child(date_entered_care=date(2026, 11, 16))
    assert not in_care_on(kid, date(2026, 11, 15)) and in_care_on(kid, date(2026, 11, 16))
    assert not in_care_on(child(in_care=False), date(2026, 11, 16))
    assert in_care_on(child(date_entered_care=None), date(2000, 1, 1))


def test_figure_counts_children_in_care_on_the_day_and_those_in_date() -> None:
    # Entered care Mon 16 Nov 2026 (planned): the initial PEP is due 20 working days later, Mon 14 Dec 2026
    # (Nov 17-20: 4, 23-27: 9, Nov 30-Dec 4: 14, 7-11: 19, Mon 14: 20).
    late = Counted(child(date_entered_care=date(2026, 11, 16)), [])
    met = Counted(child(date_entered_care=date(2026, 11, 16)), [pep(date(2026, 12, 10))])
    # In care since 2024, met Autumn's deadline with a meeting on 1 December 2026.
    settled = Counted(child(), [pep(date(2026, 12, 1))])
    not_yet = Counted(child(date_entered_care=date(2027, 1, 6)), [])
    everyone = [late, met, settled, not_yet]
    assert figure(everyone, LA, date(2026, 12, 14)) == (3, 3)  # due today, not yet overdue
    assert figure(everyone, LA, date(2026, 12, 15)) == (3, 2)  # `late` is overdue from the day after
    # The meeting on 10 December is not counted as held on 9 December: the figure asked of a past day.
    assert figure([met], LA, date(2026, 12, 9)) == (1, 1)
    assert figure(everyone, LA, date(2027, 1, 6)) == (4, 3)
    assert percent(3, 4) == 75.0 and percent(2, 3) == 66.7 and percent(0, 0) is None


def test_the_reasons_are_the_overdue_pep_clocks_with_their_rules() -> None:
    kid = child(date_entered_care=date(2026, 11, 16))
    why = overdue(kid, [], LA, date(2026, 12, 15))
    assert [(c.key, c.due) for c in why] == [("initial_pep", date(2026, 12, 14))]
    assert "20 working days after entering care on 16 November 2026" in why[0].explanation
    # A submitted PEP waiting past the QA timescale is the Virtual School's clock: never a reason here.
    waiting = PepFacts(pep_id=uuid.uuid4(), status="submitted", kind="termly_review",
                       meeting_date=date(2026, 12, 1), submitted_on=date(2026, 12, 2),
                       started_at=datetime(2026, 11, 20, tzinfo=UTC))
    assert overdue(child(), [waiting], LA, date(2027, 1, 29)) == []


@pytest.mark.parametrize("unit,amounts", [("working_days", (0, 1, 5, 10, 20)), ("school_days", (1, 5, 10, 20)),
                                          ("weeks", (1, 4, 6)), ("months", (1, 6))])
def test_other_services_count_an_las_rule_as_delegations_engine_does(unit: str, amounts: tuple[int, ...]) -> None:
    calendar = Calendar.of(LA)
    periods = [(p.start, p.end) for p in TERMS]
    day = date(2026, 8, 20)
    while day < date(2027, 8, 1):
        for amount in amounts:
            try:
                want: date | None = calendar.add(day, amount, unit)  # type: ignore[arg-type]
            except ValueError:  # TermDatesMissing: school days past the term dates
                want = None
            assert add_period(day, amount, unit, periods, LA.inset_days) == want, (day, amount, unit)
        day += timedelta(days=3)
    # By hand: 10 school days after Fri 18 Dec 2026 skip the holidays and the INSET day on Tue 5 Jan 2027:
    # Wed 6 (1), Thu 7, Fri 8, Mon 11, Tue 12, Wed 13, Thu 14, Fri 15, Mon 18, Tue 19 Jan (10).
    assert add_period(date(2026, 12, 18), 10, "school_days", periods, LA.inset_days) == date(2027, 1, 19)
    assert add_months(date(2027, 1, 31), 1) == date(2027, 2, 28) and add_months(date(2026, 12, 5), 1) == date(
        2027, 1, 5)
