"""Which tracker a child is in, from their PEPs and tasks (records as plain mappings), by hand."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from services.delegation.caseload import Entry, classify
from services.delegation.domain.timescales import Timescales

TODAY = date(2027, 3, 17)  # a Wednesday
CONFIG = Timescales()  # the defaults, and no term dates


def _pep(status: str, meeting: date | None, started: int = 1) -> dict[str, Any]:
    return {"id": f"pep-{started}", "status": status, "meeting_date": meeting,
            "started_at": datetime(2026, 1, started)}


def _classify(peps: list[dict[str, Any]], late: list[dict[str, Any]] | None = None) -> Entry:
    entry = Entry({"id": "child"})  # type: ignore[arg-type]
    classify(entry, peps, late or [], CONFIG, TODAY)  # type: ignore[arg-type]
    return entry


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
    entry = Entry({"id": "child"})  # type: ignore[arg-type]
    classify(entry, [pep], [], CONFIG, TODAY, contributed=frozenset({pep["id"]}))  # type: ignore[list-item]
    assert entry.categories == [] and entry.reasons == []
    # Another PEP's contribution says nothing of this one.
    assert _classify([pep]).categories == ["overdue"]
