"""Submit Contribution is the school's part (issue 22, item 2; Kent's guide): the DT's submission needs only the
school's sections, ends the school's task and never waits on the social worker's section. The PEP goes to QA when
every part the LA's rule waits for is in: when the school submits (Kent, the default) or once the social worker
has completed their part too (ePEP Online). Checked by its effect where it lands: delegation's tasks and qa's
queue."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest

from services.pep.domain.core_data import academic_year_label
from shared import demo
from tests.conftest import RunningSystem
from tests.system.qa_steps import decide_in_qa
from tests.system.test_caseload import caseload
from tests.system.test_children import SW, new_child
from tests.system.test_peps import answer_what_is_missing, owners
from tests.system.test_tasks import eventually, tray

LA = str(demo.LA_ID)
SETTINGS = f"/api/v1/organisations/{LA}/submission-settings"
DUE = (date.today() + timedelta(days=14)).isoformat()
SCHOOL_SECTIONS = ("designated_teacher", "young_person", "carer")


@pytest.fixture(scope="module")
def cookies(system: RunningSystem) -> dict[str, str]:
    emails = {"admin": "admin@demo.test", "caseworker": "caseworker@demo.test", "sw": "sw@demo.test",
              "dt": "dt@demo.test", "staff": "staff@demo.test", "dt2": "dt2@demo.test",
              "admin2": "admin@northshire.test", "carer": "carer@demo.test"}
    return {key: system.sign_in(email) for key, email in emails.items()}


@pytest.fixture
def rule(system: RunningSystem, cookies: dict[str, str]) -> Iterator[Any]:
    """Set the demo LA's rule as its VS admin would; Kent's default again afterwards, for the tests that follow."""
    def choose(goes_to_qa: str) -> None:
        status, body, _ = system.api("PUT", SETTINGS, {"goes_to_qa": goes_to_qa}, cookie=cookies["admin"])
        assert (status, body) == (200, {"goes_to_qa": goes_to_qa})
    yield choose
    choose("school_submits")


def delegated_pep(system: RunningSystem, cookies: dict[str, str],
                  meeting_date: str | None = None) -> tuple[str, dict[str, Any]]:
    """A new child at Oakfield with a PEP whose school sections the caseworker delegated to Dana (the DT)."""
    child = new_child(system, cookies["caseworker"], social_worker_id=SW)
    status, pep, _ = system.api("POST", f"/api/v1/children/{child['id']}/peps", {
        "kind": "initial", "term": "autumn", "academic_year": academic_year_label(date.today()),
        "meeting_date": meeting_date}, cookie=cookies["sw"])
    assert status == 201, pep
    status, task, _ = system.api("POST", f"/api/v1/peps/{pep['id']}/delegations", {
        "sections": ["education", "attainment", "targets", "meeting"], "due_date": DUE}, cookie=cookies["caseworker"])
    assert status == 201, task
    eventually(lambda: tray(system, cookies["dt"], "current", pep["id"]), "the DT's task")
    return pep["id"], task


def school_sections(system: RunningSystem, cookie: str, pep_id: str) -> set[str]:
    by_owner = owners(system, cookie, pep_id)
    return set().union(*(by_owner.get(o, set()) for o in SCHOOL_SECTIONS))


def in_qa_queue(system: RunningSystem, cookie: str, pep_id: str) -> bool:
    status, queue, _ = system.api("GET", f"/api/v1/qa/queue?la_id={LA}", cookie=cookie)
    assert status == 200, queue
    return any(item["pep_id"] == pep_id for item in queue["items"])


def sign_off(system: RunningSystem, cookie: str, pep_id: str) -> dict[str, Any]:
    status, body, _ = system.api("GET", f"/api/v1/peps/{pep_id}/sign-off", cookie=cookie)
    assert status == 200, body
    return dict(body)


def test_the_rule_is_the_las_vs_admins_and_kents_by_default(system: RunningSystem, cookies: dict[str, str],
                                                          rule: Any) -> None:
    assert system.api("GET", SETTINGS, cookie=cookies["caseworker"])[1] == {"goes_to_qa": "school_submits"}
    status, body, _ = system.api("PUT", SETTINGS, {"goes_to_qa": "social_worker_completes"},
                                 cookie=cookies["caseworker"])
    assert (status, body["code"]) == (403, "forbidden")  # the Virtual School reads it; its admin changes it
    for outsider in ("sw", "dt", "admin2"):
        assert system.api("GET", SETTINGS, cookie=cookies[outsider])[0] == 404
    status, body, _ = system.api("PUT", SETTINGS, {"goes_to_qa": "whenever"}, cookie=cookies["admin"])
    assert status == 422 and [e["field"] for e in body["errors"]] == ["goes_to_qa"]
    rule("social_worker_completes")
    assert system.api("GET", SETTINGS, cookie=cookies["caseworker"])[1] == {"goes_to_qa": "social_worker_completes"}


def test_when_the_social_worker_completes_the_school_contributes_and_the_pep_waits(
        system: RunningSystem, cookies: dict[str, str], rule: Any) -> None:
    rule("social_worker_completes")
    dt, sw, cw = cookies["dt"], cookies["sw"], cookies["caseworker"]
    pep_id, task = delegated_pep(system, cookies)

    # The DT cannot submit with their own sections incomplete: the refusal names only the school's gaps, and
    # the sign-off lists only what they can fix.
    status, body, _ = system.api("POST", f"/api/v1/peps/{pep_id}/actions/submit", {}, cookie=dt)
    assert (status, body["code"]) == (422, "incomplete") and body["missing"]
    mine = school_sections(system, dt, pep_id)
    assert {g["section"] for g in body["missing"]} <= mine and "personal" not in {g["section"] for g in body["missing"]}
    state = sign_off(system, dt, pep_id)
    assert state["my_part"] == "school" and state["goes_to_qa"] == "social_worker_completes"
    assert {g["section"] for g in state["missing"]} == {g["section"] for g in body["missing"]}
    assert {g["section"] for g in sign_off(system, sw, pep_id)["missing"]} <= {"personal"}

    # With the school's sections answered and the social worker's section still empty, the DT submits.
    answer_what_is_missing(system, dt, pep_id, mine)
    assert system.api("GET", f"/api/v1/peps/{pep_id}/missing", cookie=dt)[1] == []
    assert system.api("GET", f"/api/v1/peps/{pep_id}/missing", cookie=sw)[1]  # the social worker's part is not in
    status, body, _ = system.api("POST", f"/api/v1/peps/{pep_id}/actions/submit", {}, cookie=dt)
    assert status == 200 and body["status"] == "in_progress", body
    # The school's task is submitted (delegation heard); the PEP waits, not in QA's queue.
    submitted = eventually(lambda: tray(system, dt, "submitted", pep_id), "the school's task submitted")
    assert [(t["id"], t["status"]) for t in submitted] == [(task["id"], "submitted")]
    assert tray(system, dt, "current", pep_id) == []
    school = next(p for p in sign_off(system, cw, pep_id)["parts"] if p["part"] == "school")
    assert school["submitted_at"] and school["submitted_by_name"] == "Dana Teacher" and school["setting_id"]
    assert not in_qa_queue(system, cw, pep_id)
    # The school's part is in: its sections are read-only for the school (and say so) until QA returns the PEP.
    today = date.today()
    why = f"You submitted the school's contribution on {today.day} {today:%B %Y}"
    overview = system.api("GET", f"/api/v1/peps/{pep_id}", cookie=dt)[1]
    assert not any(s["can_edit"] for s in overview["sections"]) and "submit" not in overview["actions"]
    education = system.api("GET", f"/api/v1/peps/{pep_id}/sections/education", cookie=dt)[1]
    assert education["can_edit"] is False
    status, body, _ = system.api("PUT", f"/api/v1/peps/{pep_id}/sections/education",
                                 {"answers": {}, "version": education["version"]}, cookie=dt)
    assert (status, body["code"]) == (409, "contribution_submitted") and body["title"].startswith(why), body
    assert "the Virtual School can return it for changes" in body["title"]
    status, body, _ = system.api("POST", f"/api/v1/peps/{pep_id}/actions/submit", {}, cookie=dt)
    assert (status, body["code"]) == (409, "contribution_submitted"), body
    assert sign_off(system, dt, pep_id)["can_submit"] is False

    # The social worker completes their part, which needs only their own section: then the PEP goes to QA.
    status, body, _ = system.api("POST", f"/api/v1/peps/{pep_id}/actions/submit", {}, cookie=sw)
    assert (status, body["code"]) == (422, "incomplete")
    assert {g["section"] for g in body["missing"]} == {"personal"}
    answer_what_is_missing(system, sw, pep_id, {"personal"})
    status, body, _ = system.api("POST", f"/api/v1/peps/{pep_id}/actions/submit", {}, cookie=sw)
    assert status == 200 and body["status"] == "submitted", body
    eventually(lambda: in_qa_queue(system, cw, pep_id), "the PEP in QA's queue")

    # QA returns it: the school gets an amend task, and its resubmission sends the PEP straight back to QA (the
    # social worker's part is still in).
    assert decide_in_qa(system, cw, pep_id, "return", "Make target 1 measurable")[0] == 200
    amend = eventually(lambda: tray(system, dt, "current", pep_id), "an amend task")[0]
    assert amend["kind"] == "amend"
    assert system.api("GET", f"/api/v1/peps/{pep_id}/sections/education", cookie=dt)[1]["can_edit"] is True
    state = sign_off(system, dt, pep_id)
    assert [p["submitted_at"] is None for p in state["parts"]] == [True, False]  # the school's taken back
    status, body, _ = system.api("POST", f"/api/v1/peps/{pep_id}/actions/submit", {}, cookie=dt)
    assert status == 200 and body["status"] == "submitted", body
    eventually(lambda: any(t["id"] == amend["id"] for t in tray(system, dt, "submitted", pep_id)),
               "the amend task submitted")
    eventually(lambda: in_qa_queue(system, cw, pep_id), "the PEP back in QA's queue")

    # Someone outside the child: 404, whatever they ask.
    for outsider in ("dt2", "admin2"):
        assert system.api("POST", f"/api/v1/peps/{pep_id}/actions/submit", {}, cookie=cookies[outsider])[0] == 404
        assert system.api("GET", f"/api/v1/peps/{pep_id}/sign-off", cookie=cookies[outsider])[0] == 404
        assert system.api("GET", f"/api/v1/peps/{pep_id}/missing", cookie=cookies[outsider])[0] == 404


def test_when_the_school_submits_the_pep_goes_to_qa_without_the_social_workers_part(
        system: RunningSystem, cookies: dict[str, str], rule: Any) -> None:
    rule("school_submits")
    dt, cw = cookies["dt"], cookies["caseworker"]
    pep_id, task = delegated_pep(system, cookies)
    answer_what_is_missing(system, dt, pep_id, school_sections(system, dt, pep_id))
    assert system.api("GET", f"/api/v1/peps/{pep_id}/missing", cookie=cookies["sw"])[1]  # personal is empty
    # Setting staff the DT lets write the school's sections may submit the contribution too.
    status, body, _ = system.api("POST", f"/api/v1/peps/{pep_id}/actions/submit", {}, cookie=cookies["staff"])
    assert status == 200 and body["status"] == "submitted", body
    eventually(lambda: in_qa_queue(system, cw, pep_id), "the PEP in QA's queue")
    submitted = eventually(lambda: tray(system, dt, "submitted", pep_id), "the school's task submitted")
    assert [t["id"] for t in submitted] == [task["id"]]
    # Submitted: nobody's part can be submitted again, and the school can no longer change it.
    status, body, _ = system.api("POST", f"/api/v1/peps/{pep_id}/actions/submit", {}, cookie=cookies["sw"])
    assert (status, body["code"]) == (409, "not_allowed")


def test_the_virtual_schools_sign_off_lists_only_what_it_can_fix_and_what_is_with_the_school(
        system: RunningSystem, cookies: dict[str, str], rule: Any) -> None:
    rule("school_submits")
    dt, cw = cookies["dt"], cookies["caseworker"]
    pep_id, _ = delegated_pep(system, cookies)
    held = {"education", "attainment", "targets", "meeting"}
    school_gaps = Counter(g["section"] for g in system.api("GET", f"/api/v1/peps/{pep_id}/missing", cookie=dt)[1])
    assert school_gaps.keys() & held  # the school has answers to give in the sections delegated to it
    # The Virtual School cannot write those while the school's task is open: they are not its gaps but with the
    # school, each with what is still missing there.
    state = sign_off(system, cw, pep_id)
    assert state["my_part"] is None and state["missing"]
    assert not {g["section"] for g in state["missing"]} & held
    assert {s["section"]: s["missing"] for s in state["with_school"]} == {k: school_gaps[k] for k in held}
    assert not {g["section"] for g in system.api("GET", f"/api/v1/peps/{pep_id}/missing", cookie=cw)[1]} & held
    # The school sees its own gaps, never "with the school".
    mine = sign_off(system, dt, pep_id)
    assert mine["with_school"] == [] and {g["section"] for g in mine["missing"]} & held


def test_the_caseload_does_not_count_the_school_late_once_its_contribution_is_in(
        system: RunningSystem, cookies: dict[str, str], rule: Any) -> None:
    rule("social_worker_completes")
    dt, sw = cookies["dt"], cookies["sw"]
    long_ago = (date.today() - timedelta(days=70)).isoformat()  # its DT return date (10 working days on) has passed
    pep_id, _ = delegated_pep(system, cookies, meeting_date=long_ago)

    def entry() -> dict[str, Any]:
        return next((i for i in caseload(system, sw)["items"] if i["pep_id"] == pep_id), {"categories": []})
    eventually(lambda: "overdue" in entry()["categories"], "the PEP not submitted by the DT return date")
    assert any(r.startswith("Not submitted by") for r in entry()["reasons"])

    # The school's part is in; the PEP waits for the social worker's: the school is no longer late.
    answer_what_is_missing(system, dt, pep_id, school_sections(system, dt, pep_id))
    status, body, _ = system.api("POST", f"/api/v1/peps/{pep_id}/actions/submit", {}, cookie=dt)
    assert status == 200 and body["status"] == "in_progress", body
    eventually(lambda: "overdue" not in entry()["categories"], "the school not counted late")
    assert entry()["pep_status"] == "in_progress" and entry()["reasons"] == []
