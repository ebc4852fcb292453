"""Who may do what in each state: the table in services/pep/domain/lifecycle.py, row by row."""

from __future__ import annotations

import pytest

from services.pep.domain.lifecycle import (
    QUALITY_ASSURANCE,
    SCHOOL,
    SCHOOL_SUBMITS,
    SOCIAL_WORKER,
    SOCIAL_WORKER_COMPLETES,
    allowed_actions,
    may_edit_section,
    part_of,
    parts_needed,
    section_part,
    submitted_part,
    transition,
)

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
    ("in_progress", STAFF, ["submit"]),  # the school's contribution, with the DT's leave to write its sections
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


# ---- the parts of a PEP (Kent's "Submit Contribution") -------------------------------------------------------


def test_each_writer_submits_their_part_and_the_virtual_school_the_whole_pep() -> None:
    assert part_of(DT) == part_of(STAFF) == SCHOOL
    assert part_of(SW) == SOCIAL_WORKER
    assert part_of(VS) is None


@pytest.mark.parametrize("owner,key,delegated,part", [
    ("designated_teacher", "education", frozenset(), SCHOOL),
    ("young_person", "views", frozenset(), SCHOOL),  # ePEP Online: the DT marks B and the young person's C
    ("carer", "carer_views", frozenset(), SCHOOL),
    ("social_worker", "personal", frozenset(), SOCIAL_WORKER),
    ("social_worker", "personal", frozenset({"personal"}), SCHOOL),  # delegated to the school: the school's
    ("virtual_school", "signoff", frozenset(), None),  # signed after submission: nobody's part
])
def test_whose_part_each_section_is(owner: str, key: str, delegated: frozenset[str], part: str | None) -> None:
    assert section_part(owner, key, delegated) == part


@pytest.mark.parametrize("rule,status,has_school,needed", [
    (SCHOOL_SUBMITS, "in_progress", True, {SCHOOL}),  # Kent: the school's submission sends it to QA
    (SOCIAL_WORKER_COMPLETES, "in_progress", True, {SCHOOL, SOCIAL_WORKER}),  # ePEP Online: both
    (SOCIAL_WORKER_COMPLETES, "returned", True, {SCHOOL}),  # QA returned it to the school: its amendment sends it
    (SCHOOL_SUBMITS, "in_progress", False, {SOCIAL_WORKER}),  # no school: the social worker's part alone
])
def test_when_the_pep_goes_to_qa(rule: str, status: str, has_school: bool, needed: set[str]) -> None:
    assert parts_needed(rule, status, has_school) == needed


@pytest.mark.parametrize("via,parts_in,locked", [
    (DT, {SCHOOL}, SCHOOL),  # the school's part is in: its sections are read-only for the school
    (STAFF, {SCHOOL}, SCHOOL),
    (DT, set(), None),  # not yet submitted, or QA returned it (which takes the school's part back)
    (DT, {SOCIAL_WORKER}, None),
    (SW, {SCHOOL}, None),  # the social worker still writes their section while the PEP waits
    (SW, {SCHOOL, SOCIAL_WORKER}, None),
    (VS, {SCHOOL}, None),  # the Virtual School writes every section until it goes to QA
])
def test_the_schools_part_once_in_is_read_only_for_the_school(via: str, parts_in: set[str],
                                                               locked: str | None) -> None:
    assert submitted_part(via, frozenset(parts_in)) == locked
