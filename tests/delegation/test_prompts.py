"""Which prompts a child's PEP clocks are owed, day by day, against dates worked out by hand in the comments.

Bank holidays crossed (England and Wales): Good Friday 26 March 2027, Easter Monday 29 March 2027.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from services.delegation.domain.clocks import ChildFacts, PepFacts, clocks
from services.delegation.domain.prompts import Prompt, owed
from services.delegation.domain.timescales import Rule, Timescales
from services.delegation.prompts import work_out

LA_ID = uuid.uuid4()
DEFAULTS = Timescales()  # no term dates: only the initial PEP, the change and QA clocks can be dated


def child(**facts: object) -> ChildFacts:
    base: dict[str, object] = {"child_id": uuid.uuid4(), "la_id": LA_ID, "in_care": True,
                               "date_of_birth": date(2016, 6, 1), "date_entered_care": date(2027, 3, 2),
                               "entered_care_emergency": True}
    return ChildFacts(**{**base, **facts})  # type: ignore[arg-type]


def pep(meeting: date | None, status: str = "in_progress", submitted_on: date | None = None) -> PepFacts:
    return PepFacts(pep_id=uuid.uuid4(), status=status, kind="initial", meeting_date=meeting,
                    submitted_on=submitted_on, started_at=datetime(2027, 3, 3, tzinfo=UTC))


def stages(kid: ChildFacts, peps: list[PepFacts], today: date, config: Timescales = DEFAULTS) -> list[tuple[str, str,
                                                                                                       date]]:
    return [(p.clock.key, p.stage, p.due) for p in owed(clocks(kid, peps, config, today), config, today)]


# Entered care Tue 2 March 2027 by emergency placement: 10 working days, Wed 3 (1), Thu 4 (2), Fri 5 (3), Mon 8 (4)
# ... Fri 12 (8), Mon 15 (9), Tue 16 March 2027 (10). Due soon 5 working days before: Mon 15 (1), Fri 12 (2),
# Thu 11 (3), Wed 10 (4), Tue 9 March (5). Escalated 10 working days after the due date: Wed 17 (1), Thu 18 (2),
# Fri 19 (3), Mon 22 (4) ... Thu 25 (7), [Good Friday 26, weekend, Easter Monday 29] Tue 30 (8), Wed 31 (9),
# Thu 1 April 2027 (10).
DUE = date(2027, 3, 16)


def test_nothing_is_owed_before_the_due_soon_days() -> None:
    assert stages(child(), [], date(2027, 3, 8)) == []


def test_due_soon_from_five_working_days_before_to_the_due_date() -> None:
    for day in (date(2027, 3, 9), date(2027, 3, 12), DUE):
        assert stages(child(), [], day) == [("initial_pep", "due_soon", DUE)], day


def test_overdue_the_day_after_and_the_virtual_school_ten_working_days_after_across_easter() -> None:
    for day in (date(2027, 3, 17), date(2027, 3, 26), date(2027, 3, 31)):
        assert stages(child(), [], day) == [("initial_pep", "overdue", DUE)], day
    assert stages(child(), [], date(2027, 4, 1)) == [("initial_pep", "overdue", DUE),
                                                     ("initial_pep", "escalated", DUE)]
    # Still owed (both) months later: a scheduler that was away sends them when it is back; the key sends each once.
    assert stages(child(), [], date(2027, 9, 1)) == [("initial_pep", "overdue", DUE),
                                                     ("initial_pep", "escalated", DUE)]


def test_an_escalation_says_which_rule_tells_the_virtual_school_and_from_when() -> None:
    [_, escalated] = owed(clocks(child(), [], DEFAULTS, date(2027, 4, 1)), DEFAULTS, date(2027, 4, 1))
    assert escalated.escalation == ("the Virtual School is told when a PEP deadline is still not met 10 working days "
                                    "after it: 16 March 2027 was the due date, so from 1 April 2027 (default rule "
                                    "'escalate_after')")
    assert escalated.clock.explanation == ("10 working days after entering care on 2 March 2027 by emergency "
                                           "placement (default rule 'initial_pep_emergency')")


def test_the_las_own_prompt_and_escalation_rules() -> None:
    # Due soon 2 working days before Tue 16 March: Mon 15 (1), Fri 12 March (2). Escalated 3 working days after:
    # Wed 17 (1), Thu 18 (2), Fri 19 March 2027 (3).
    la = Timescales(version=4, rules={**DEFAULTS.rules, "due_soon": Rule(2, "working_days", 4),
                                      "escalate_after": Rule(3, "working_days", 4)})
    assert stages(child(), [], date(2027, 3, 11), la) == []
    assert stages(child(), [], date(2027, 3, 12), la) == [("initial_pep", "due_soon", DUE)]
    assert stages(child(), [], date(2027, 3, 18), la) == [("initial_pep", "overdue", DUE)]
    [_, escalated] = owed(clocks(child(), [], la, date(2027, 3, 19)), la, date(2027, 3, 19))
    assert escalated.stage == "escalated" and escalated.escalation is not None
    assert escalated.escalation.endswith("3 working days after it: 16 March 2027 was the due date, so from 19 March "
                                         "2027 (LA rule 'escalate_after', version 4)")


def test_a_clock_met_or_that_cannot_be_dated_is_owed_nothing() -> None:
    held = pep(date(2027, 3, 12))
    assert stages(child(), [held], date(2027, 4, 1)) == []
    # A meeting booked but not yet held does not stop the clock.
    assert stages(child(), [pep(date(2027, 3, 25))], date(2027, 3, 17)) == [("initial_pep", "overdue", DUE)]
    assert stages(child(date_entered_care=None), [], date(2027, 4, 1)) == []  # no date entered care: undated
    assert stages(child(in_care=False), [], date(2027, 4, 1)) == []


def test_the_qa_clock_is_prompted_like_the_others() -> None:
    # Submitted Mon 5 April 2027 (after Easter): 10 working days, Tue 6 (1) ... Fri 9 (4), Mon 12 (5) ... Fri 16 (9),
    # Mon 19 April 2027 (10). Due soon from Mon 12 April (5 working days before).
    met = pep(date(2027, 3, 12), status="submitted", submitted_on=date(2027, 4, 5))
    assert stages(child(), [met], date(2027, 4, 9)) == []
    assert stages(child(), [met], date(2027, 4, 12)) == [("qa_review", "due_soon", date(2027, 4, 19))]
    assert stages(child(), [met], date(2027, 4, 20)) == [("qa_review", "overdue", date(2027, 4, 19))]


def test_a_tick_works_out_every_childs_prompts_from_read_model_rows() -> None:
    late, fine = uuid.uuid4(), uuid.uuid4()

    def row(child_id: uuid.UUID, entered: date) -> dict[str, object]:
        return {"id": child_id, "la_id": LA_ID, "in_care": True, "date_of_birth": date(2016, 6, 1),
                "date_entered_care": entered, "entered_care_emergency": False, "moved_on": None, "move_kind": None}

    # Planned placements, 20 working days. Entered Mon 1 Feb 2027: due Mon 1 March 2027 (Feb has 20 working days
    # after the 1st), so overdue on 17 March and escalated 10 working days after: Tue 2 (1) ... Mon 15 March (10).
    # Entered Tue 2 March 2027: due 20 working days later, after Easter, so open on 17 March.
    children = [row(late, date(2027, 2, 1)), row(fine, date(2027, 3, 2))]
    peps = [{"id": uuid.uuid4(), "child_id": fine, "status": "in_progress", "kind": "initial", "meeting_date": None,
             "submitted_on": None, "started_at": datetime(2027, 3, 3, tzinfo=UTC), "status_on": None}]
    found = work_out(children, peps, {LA_ID: DEFAULTS}, date(2027, 3, 17))  # type: ignore[arg-type]
    assert [item.key for item in found] == [(late, "initial_pep", date(2027, 3, 1), "overdue"),
                                            (late, "initial_pep", date(2027, 3, 1), "escalated")]
    assert all(isinstance(item.prompt, Prompt) for item in found)


def test_one_childs_odd_facts_do_not_stop_every_other_childs_prompts(caplog: pytest.LogCaptureFixture) -> None:
    good, odd = uuid.uuid4(), uuid.uuid4()
    base = {"la_id": LA_ID, "in_care": True, "date_of_birth": date(2016, 6, 1), "date_entered_care": date(2027, 2, 1),
            "entered_care_emergency": False, "moved_on": None, "move_kind": None}
    children = [{**base, "id": odd, "date_entered_care": "not a date"}, {**base, "id": good}]
    found = work_out(children, [], {LA_ID: DEFAULTS}, date(2027, 3, 17))  # type: ignore[arg-type]
    assert {item.key[0] for item in found} == {good}
    assert [r.getMessage() for r in caplog.records] == ["PEP clocks could not be worked out for a child"]
