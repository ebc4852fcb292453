"""Who sees QA's work (issue 23, finding 6): one rule, shared.authz.sees_qa, that pep's access, its sections and
exports, delegation's tasks and qa all apply. Carers and setting staff never see it, however much their DT
grants; the Virtual School's sign-off section is QA's."""

from __future__ import annotations

import uuid
from datetime import date

from services.delegation.domain.tasks import via
from services.pep.domain.access import ChildRef, access_to
from services.pep.template_library import load_default_templates
from shared.authz import sees_qa
from tests.pep.test_access import LA, SCHOOL, who

CHILD = ChildRef(id="child-1", la_id=LA, setting_id=SCHOOL, social_worker_id="sw", iro_id="iro",
                 carer_ids=frozenset({"carer"}))
SIGNOFF = load_default_templates()["school-age"].section("signoff")


def test_the_sign_off_section_is_qas_and_only_those_who_see_qa_read_it() -> None:
    assert SIGNOFF is not None and SIGNOFF.owner == "virtual_school"
    readers = {
        "vs": who("a", (LA, "local_authority", "vs_caseworker")),
        "sw": who("sw", (LA, "local_authority", "social_worker")),
        "dt": who("d", (SCHOOL, "setting", "designated_teacher")),
        "iro": who("iro", (LA, "local_authority", "iro")),
    }
    for name, claims in readers.items():
        access = access_to(claims, CHILD)
        assert access and access.sees_qa and access.may_see(SIGNOFF), name
    others = {
        "carer": who("carer", (LA, "local_authority", "carer")),
        "staff": who("s", (SCHOOL, "setting", "setting_staff")),
        "staff granted it": who("s", (SCHOOL, "setting", "setting_staff"), children=["child-1"],
                                sections=["signoff", "education"]),
    }
    for name, claims in others.items():
        access = access_to(claims, CHILD)
        assert access and not access.sees_qa and not access.may_see(SIGNOFF), name
    education = load_default_templates()["school-age"].section("education")
    assert education is not None and access_to(others["staff granted it"], CHILD).may_see(education)  # type: ignore[union-attr]


def test_one_rule_by_how_the_caller_reaches_the_child() -> None:
    assert {v for v in ("virtual_school", "social_worker", "designated_teacher", "iro", "setting_staff", "carer",
                        "invited_young_person", "invited_carer", None) if sees_qa(v)} == \
        {"virtual_school", "social_worker", "designated_teacher", "iro"}


def test_delegation_reads_how_the_caller_reaches_a_task_for_its_feedback() -> None:
    task = {"la_id": LA, "setting_id": SCHOOL, "child_id": "child-1", "assignee_user_id": None,
            "originator_id": "a", "kind": "amend", "status": "assigned", "due_date": date.today(),
            "id": uuid.uuid4()}
    assert via(who("a", (LA, "local_authority", "vs_caseworker")), task) == "virtual_school"
    assert via(who("d", (SCHOOL, "setting", "designated_teacher")), task) == "designated_teacher"
    assert via(who("s", (SCHOOL, "setting", "setting_staff")), task) == "setting_staff"
    assert via(who("carer", (LA, "local_authority", "carer")), task) is None
    assert via(who("a", (LA, "local_authority", "social_worker")), task) == "social_worker"  # who returned it
