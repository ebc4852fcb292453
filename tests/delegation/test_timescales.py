"""The timescale engine against due dates worked out by hand, day by day, in the comments.

The bank holidays these cross (England and Wales): Fri 25 Dec 2026 Christmas Day, Mon 28 Dec 2026 Boxing Day
(substitute: the 26th is a Saturday), Fri 1 Jan 2027 New Year's Day, Fri 26 Mar 2027 Good Friday, Mon 29 Mar 2027
Easter Monday, Mon 3 May 2027 early May bank holiday, Mon 31 May 2027 spring (late May) bank holiday.
The expected dates are written out here, never computed with the code under test.
"""

from __future__ import annotations

from datetime import date

import pytest

from services.delegation.domain.timescales import (
    DEFAULT_RULES,
    Calendar,
    Rule,
    TermlyDeadline,
    TermPeriod,
    Timescales,
    changes,
    deadlines,
    from_json,
    next_version,
    to_json,
)

# A year of term dates as an LA would give them: each term in two halves, the gaps are holidays and half-terms.
TERMS = (
    TermPeriod("Autumn 2026", date(2026, 9, 2), date(2026, 10, 23)),
    TermPeriod("Autumn 2026", date(2026, 11, 2), date(2026, 12, 18)),
    TermPeriod("Spring 2027", date(2027, 1, 5), date(2027, 2, 12)),  # half-term 15-19 February
    TermPeriod("Spring 2027", date(2027, 2, 22), date(2027, 3, 25)),  # Easter holidays 26 March - 9 April
    TermPeriod("Summer 2027", date(2027, 4, 12), date(2027, 5, 28)),  # half-term 31 May - 4 June
    TermPeriod("Summer 2027", date(2027, 6, 7), date(2027, 7, 21)),
)
DEMO = Timescales(version=3, term_periods=TERMS, term_dates_version=2, termly_deadlines_version=3,
                  termly_deadlines=(TermlyDeadline("Autumn 2026", date(2026, 12, 11)),
                                    TermlyDeadline("Spring 2027", date(2027, 3, 19)),
                                    TermlyDeadline("Summer 2027", date(2027, 7, 9))))


def with_rule(config: Timescales, name: str, rule: Rule) -> Timescales:
    return Timescales(**{**config.__dict__, "rules": {**config.rules, name: rule}})


# --- working days: weekends and bank holidays


def test_delegating_ten_working_days_before_a_meeting_crosses_two_weekends() -> None:
    # Meeting Wed 3 Mar 2027. Back from it: Tue 2 (1), Mon 1 (2), [Sun 28 Feb, Sat 27] Fri 26 (3), Thu 25 (4),
    # Wed 24 (5), Tue 23 (6), Mon 22 (7), [Sun 21, Sat 20] Fri 19 (8), Thu 18 (9), Wed 17 Feb (10).
    due = deadlines(Timescales(), meeting=date(2027, 3, 3))["delegate"]
    assert due.due == date(2027, 2, 17)
    assert due.explanation == "10 working days before the meeting on 3 March 2027 (default rule 'delegate')"
    assert (due.rule, due.rule_version, due.label) == ("delegate", 0, "Delegate sections to the Designated Teacher")


def test_initial_pep_twenty_working_days_across_christmas_and_new_year() -> None:
    # Entered care Mon 14 Dec 2026. Tue 15 (1), Wed 16 (2), Thu 17 (3), Fri 18 (4), Mon 21 (5), Tue 22 (6),
    # Wed 23 (7), Thu 24 (8), [Fri 25 Christmas Day, weekend, Mon 28 Boxing Day substitute] Tue 29 (9), Wed 30 (10),
    # Thu 31 (11), [Fri 1 Jan New Year's Day, weekend] Mon 4 (12), Tue 5 (13), Wed 6 (14), Thu 7 (15), Fri 8 (16),
    # Mon 11 (17), Tue 12 (18), Wed 13 (19), Thu 14 Jan 2027 (20).
    due = deadlines(Timescales(), entered_care=date(2026, 12, 14))["initial_pep"]
    assert due.due == date(2027, 1, 14)
    assert due.explanation == "20 working days after entering care on 14 December 2026 (default rule 'initial_pep')"


def test_emergency_placement_gets_ten_working_days_across_christmas() -> None:
    # Entered care Wed 23 Dec 2026 in an emergency. Thu 24 (1), [Fri 25, Sat 26, Sun 27, Mon 28] Tue 29 (2),
    # Wed 30 (3), Thu 31 (4), [Fri 1 Jan, weekend] Mon 4 (5), Tue 5 (6), Wed 6 (7), Thu 7 (8), Fri 8 (9),
    # [weekend] Mon 11 Jan 2027 (10).
    due = deadlines(Timescales(), entered_care=date(2026, 12, 23), placement="emergency")
    assert list(due) == ["initial_pep"]
    assert due["initial_pep"].due == date(2027, 1, 11)
    assert due["initial_pep"].rule == "initial_pep_emergency"
    assert "(default rule 'initial_pep_emergency')" in due["initial_pep"].explanation


def test_dt_return_across_easter() -> None:
    # Meeting Thu 18 Mar 2027, the DT returns within 10 working days. Fri 19 (1), Mon 22 (2), Tue 23 (3),
    # Wed 24 (4), Thu 25 (5), [Fri 26 Good Friday, weekend, Mon 29 Easter Monday] Tue 30 (6), Wed 31 (7),
    # Thu 1 Apr (8), Fri 2 (9), [weekend] Mon 5 Apr 2027 (10).
    assert deadlines(Timescales(), meeting=date(2027, 3, 18))["dt_return"].due == date(2027, 4, 5)


def test_weeks_that_land_on_easter_monday_move_to_the_next_working_day() -> None:
    # Meeting Mon 1 Mar 2027; 4 weeks later is Mon 29 Mar, Easter Monday, so Tue 30 Mar.
    due = deadlines(Timescales(), meeting=date(2027, 3, 1))["vs_review"]
    assert due.due == date(2027, 3, 30)
    assert due.explanation == ("4 weeks after the meeting on 1 March 2027 is 29 March 2027, Easter Monday, a bank "
                               "holiday, so the next working day (default rule 'vs_review')")


def test_weeks_before_a_meeting_that_land_on_a_bank_holiday_move_earlier() -> None:
    # Delegating 2 weeks before a meeting on Mon 17 May 2027 lands on Mon 3 May, the early May bank holiday; the
    # DT must not get less time, so the working day before: Fri 30 Apr 2027.
    config = with_rule(Timescales(version=4), "delegate", Rule(2, "weeks", version=4))
    due = deadlines(config, meeting=date(2027, 5, 17))["delegate"]
    assert due.due == date(2027, 4, 30)
    assert due.explanation == ("2 weeks before the meeting on 17 May 2027 is 3 May 2027, May Day, a bank holiday, "
                               "so the working day before (LA rule 'delegate', version 4)")


def test_approval_and_finalising_by_weeks_after_the_meeting() -> None:
    # Meeting Wed 3 Mar 2027: + 4 weeks Wed 31 Mar; + 6 weeks Wed 14 Apr; + 8 weeks Wed 28 Apr; none a holiday.
    due = deadlines(Timescales(), meeting=date(2027, 3, 3))
    assert (due["vs_review"].due, due["approver"].due, due["finalise"].due) == (
        date(2027, 3, 31), date(2027, 4, 14), date(2027, 4, 28))


def test_delegating_before_a_meeting_across_the_early_may_bank_holiday() -> None:
    # Meeting Fri 14 May 2027. Back: Thu 13 (1), Wed 12 (2), Tue 11 (3), Mon 10 (4), Fri 7 (5), Thu 6 (6),
    # Wed 5 (7), Tue 4 (8), [Mon 3 May early May bank holiday, weekend] Fri 30 Apr (9), Thu 29 Apr 2027 (10).
    assert deadlines(Timescales(), meeting=date(2027, 5, 14))["delegate"].due == date(2027, 4, 29)


@pytest.mark.parametrize("days,expected", [
    # Meeting Wed 26 May 2027. Thu 27 (1), Fri 28 (2), [weekend, Mon 31 May spring bank holiday] Tue 1 Jun (3),
    # Wed 2 (4), Thu 3 (5), Fri 4 (6), [weekend] Mon 7 (7), Tue 8 (8), Wed 9 (9), Thu 10 Jun 2027 (10).
    (5, date(2027, 6, 3)),
    (7, date(2027, 6, 7)),
    (10, date(2027, 6, 10)),
])
def test_dt_return_in_five_seven_or_ten_working_days_across_the_late_may_bank_holiday(days: int,
                                                                                      expected: date) -> None:
    config = with_rule(Timescales(version=2), "dt_return", Rule(days, "working_days", version=2))
    due = deadlines(config, meeting=date(2027, 5, 26))["dt_return"]
    assert due.due == expected
    assert due.explanation == (f"{days} working days after the meeting on 26 May 2027 (LA rule 'dt_return', "
                               "version 2)")


# --- school days: half-terms, holidays and INSET days


def test_delegating_in_school_days_skips_half_term_and_the_bank_holiday() -> None:
    # Meeting Wed 9 Jun 2027, 10 school days before. Tue 8 (1), Mon 7 (2), [half-term 31 May - 4 June, weekend]
    # Fri 28 May (3), Thu 27 (4), Wed 26 (5), Tue 25 (6), Mon 24 (7), Fri 21 (8), Thu 20 (9), Wed 19 May 2027 (10).
    config = with_rule(DEMO, "delegate", Rule(10, "school_days", version=3))
    due = deadlines(config, meeting=date(2027, 6, 9))["delegate"]
    assert due.due == date(2027, 5, 19)
    assert due.explanation == "10 school days before the meeting on 9 June 2027 (LA rule 'delegate', version 3)"
    # In working days the half-term counts: Tue 8 (1), Mon 7 (2), Fri 4 (3), Thu 3 (4), Wed 2 (5), Tue 1 (6),
    # [Mon 31 May bank holiday, weekend] Fri 28 (7), Thu 27 (8), Wed 26 (9), Tue 25 May 2027 (10).
    assert deadlines(DEMO, meeting=date(2027, 6, 9))["delegate"].due == date(2027, 5, 25)


def test_an_inset_day_is_not_a_school_day() -> None:
    # As above with an INSET day on Fri 21 May: ... Mon 24 (7), [Fri 21 INSET] Thu 20 (8), Wed 19 (9), Tue 18 (10).
    config = with_rule(DEMO, "delegate", Rule(10, "school_days", version=3))
    config = Timescales(**{**config.__dict__, "inset_days": frozenset({date(2027, 5, 21)})})
    assert deadlines(config, meeting=date(2027, 6, 9))["delegate"].due == date(2027, 5, 18)


def test_school_days_after_a_meeting_skip_the_early_may_bank_holiday() -> None:
    # Meeting Wed 28 Apr 2027, 10 school days. Thu 29 (1), Fri 30 (2), [weekend, Mon 3 May bank holiday]
    # Tue 4 (3), Wed 5 (4), Thu 6 (5), Fri 7 (6), Mon 10 (7), Tue 11 (8), Wed 12 (9), Thu 13 May 2027 (10).
    config = with_rule(DEMO, "dt_return", Rule(10, "school_days", version=3))
    assert deadlines(config, meeting=date(2027, 4, 28))["dt_return"].due == date(2027, 5, 13)


def test_school_days_across_the_easter_holidays() -> None:
    # Meeting Mon 22 Mar 2027, 5 school days. Tue 23 (1), Wed 24 (2), Thu 25 (3), [term ends; Easter holidays]
    # Mon 12 Apr (4), Tue 13 Apr 2027 (5).
    config = with_rule(DEMO, "dt_return", Rule(5, "school_days", version=3))
    assert deadlines(config, meeting=date(2027, 3, 22))["dt_return"].due == date(2027, 4, 13)


def test_school_days_beyond_the_term_dates_are_not_guessed() -> None:
    config = with_rule(DEMO, "dt_return", Rule(10, "school_days", version=3))
    due = deadlines(config, meeting=date(2027, 7, 14))["dt_return"]  # only 5 school days are left after it
    assert due.due is None
    assert "the LA's term dates run from 2 September 2026 to 21 July 2027" in due.explanation
    assert deadlines(with_rule(Timescales(), "dt_return", Rule(3, "school_days", 1)),
                     meeting=date(2027, 7, 14))["dt_return"].due is None


def test_calendar_days() -> None:
    calendar = Calendar(TERMS, [date(2027, 5, 21)])
    assert not calendar.is_working_day(date(2026, 12, 28))  # Boxing Day's substitute
    assert calendar.is_working_day(date(2026, 12, 24))
    assert not calendar.is_school_day(date(2027, 2, 16))  # half-term
    assert not calendar.is_school_day(date(2027, 5, 21))  # INSET
    assert calendar.is_school_day(date(2027, 5, 20))


# --- the termly deadline and the next PEP


def test_termly_deadline_is_the_las_date_for_the_term_of_the_meeting() -> None:
    due = deadlines(DEMO, meeting=date(2027, 3, 3))["termly_deadline"]
    assert due.due == date(2027, 3, 19)
    assert due.explanation == ("The LA's deadline for Spring 2027, the term of the meeting on 3 March 2027 "
                               "(LA rule 'termly_deadline', version 3)")
    # A meeting in the Easter holidays counts for the summer term.
    assert deadlines(DEMO, meeting=date(2027, 4, 7))["termly_deadline"].due == date(2027, 7, 9)


def test_next_pep_in_the_same_week_of_the_next_term() -> None:
    # Meeting Wed 20 Jan 2027. Spring's weeks begin Mon 4 Jan (1: term starts Tue 5), 11 Jan (2), 18 Jan (3).
    # Summer's begin 12 Apr (1), 19 Apr (2), 26 Apr (3): Wed 28 Apr 2027.
    due = deadlines(DEMO, meeting=date(2027, 1, 20))["next_pep"]
    assert due.due == date(2027, 4, 28)
    assert due.explanation == ("Week 3 of Summer 2027: the same week of term as the meeting on 20 January 2027, "
                               "which is in week 3 of Spring 2027 (LA rule 'next_pep', version 2)")


def test_next_pep_counts_weeks_of_term_not_half_term() -> None:
    # Meeting Wed 3 Mar 2027. Spring: 4 Jan (1), 11 (2), 18 (3), 25 (4), 1 Feb (5), 8 Feb (6), [15 Feb half-term]
    # 22 Feb (7), 1 Mar (8). Summer: 12 Apr (1), 19 (2), 26 (3), 3 May (4), 10 (5), 17 (6), 24 (7),
    # [31 May half-term] 7 Jun (8): Wed 9 Jun 2027.
    assert deadlines(DEMO, meeting=date(2027, 3, 3))["next_pep"].due == date(2027, 6, 9)


def test_next_pep_on_a_bank_holiday_moves_to_the_next_school_day_that_week() -> None:
    # Meeting Mon 25 Jan 2027 is in Spring's week 4. Summer's week 4 begins Mon 3 May, the early May bank holiday,
    # so Tue 4 May 2027.
    due = deadlines(DEMO, meeting=date(2027, 1, 25))["next_pep"]
    assert due.due == date(2027, 5, 4)
    assert due.explanation.startswith("Week 4 of Summer 2027, on 4 May 2027 as 3 May 2027 is not a school day: ")


def test_next_pep_needs_the_next_terms_dates() -> None:
    due = deadlines(DEMO, meeting=date(2027, 6, 16))["next_pep"]
    assert due.due is None
    assert "no term dates for the term after" in due.explanation


# --- versions and the audit of changes


def test_a_new_version_keeps_the_versions_of_rules_it_does_not_change() -> None:
    v1 = next_version(Timescales(), Timescales(rules={**DEFAULT_RULES, "delegate": Rule(7, "school_days")},
                                               term_periods=TERMS))
    assert (v1.version, v1.rule("delegate").version, v1.rule("dt_return").version, v1.term_dates_version) == (
        1, 1, 0, 1)
    v2 = next_version(v1, Timescales(rules={**v1.rules, "dt_return": Rule(5, "working_days")}, term_periods=TERMS))
    assert (v2.version, v2.rule("delegate").version, v2.rule("dt_return").version, v2.term_dates_version) == (
        2, 1, 2, 1)
    assert from_json(to_json(v2)) == v2


def test_changes_say_what_changed_in_words() -> None:
    new = Timescales(rules={**DEFAULT_RULES, "delegate": Rule(7, "school_days")}, term_periods=TERMS[:1],
                     inset_days=frozenset({date(2026, 9, 2)}))
    found = {c.field: (c.before, c.after) for c in changes(Timescales(), new)}
    assert found == {
        "rules.delegate": ("10 working days", "7 school days"),
        "term_periods": ("(nothing removed)", "Autumn 2026: 2 September 2026 to 23 October 2026"),
        "inset_days": ("(nothing removed)", "2 September 2026"),
    }
