"""Who may do what in each state: the table in services/pep/domain/lifecycle.py, row by row."""

from __future__ import annotations

import pytest

from services.pep.domain.lifecycle import QUALITY_ASSURANCE, allowed_actions, may_edit_section, transition

QA = QUALITY_ASSURANCE
VS, SW, DT, STAFF, IRO, CARER = "virtual_school", "social_worker", "designated_teacher", "setting_staff", "iro", "carer"


@pytest.mark.parametrize("state,via,actions", [
    ("created", DT, ["submit"]),
    ("in_progress", SW, ["submit"]),
    ("in_progress", VS, ["submit", "cancel"]),
    ("submitted", VS, ["cancel"]),  # approve and return: only by deciding the QA review
    ("submitted", QA, ["return", "approve"]),
    ("submitted", DT, []),
    ("returned", DT, ["submit"]),
    ("approved", SW, ["finalise"]),
    ("approved", VS, ["finalise", "cancel"]),
    ("approved", QA, []),
    ("in_progress", QA, []),
    ("finalised", VS, []),
    ("cancelled", VS, []),
    ("in_progress", IRO, []),
    ("in_progress", CARER, []),
    ("in_progress", STAFF, []),
])
def test_allowed_actions(state: str, via: str, actions: list[str]) -> None:
    assert allowed_actions(state, via) == actions


def test_a_transition_says_where_it_goes_and_whether_it_needs_a_reason() -> None:
    back = transition("return", "submitted", QA)
    assert back and back.to_state == "returned" and back.needs_reason
    assert transition("approve", "in_progress", QA) is None
    assert transition("approve", "submitted", VS) is None and transition("return", "submitted", VS) is None
    assert transition("finalise", "approved", DT) is None


@pytest.mark.parametrize("owner,state,via,may", [
    ("designated_teacher", "in_progress", DT, True),
    ("designated_teacher", "in_progress", STAFF, True),
    ("designated_teacher", "in_progress", SW, False),
    ("social_worker", "in_progress", SW, True),
    ("social_worker", "in_progress", DT, False),
    ("young_person", "in_progress", DT, True),
    ("virtual_school", "in_progress", DT, False),
    ("designated_teacher", "returned", DT, True),
    ("designated_teacher", "submitted", DT, False),
    ("virtual_school", "submitted", VS, True),
    ("virtual_school", "finalised", VS, False),
    ("designated_teacher", "finalised", VS, False),
])
def test_who_writes_which_section_when(owner: str, state: str, via: str, may: bool) -> None:
    assert may_edit_section(owner, state, via) is may


def test_the_term_after() -> None:
    from services.pep.domain.lifecycle import next_term
    assert next_term("autumn", "2026/27") == ("spring", "2026/27")
    assert next_term("spring", "2026/27") == ("summer", "2026/27")
    assert next_term("summer", "2026/27") == ("autumn", "2027/28")
    assert next_term("summer", "2099/00") == ("autumn", "2100/01")
