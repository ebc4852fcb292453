"""The PEP clocks against dates worked out by hand, day by day, in the comments (never with the code under test).

Bank holidays crossed (England and Wales): Fri 25 Dec 2026 Christmas Day, Mon 28 Dec 2026 Boxing Day
(substitute), Fri 1 Jan 2027 New Year's Day, Mon 31 May 2027 spring bank holiday.
The LA's year: Autumn 2026 2 Sep - 18 Dec (deadline Fri 11 Dec), Spring 2027 5 Jan - 25 Mar (deadline Fri
19 Mar), Summer 2027 12 Apr - 21 Jul (deadline Fri 9 Jul).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from services.delegation.domain.clocks import (
    ChildFacts,
    Clock,
    PepFacts,
    clocks,
    due_soon_from,
    escalates_on,
    in_date,
    sixteenth_birthday,
)
from services.delegation.domain.timescales import (
    Rule,
    TermlyDeadline,
    TermPeriod,
    Timescales,
    add_months,
    deadlines,
)

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
                                  TermlyDeadline("Summer 2027", date(2027, 7, 9))))
LA_ID = uuid.uuid4()


def child(**facts: object) -> ChildFacts:
    base: dict[str, object] = {"child_id": uuid.uuid4(), "la_id": LA_ID, "in_care": True,
                               "date_of_birth": date(2015, 6, 1), "date_entered_care": date(2024, 1, 8)}
    return ChildFacts(**{**base, **facts})  # type: ignore[arg-type]


def pep(meeting: date | None, status: str = "in_progress", submitted_on: date | None = None,
        status_on: date | None = None, started: date = date(2026, 9, 1)) -> PepFacts:
    return PepFacts(pep_id=uuid.uuid4(), status=status, kind="termly_review", meeting_date=meeting,
                    submitted_on=submitted_on, status_on=status_on,
                    started_at=datetime(started.year, started.month, started.day, tzinfo=UTC))


def clock(found: list[Clock], key: str) -> Clock:
    matching = [c for c in found if c.key == key]
    assert len(matching) == 1, [c.key for c in found]
    return matching[0]


# --- the initial PEP: emergency or planned, across Christmas


def test_emergency_placement_initial_pep_in_ten_working_days_across_christmas() -> None:
    # Entered care Wed 23 Dec 2026 by emergency placement. Thu 24 (1), [Fri 25, Sat 26, Sun 27, Mon 28] Tue 29 (2),
    # Wed 30 (3), Thu 31 (4), [Fri 1 Jan, weekend] Mon 4 (5), Tue 5 (6), Wed 6 (7), Thu 7 (8), Fri 8 (9),
    # [weekend] Mon 11 Jan 2027 (10). Due soon 5 working days before: Fri 8 (1), Thu 7 (2), Wed 6 (3), Tue 5 (4),
    # Mon 4 Jan (5).
    kid = child(date_entered_care=date(2026, 12, 23), entered_care_emergency=True)
    found = clock(clocks(kid, [], LA, date(2026, 12, 31)), "initial_pep")
    assert (found.due, found.state, found.label) == (date(2027, 1, 11), "open", "Initial PEP")
    assert found.explanation == ("10 working days after entering care on 23 December 2026 by emergency placement "
                                 "(default rule 'initial_pep_emergency')")
    assert clock(clocks(kid, [], LA, date(2027, 1, 1)), "initial_pep").state == "open"
    assert clock(clocks(kid, [], LA, date(2027, 1, 4)), "initial_pep").state == "due_soon"
    assert clock(clocks(kid, [], LA, date(2027, 1, 11)), "initial_pep").state == "due_soon"
    assert clock(clocks(kid, [], LA, date(2027, 1, 12)), "initial_pep").state == "overdue"
    first = pep(date(2027, 1, 8), started=date(2026, 12, 24))
    met = clock(clocks(kid, [first], LA, date(2027, 1, 12)), "initial_pep")
    assert (met.state, met.met_on, met.pep_id) == ("met", date(2027, 1, 8), first.pep_id)
    # Booked but not yet held: the meeting on 8 January does not count on the 7th.
    booked = clock(clocks(kid, [first], LA, date(2027, 1, 7)), "initial_pep")
    assert (booked.state, booked.met_on, booked.pep_id) == ("due_soon", None, first.pep_id)


def test_planned_placement_initial_pep_in_twenty_working_days_under_an_la_rule() -> None:
    # Entered care Mon 14 Dec 2026, planned. Tue 15 (1), Wed 16 (2), Thu 17 (3), Fri 18 (4), Mon 21 (5), Tue 22 (6),
    # Wed 23 (7), Thu 24 (8), [25-28] Tue 29 (9), Wed 30 (10), Thu 31 (11), [1 Jan, weekend] Mon 4 (12), Tue 5 (13),
    # Wed 6 (14), Thu 7 (15), Fri 8 (16), Mon 11 (17), Tue 12 (18), Wed 13 (19), Thu 14 Jan 2027 (20).
    kid = child(date_entered_care=date(2026, 12, 14))
    found = clock(clocks(kid, [], LA, date(2026, 12, 15)), "initial_pep")
    assert found.due == date(2027, 1, 14)
    assert found.explanation == ("20 working days after entering care on 14 December 2026 (a planned placement) "
                                 "(default rule 'initial_pep')")
    # The LA's own rule (15 working days, its version 4): ... Wed 6 (14), Thu 7 Jan (15).
    la = LA.__class__(**{**LA.__dict__, "rules": {**LA.rules, "initial_pep": Rule(15, "working_days", 4)}})
    ruled = clock(clocks(kid, [], la, date(2026, 12, 15)), "initial_pep")
    assert ruled.due == date(2027, 1, 7)
    assert ruled.explanation.endswith("(LA rule 'initial_pep', version 4)")


def test_a_meeting_before_entering_care_or_a_cancelled_one_does_not_meet_the_initial_pep() -> None:
    kid = child(date_entered_care=date(2026, 12, 14))
    old = pep(date(2026, 12, 1), status="finalised")
    cancelled = pep(date(2027, 1, 6), status="cancelled", started=date(2026, 12, 15))
    found = clock(clocks(kid, [old, cancelled], LA, date(2027, 1, 15)), "initial_pep")
    assert (found.state, found.met_on) == ("overdue", None)


# --- a change of school: 10 working days, across the spring bank holiday


def test_review_after_a_change_of_school_across_the_spring_bank_holiday() -> None:
    # Moved school Fri 21 May 2027. Mon 24 (1), Tue 25 (2), Wed 26 (3), Thu 27 (4), Fri 28 (5), [Mon 31 May bank
    # holiday] Tue 1 Jun (6), Wed 2 (7), Thu 3 (8), Fri 4 (9), [weekend] Mon 7 Jun 2027 (10).
    kid = child(moved_on=date(2027, 5, 21), move_kind="school")
    earlier = pep(date(2027, 5, 10), status="finalised")  # before the move: does not count
    found = clock(clocks(kid, [earlier], LA, date(2027, 5, 24)), "review_after_change")
    assert (found.due, found.state, found.label) == (date(2027, 6, 7), "open", "Review after a change of school")
    assert found.explanation == ("10 working days after the change of school on 21 May 2027 "
                                 "(default rule 'review_after_change')")
    # Due soon from 5 working days before: Fri 4 (1), Thu 3 (2), Wed 2 (3), Tue 1 Jun (4), [31 May] Fri 28 May (5).
    assert clock(clocks(kid, [earlier], LA, date(2027, 5, 27)), "review_after_change").state == "open"
    assert clock(clocks(kid, [earlier], LA, date(2027, 5, 28)), "review_after_change").state == "due_soon"
    assert clock(clocks(kid, [earlier], LA, date(2027, 6, 8)), "review_after_change").state == "overdue"
    review = pep(date(2027, 6, 3), started=date(2027, 5, 22))
    met = clock(clocks(kid, [earlier, review], LA, date(2027, 6, 8)), "review_after_change")
    assert (met.state, met.met_on, met.pep_id) == ("met", date(2027, 6, 3), review.pep_id)


def test_a_change_of_placement_under_the_las_own_rule() -> None:
    # 5 working days (LA version 3) from Fri 21 May 2027: Mon 24 (1) ... Fri 28 May (5).
    la = LA.__class__(**{**LA.__dict__, "rules": {**LA.rules, "review_after_change": Rule(5, "working_days", 3)}})
    found = clock(clocks(child(moved_on=date(2027, 5, 21), move_kind="placement"), [], la, date(2027, 5, 24)),
                  "review_after_change")
    assert (found.due, found.label) == (date(2027, 5, 28), "Review after a change of placement")
    assert found.explanation.endswith("(LA rule 'review_after_change', version 3)")


def test_the_placement_a_child_entered_care_into_is_not_a_change() -> None:
    kid = child(date_entered_care=date(2027, 5, 21), moved_on=date(2027, 5, 21), move_kind="placement")
    assert [c.key for c in clocks(kid, [], LA, date(2027, 5, 24))] == ["initial_pep", "termly_review"]


# --- termly reviews: the LA's deadline dates, booked late, missed


def test_termly_review_due_by_the_las_deadline_and_booked_late() -> None:
    # Autumn deadline Fri 11 Dec 2026; due soon from Thu 10 (1), Wed 9 (2), Tue 8 (3), Mon 7 (4), Fri 4 Dec (5).
    kid = child()
    late = pep(date(2026, 12, 14))  # booked for Mon 14 Dec, after the deadline
    found = clock(clocks(kid, [late], LA, date(2026, 12, 1)), "termly_review")
    assert (found.due, found.state, found.booked_late, found.pep_id) == (date(2026, 12, 11), "open", True,
                                                                         late.pep_id)
    assert found.explanation == ("The LA's deadline for Autumn 2026 (LA rule 'termly_deadline', version 3); the "
                                 "meeting booked for 14 December 2026 is after it")
    assert clock(clocks(kid, [late], LA, date(2026, 12, 3)), "termly_review").state == "open"
    assert clock(clocks(kid, [late], LA, date(2026, 12, 4)), "termly_review").state == "due_soon"
    assert clock(clocks(kid, [late], LA, date(2026, 12, 12)), "termly_review").state == "overdue"
    held = clock(clocks(kid, [late], LA, date(2026, 12, 15)), "termly_review")
    assert (held.state, held.met_on, held.booked_late) == ("met", date(2026, 12, 14), True)
    on_time = pep(date(2026, 12, 9))
    found = clock(clocks(kid, [on_time], LA, date(2026, 12, 1)), "termly_review")
    assert (found.booked_late, found.state) == (False, "open")
    assert clock(clocks(kid, [on_time], LA, date(2026, 12, 9)), "termly_review").state == "met"


def test_a_missed_termly_deadline_stays_overdue_into_the_next_term_until_a_meeting_is_held() -> None:
    kid = child()
    summer = pep(date(2026, 7, 1), status="finalised", started=date(2026, 6, 1))
    # No meeting in Autumn 2026: on Wed 6 Jan 2027 (Spring term) Autumn's deadline of 11 Dec is still overdue.
    found = clock(clocks(kid, [summer], LA, date(2027, 1, 6)), "termly_review")
    assert (found.due, found.state, found.term) == (date(2026, 12, 11), "overdue", "Autumn 2026")
    assert "Autumn 2026" in found.explanation and "no PEP meeting was held that term" in found.explanation
    assert not in_date(kid, [summer], LA, date(2027, 1, 6))
    assert in_date(kid, [summer], LA, date(2026, 12, 11))  # the deadline day itself is still in date
    assert not in_date(kid, [summer], LA, date(2026, 12, 14))
    # A meeting on Thu 7 Jan meets Spring's review (deadline Fri 19 Mar 2027), and the child is in date again.
    spring = pep(date(2027, 1, 7), started=date(2027, 1, 4))
    met = clock(clocks(kid, [summer, spring], LA, date(2027, 1, 8)), "termly_review")
    assert (met.due, met.state, met.met_on, met.term) == (date(2027, 3, 19), "met", date(2027, 1, 7), "Spring 2027")
    assert in_date(kid, [summer, spring], LA, date(2027, 1, 8))
    # Asked of a past day, a meeting after it does not count: on 6 Jan the child was out of date.
    assert not in_date(kid, [summer, spring], LA, date(2027, 1, 6))


def test_a_meeting_in_the_holidays_counts_for_the_term_after() -> None:
    # Mon 21 Dec 2026 is after Autumn ends (18 Dec): it is Spring 2027's review.
    holiday = pep(date(2026, 12, 21))
    found = clock(clocks(child(), [holiday], LA, date(2027, 1, 6)), "termly_review")
    assert (found.due, found.state, found.met_on) == (date(2027, 3, 19), "met", date(2026, 12, 21))


def test_the_term_a_child_enters_care_in_is_the_initial_peps() -> None:
    # Entered care Mon 2 Nov 2026 (Autumn): the termly clock is Spring's, deadline Fri 19 Mar 2027.
    kid = child(date_entered_care=date(2026, 11, 2))
    found = clock(clocks(kid, [], LA, date(2026, 12, 14)), "termly_review")
    assert (found.due, found.state) == (date(2027, 3, 19), "open")


def test_a_term_without_a_deadline_date_cannot_be_dated() -> None:
    la = LA.__class__(**{**LA.__dict__, "termly_deadlines": ()})
    found = clock(clocks(child(), [], la, date(2026, 12, 14)), "termly_review")
    assert (found.due, found.state) == (None, "open")
    assert "no termly deadline date for Autumn 2026" in found.explanation
    none = clock(clocks(child(), [], Timescales(), date(2026, 12, 14)), "termly_review")
    assert none.due is None and "term dates are not set" in none.explanation


# --- Post-16: every six months from the 16th birthday


def test_post16_reviews_replace_termly_ones_from_the_16th_birthday() -> None:
    kid = child(date_of_birth=date(2011, 1, 10))  # 16 on Sun 10 Jan 2027
    last = pep(date(2026, 11, 30), status="finalised")
    assert [c.key for c in clocks(kid, [last], LA, date(2027, 1, 9))] == ["initial_pep", "termly_review"]
    found = clock(clocks(kid, [last], LA, date(2027, 1, 10)), "post16_review")
    assert [c.key for c in clocks(kid, [last], LA, date(2027, 1, 10))] == ["initial_pep", "post16_review"]
    # Six months after Mon 30 Nov 2026 is Sun 30 May 2027; Mon 31 May is the spring bank holiday: Tue 1 Jun 2027.
    assert (found.due, found.state) == (date(2027, 6, 1), "open")
    assert found.explanation == (
        "6 months after the last PEP meeting on 30 November 2026 is 30 May 2027, a Sunday, so the next working "
        "day (default rule 'post16_review'); Post-16 reviews replace termly ones from the 16th birthday on "
        "10 January 2027")
    assert clock(clocks(kid, [last], LA, date(2027, 6, 2)), "post16_review").state == "overdue"
    assert not in_date(kid, [last], LA, date(2027, 6, 2))
    again = pep(date(2027, 5, 20), started=date(2027, 5, 1))
    # The next one counts from Thu 20 May 2027: Sat 20 Nov 2027, so Mon 22 Nov 2027.
    assert clock(clocks(kid, [last, again], LA, date(2027, 6, 2)), "post16_review").due == date(2027, 11, 22)


def test_a_leap_day_birthday_and_calendar_months() -> None:
    assert sixteenth_birthday(date(2012, 2, 29)) == date(2028, 2, 29)  # 16 years on is a leap year too ...
    assert sixteenth_birthday(date(2084, 2, 29)) == date(2100, 3, 1)  # ... except across a century: 1 March
    assert sixteenth_birthday(date(2011, 1, 10)) == date(2027, 1, 10)
    assert add_months(date(2027, 1, 31), 1) == date(2027, 2, 28)
    assert add_months(date(2027, 8, 31), 6) == date(2028, 2, 29)
    assert add_months(date(2027, 3, 31), -1) == date(2027, 2, 28)
    # Never met before the birthday: six months from it. 16 on Tue 1 Jun 2027: Wed 1 Dec 2027.
    kid = child(date_of_birth=date(2011, 6, 1))
    found = clock(clocks(kid, [], LA, date(2027, 6, 2)), "post16_review")
    assert found.due == date(2027, 12, 1)
    assert found.explanation.startswith("6 months after the 16th birthday on 1 June 2027")


# --- QA: the Virtual School's check of a submitted PEP


def test_qa_review_ten_working_days_after_submission_is_not_the_childs_in_date() -> None:
    # Submitted Mon 14 Dec 2026: Tue 15 (1), Wed 16 (2), Thu 17 (3), Fri 18 (4), Mon 21 (5), Tue 22 (6),
    # Wed 23 (7), Thu 24 (8), [25-28 Dec] Tue 29 (9), Wed 30 Dec 2026 (10).
    kid = child()
    sent = pep(date(2026, 12, 9), status="submitted", submitted_on=date(2026, 12, 14))
    found = clock(clocks(kid, [sent], LA, date(2026, 12, 15)), "qa_review")
    assert (found.due, found.state, found.pep_id) == (date(2026, 12, 30), "open", sent.pep_id)
    assert found.explanation == ("10 working days after the PEP is submitted on 14 December 2026 "
                                 "(default rule 'qa_review')")
    assert clock(clocks(kid, [sent], LA, date(2027, 1, 4)), "qa_review").state == "overdue"
    # Autumn's review was held on 9 Dec and Spring's is open: the late QA check alone leaves the child in date.
    assert clock(clocks(kid, [sent], LA, date(2027, 1, 4)), "termly_review").state == "open"
    assert in_date(kid, [sent], LA, date(2027, 1, 4))
    checked = pep(date(2026, 12, 9), status="approved", submitted_on=date(2026, 12, 14), status_on=date(2026, 12, 22))
    met = clock(clocks(kid, [checked], LA, date(2027, 1, 4)), "qa_review")
    assert (met.state, met.met_on) == ("met", date(2026, 12, 22))


def test_prompt_and_escalation_days_follow_the_las_rules() -> None:
    # Due Mon 11 Jan 2027. 5 working days before: Fri 8, Thu 7, Wed 6, Tue 5, Mon 4 Jan. 10 after: Tue 12 (1),
    # Wed 13 (2), Thu 14 (3), Fri 15 (4), Mon 18 (5), Tue 19 (6), Wed 20 (7), Thu 21 (8), Fri 22 (9), Mon 25 Jan (10).
    assert due_soon_from(LA, date(2027, 1, 11)) == date(2027, 1, 4)
    assert escalates_on(LA, date(2027, 1, 11)) == date(2027, 1, 25)
    la = LA.__class__(**{**LA.__dict__, "rules": {**LA.rules, "due_soon": Rule(2, "working_days", 5),
                                                  "escalate_after": Rule(1, "weeks", 5)}})
    assert due_soon_from(la, date(2027, 1, 11)) == date(2027, 1, 7)
    assert escalates_on(la, date(2027, 1, 11)) == date(2027, 1, 18)


def test_a_child_not_in_care_has_no_clocks_and_is_not_in_date() -> None:
    kid = child(in_care=False)
    assert clocks(kid, [], LA, date(2026, 12, 1)) == []
    assert not in_date(kid, [], LA, date(2026, 12, 1))
    assert not in_date(child(date_entered_care=date(2026, 12, 2)), [], LA, date(2026, 12, 1))


def test_facts_from_read_model_rows() -> None:
    row = {"id": uuid.uuid4(), "la_id": LA_ID, "in_care": True, "date_of_birth": date(2011, 1, 10),
           "date_entered_care": None, "entered_care_emergency": False, "moved_on": None, "move_kind": None,
           "given_name": "Ann"}
    assert ChildFacts.of(row).date_of_birth == date(2011, 1, 10)
    pep_row = {"id": uuid.uuid4(), "status": "submitted", "kind": "initial", "meeting_date": None,
               "submitted_on": date(2026, 12, 14), "started_at": datetime(2026, 12, 1, tzinfo=UTC)}
    assert PepFacts.of(pep_row).status_on is None


def test_the_preview_gives_months_as_calendar_months() -> None:
    la = LA.__class__(**{**LA.__dict__, "rules": {**LA.rules, "vs_review": Rule(1, "months", 2)}})
    # A month after Fri 29 Jan 2027: 28 Feb 2027 (February has no 29th), a Sunday, so Mon 1 Mar 2027.
    found = deadlines(la, meeting=date(2027, 1, 29))["vs_review"]
    assert found.due == date(2027, 3, 1)
    assert "is 28 February 2027, a Sunday, so the next working day" in found.explanation


def test_the_preview_gives_the_clock_rules_from_their_dates() -> None:
    # Change Fri 21 May 2027: Mon 7 Jun 2027 (as above). Submitted Mon 14 Dec 2026: Wed 30 Dec 2026 (as above).
    # Post-16 from a meeting on Mon 30 Nov 2026: Tue 1 Jun 2027 (as above), asked for only.
    found = deadlines(LA, moved_on=date(2027, 5, 21), submitted_on=date(2026, 12, 14))
    assert {k: d.due for k, d in found.items()} == {"review_after_change": date(2027, 6, 7),
                                                    "qa_review": date(2026, 12, 30)}
    assert "post16_review" not in deadlines(LA, meeting=date(2026, 11, 30))
    assert deadlines(LA, meeting=date(2026, 11, 30), post16=True)["post16_review"].due == date(2027, 6, 1)
