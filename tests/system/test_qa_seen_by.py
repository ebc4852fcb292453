"""Issue 23, finding 6: carers read what QA wrote for professionals. One rule (shared.authz.sees_qa) says who
sees QA's work: the Virtual School, the child's social worker, the DT and the IRO; never carers nor setting
staff, however much their DT lets them see. Each test performs the attack the review found: a carer (and setting
staff) reading a returned PEP's amend task feedback through the PEP's task list, and the Virtual School's sign-off
checklist through `/sections/signoff` and the JSON export."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from services.pep.domain.core_data import academic_year_label
from shared import demo
from tests.conftest import RunningSystem
from tests.system.qa_steps import decide_in_qa
from tests.system.test_children import SW, new_child
from tests.system.test_peps import answer_what_is_missing, owners
from tests.system.test_tasks import eventually

FEEDBACK = "Target 2 needs a measurable outcome"
CARER = str(demo.account_id("carer"))
STAFF = str(demo.account_id("staff"))


@pytest.fixture(scope="module")
def returned(system: RunningSystem) -> dict[str, Any]:
    """A PEP of a child Cara cares for, at Oakfield: submitted, signed off in part by the Virtual School, then
    returned by QA with feedback, so the school has an amend task."""
    cw, sw, dt = (system.sign_in(e) for e in ("caseworker@demo.test", "sw@demo.test", "dt@demo.test"))
    child = new_child(system, cw, social_worker_id=SW, carer_ids=[CARER])
    status, pep, _ = system.api("POST", f"/api/v1/children/{child['id']}/peps", {
        "kind": "initial", "term": "autumn", "academic_year": academic_year_label(date.today())}, cookie=sw)
    assert status == 201, pep
    by_owner = owners(system, dt, pep["id"])
    answer_what_is_missing(system, sw, pep["id"], by_owner.get("social_worker", set()))
    answer_what_is_missing(system, dt, pep["id"], by_owner.get("designated_teacher", set())
                           | by_owner.get("young_person", set()) | by_owner.get("carer", set()))
    assert system.api("POST", f"/api/v1/peps/{pep['id']}/actions/submit", {}, cookie=dt)[0] == 200
    # The Virtual School's checklist and comments: QA's own words about the PEP.
    signoff = system.api("GET", f"/api/v1/peps/{pep['id']}/sections/signoff", cookie=cw)[1]
    comment = next(f["key"] for f in signoff["definition"]["fields"] if f["type"] in ("long_text", "text"))
    status, body, _ = system.api("PUT", f"/api/v1/peps/{pep['id']}/sections/signoff", {
        "answers": {comment: "QA: attainment evidence is thin"}, "version": signoff["version"]}, cookie=cw)
    assert status == 200, body
    status, body = decide_in_qa(system, cw, pep["id"], "return", FEEDBACK)
    assert status == 200, body
    tasks = eventually(lambda: [t for t in system.api("GET", f"/api/v1/peps/{pep['id']}/tasks", cookie=cw)[1]
                                if t["kind"] == "amend"], "the amend task")
    assert tasks[0]["feedback"] == FEEDBACK  # the Virtual School sees what it wrote
    return {"pep": pep, "child": child, "cw": cw, "sw": sw, "dt": dt, "amend": tasks[0]}


def _staff(system: RunningSystem, dt: str, access: dict[str, Any]) -> str:
    """Sol, Oakfield's staff, with this access granted by the DT (signed in afresh, so the claims carry it)."""
    assert system.api("PUT", f"/api/v1/organisations/{demo.OAKFIELD}/staff/{STAFF}/access", access,
                      cookie=dt)[0] == 204
    return system.sign_in("staff@demo.test")


def test_a_carer_and_setting_staff_read_the_peps_tasks_without_qas_feedback(
        system: RunningSystem, returned: dict[str, Any]) -> None:
    pep_id, amend = returned["pep"]["id"], returned["amend"]
    carer = system.sign_in("carer@demo.test")
    staff = _staff(system, returned["dt"], {"children": None, "sections": None})
    for who, cookie in (("carer", carer), ("staff", staff)):
        status, tasks, _ = system.api("GET", f"/api/v1/peps/{pep_id}/tasks", cookie=cookie)
        assert status == 200, (who, tasks)
        seen = {t["id"]: t for t in tasks}
        assert amend["id"] in seen, who  # they still see the task itself
        assert seen[amend["id"]]["feedback"] is None, who
        assert FEEDBACK not in str(tasks), who
    # Staff reach the school's amend task itself and its tray too: without the feedback there as well.
    status, task, _ = system.api("GET", f"/api/v1/tasks/{amend['id']}", cookie=staff)
    assert status == 200 and task["feedback"] is None, task
    trays = system.api("GET", f"/api/v1/tasks?tray=current&pep_id={pep_id}", cookie=staff)[1]["items"]
    assert [t["feedback"] for t in trays if t["id"] == amend["id"]] == [None]
    # Those who see QA still read it: the DT who must act on it, the social worker.
    for cookie in (returned["dt"], returned["sw"]):
        tasks = system.api("GET", f"/api/v1/peps/{pep_id}/tasks", cookie=cookie)[1]
        assert [t["feedback"] for t in tasks if t["id"] == amend["id"]] == [FEEDBACK]
    assert system.api("GET", f"/api/v1/tasks/{amend['id']}", cookie=returned["dt"])[1]["feedback"] == FEEDBACK


def test_the_sign_off_checklist_is_not_found_for_carers_and_setting_staff(
        system: RunningSystem, returned: dict[str, Any]) -> None:
    pep_id = returned["pep"]["id"]
    carer = system.sign_in("carer@demo.test")
    restricted = _staff(system, returned["dt"], {"children": [returned["child"]["id"]],
                                                 "sections": ["education", "signoff"]})
    for who, cookie in (("carer", carer), ("restricted staff", restricted)):
        assert system.api("GET", f"/api/v1/peps/{pep_id}/sections/education", cookie=cookie)[0] == 200, who
        status, body, _ = system.api("GET", f"/api/v1/peps/{pep_id}/sections/signoff", cookie=cookie)
        assert status == 404, (who, body)
        assert system.api("GET", f"/api/v1/peps/{pep_id}/sections/signoff/history", cookie=cookie)[0] == 404, who
        overview = system.api("GET", f"/api/v1/peps/{pep_id}", cookie=cookie)[1]
        assert "signoff" not in [s["key"] for s in overview["sections"]], who
    unrestricted = _staff(system, returned["dt"], {"children": None, "sections": None})
    assert system.api("GET", f"/api/v1/peps/{pep_id}/sections/signoff", cookie=unrestricted)[0] == 404
    for cookie in (returned["cw"], returned["dt"], returned["sw"]):
        assert system.api("GET", f"/api/v1/peps/{pep_id}/sections/signoff", cookie=cookie)[0] == 200


def test_the_json_export_leaves_the_sign_off_checklist_out_for_those_who_do_not_see_qa(
        system: RunningSystem, returned: dict[str, Any]) -> None:
    pep_id = returned["pep"]["id"]
    carer = system.sign_in("carer@demo.test")
    staff = _staff(system, returned["dt"], {"children": None, "sections": None})
    for who, cookie in (("carer", carer), ("staff", staff)):
        status, body, _ = system.api("GET", f"/api/v1/peps/{pep_id}/export.json", cookie=cookie)
        assert status == 200, (who, body)
        assert "signoff" not in [s["key"] for s in body["sections"]], who
        assert "signoff" not in [s["key"] for s in body["template"]["sections"]], who
        assert "attainment evidence is thin" not in str(body), who
        assert "education" in [s["key"] for s in body["sections"]], who
    body = system.api("GET", f"/api/v1/peps/{pep_id}/export.json", cookie=returned["cw"])[1]
    assert "attainment evidence is thin" in str(body)
