"""Which trackers and alerts a child is in, from their record, PEPs and tasks (records as plain mappings), with the
dates worked out by hand."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from services.delegation.caseload import Entry, classify
from services.delegation.domain.timescales import TermlyDeadline, TermPeriod, Timescales

TODAY = date(2027, 3, 17)  # a Wednesday
CONFIG = Timescales()  # the defaults, and no term dates


def _pep(status: str, meeting: date | None, started: int = 1, submitted_on: date | None = None) -> dict[str, Any]:
    return {"id": f"pep-{started}", "status": status, "kind": "termly_review", "meeting_date": meeting,
            "started_at": datetime(2026, 1, started), "submitted_on": submitted_on, "status_on": None}


def _child(**facts: Any) -> dict[str, Any]:
    """delegation's `children` row: born 2016 (termly reviews, not Post-16), no entry to care or move known."""
    return {"id": uuid.uuid4(), "la_id": uuid.uuid4(), "in_care": True, "date_of_birth": date(2016, 5, 1),
            "date_entered_care": None, "entered_care_emergency": False, "moved_on": None, "move_kind": None,
            **facts}


def _classify(peps: list[dict[str, Any]], late: list[dict[str, Any]] | None = None, today: date = TODAY,
              config: Timescales = CONFIG, **child: Any) -> Entry:
    entry = Entry(_child(**child))  # type: ignore[arg-type]
    classify(entry, peps, late or [], config, today)  # type: ignore[arg-type]
    return entry


def _alerts(entry: Entry) -> list[tuple[str, date | None]]:
    return [(a.kind, a.due) for a in entry.alerts]


def test_no_pep_at_all_has_no_date_but_is_not_overdue() -> None:
    assert _classify([]).categories == ["no_pep_date"]


def test_the_next_pep_is_overdue_17_weeks_after_the_last_without_term_dates() -> None:
    # Last finalised meeting 18 November 2026; 17 weeks later is 17 March 2027 (today): due today, not late.
    entry = _classify([_pep("finalised", date(2026, 11, 18))])
    assert entry.categories == ["no_pep_date"]
    # A week earlier (11 November 2026 + 17 weeks = 10 March 2027): overdue.
    entry = _classify([_pep("finalised", date(2026, 11, 11))])
    assert entry.categories == ["overdue", "no_pep_date"]
    assert entry.reasons[0].startswith("The next PEP was due by 10 March 2027")


def test_a_meeting_within_four_weeks_is_upcoming_and_a_late_task_is_overdue() -> None:
    entry = _classify([_pep("finalised", date(2026, 11, 11)), _pep("in_progress", date(2027, 4, 14), 2)])
    assert entry.categories == ["upcoming"]  # 28 days ahead, and a PEP is under way
    entry = _classify([_pep("in_progress", date(2027, 4, 15))], late=[{"due_date": date(2027, 3, 10)}])
    assert entry.categories == ["overdue"] and entry.reasons == ["A task was due on 10 March 2027"]


def test_a_meeting_held_but_not_submitted_by_the_dt_return_date_is_overdue() -> None:
    # Meeting Wed 24 Feb 2027; DT returns 10 working days after: Thu 25 (1) ... Wed 10 March (10). Today 17 March.
    entry = _classify([_pep("in_progress", date(2027, 2, 24))])
    assert entry.categories == ["overdue"] and entry.reasons[0].startswith("Not submitted by 10 March 2027")
    # Submitted: with QA now, not late for the school.
    assert _classify([_pep("submitted", date(2027, 2, 24))]).categories == []


def test_a_pep_waiting_with_the_schools_contribution_in_is_not_the_school_late() -> None:
    # The school submitted its part; the PEP waits for the social worker's (ePEP Online's rule): not overdue.
    pep = _pep("in_progress", date(2027, 2, 24))
    entry = Entry(_child())  # type: ignore[arg-type]
    classify(entry, [pep], [], CONFIG, TODAY, contributed=frozenset({pep["id"]}))  # type: ignore[list-item]
    assert entry.categories == [] and entry.reasons == []
    # Another PEP's contribution says nothing of this one.
    assert _classify([pep]).categories == ["overdue"]


def test_an_emergency_placement_without_a_pep_in_10_working_days_is_initial_pep_late() -> None:
    # Entered care Mon 1 March 2027 by emergency placement: 2-5 March (4), 8-12 (9), Mon 15 March (10).
    entry = _classify([], date_entered_care=date(2027, 3, 1), entered_care_emergency=True)
    assert _alerts(entry) == [("overdue", date(2027, 3, 15)), ("no_pep_date", None),
                              ("initial_pep_late", date(2027, 3, 15))]
    assert entry.reasons == ["Initial PEP was due by 15 March 2027: 10 working days after entering care on 1 March "
                             "2027 by emergency placement (default rule 'initial_pep_emergency')"]
    # A PEP meeting held on Fri 12 March met it.
    entry = _classify([_pep("in_progress", date(2027, 3, 12))], date_entered_care=date(2027, 3, 1),
                      entered_care_emergency=True)
    assert entry.categories == []


def test_a_planned_placements_initial_pep_counts_past_easter_and_is_due_soon_in_its_last_5_working_days() -> None:
    # Entered care Mon 1 March 2027, planned: 20 working days. 2-5 March (4), 8-12 (9), 15-19 (14), 22-25 (18),
    # Good Friday 26 March and Easter Monday 29 March are bank holidays, Tue 30 (19), Wed 31 March (20).
    planned = {"date_entered_care": date(2027, 3, 1)}
    assert _classify([], **planned).categories == ["no_pep_date"]  # 17 March: not yet due soon
    # Due soon from 5 working days before: 30 (1), 25 (2), 24 (3), 23 (4), Mon 22 March (5).
    assert _alerts(_classify([], today=date(2027, 3, 19), **planned)) == [("no_pep_date", None)]
    entry = _classify([], today=date(2027, 3, 22), **planned)
    assert _alerts(entry) == [("due_soon", date(2027, 3, 31)), ("no_pep_date", None)]
    assert entry.alerts[0].reason.startswith("Initial PEP is due by 31 March 2027: 20 working days after entering "
                                             "care on 1 March 2027 (a planned placement)")
    entry = _classify([], today=date(2027, 4, 1), **planned)
    assert _alerts(entry) == [("overdue", date(2027, 3, 31)), ("no_pep_date", None),
                              ("initial_pep_late", date(2027, 3, 31))]


def test_a_change_of_school_needs_a_review_within_10_working_days() -> None:
    # Moved school Mon 8 March 2027: 9-12 (4), 15-19 (9), Mon 22 March (10); due soon from Mon 15 March.
    moved = {"moved_on": date(2027, 3, 8), "move_kind": "school"}
    entry = _classify([], **moved)
    assert _alerts(entry) == [("due_soon", date(2027, 3, 22)), ("no_pep_date", None),
                              ("review_after_change", date(2027, 3, 22))]
    assert entry.alerts[-1].reason == ("Review after a change of school is due by 22 March 2027: 10 working days "
                                       "after the change of school on 8 March 2027 (default rule "
                                       "'review_after_change')")
    # Due, though not yet due soon, the day after the move.
    assert _alerts(_classify([], today=date(2027, 3, 9), **moved)) == [
        ("no_pep_date", None), ("review_after_change", date(2027, 3, 22))]
    late = _classify([], today=date(2027, 3, 23), **moved)
    assert _alerts(late) == [("overdue", date(2027, 3, 22)), ("no_pep_date", None),
                             ("review_after_change", date(2027, 3, 22))]
    assert late.alerts[-1].reason.startswith("Review after a change of school was due by 22 March 2027")
    # A review meeting held on Fri 19 March met it; one booked for the 26th is upcoming, the clock still running.
    assert _classify([_pep("in_progress", date(2027, 3, 19))], today=date(2027, 3, 23), **moved).categories == []
    assert _classify([_pep("in_progress", date(2027, 3, 26))], **moved).categories == [
        "due_soon", "upcoming", "review_after_change"]


def test_a_pep_waiting_for_qa_past_10_working_days_is_awaiting_qa_not_overdue() -> None:
    # Submitted Mon 1 March 2027: 10 working days on is Mon 15 March; today Wed 17 March.
    waiting = _classify([_pep("submitted", date(2027, 2, 24), submitted_on=date(2027, 3, 1))])
    assert _alerts(waiting) == [("awaiting_qa", date(2027, 3, 15))] and waiting.reasons == []
    assert waiting.alerts[0].reason.startswith("Virtual School quality check was due by 15 March 2027: 10 working "
                                               "days after")
    # Submitted Thu 4 March: due Thu 18 March, not yet late (the QA clock's due soon is not the school's).
    assert _classify([_pep("submitted", date(2027, 2, 24), submitted_on=date(2027, 3, 4))]).categories == []
    # Approved: QA done.
    assert _classify([_pep("approved", date(2027, 2, 24), submitted_on=date(2027, 3, 1))]).categories == []


def test_with_termly_deadlines_the_termly_review_replaces_the_next_pep_rule() -> None:
    config = Timescales(
        term_periods=(TermPeriod("Autumn 2026", date(2026, 9, 2), date(2026, 12, 18)),
                      TermPeriod("Spring 2027", date(2027, 1, 4), date(2027, 3, 26))),
        termly_deadlines=(TermlyDeadline("Autumn 2026", date(2026, 12, 4)),
                          TermlyDeadline("Spring 2027", date(2027, 3, 5))),
        term_dates_version=2, termly_deadlines_version=3)
    # Last held 11 November 2026 (autumn's review); spring's deadline, Fri 5 March 2027, has passed.
    entry = _classify([_pep("finalised", date(2026, 11, 11))], config=config)
    assert _alerts(entry) == [("overdue", date(2027, 3, 5)), ("no_pep_date", None)]
    assert entry.reasons == ["Termly PEP review was due by 5 March 2027: The LA's deadline for Spring 2027 (LA rule "
                             "'termly_deadline', version 3)"]
    # Held in spring on 3 March: met, and nothing is late.
    assert _classify([_pep("finalised", date(2026, 11, 11)), _pep("finalised", date(2027, 3, 3), 2)],
                     config=config).categories == ["no_pep_date"]
