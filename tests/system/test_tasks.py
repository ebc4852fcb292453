"""Delegation on the whole system, Kent's flow through the API: the Virtual School delegates sections of a PEP
to the school's DT, who alone writes them; retracting gives them back; the DT's sign-off submits the task;
QA's return gives the school an amend task with the feedback; approval gives the social worker a finalise
task; finalising completes it. Nobody else sees or acts on the tasks."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest

from services.pep.domain.core_data import academic_year_label
from tests.conftest import RunningSystem
from tests.system.qa_steps import decide_in_qa
from tests.system.test_children import SW, new_child
from tests.system.test_peps import answer_what_is_missing, owners

DUE = (date.today() + timedelta(days=14)).isoformat()


@pytest.fixture(scope="module")
def cookies(system: RunningSystem) -> dict[str, str]:
    emails = {"caseworker": "caseworker@demo.test", "approver": "approver@demo.test", "sw": "sw@demo.test",
              "dt": "dt@demo.test", "dt2": "dt2@demo.test", "admin2": "admin@northshire.test",
              "carer": "carer@demo.test"}
    return {key: system.sign_in(email) for key, email in emails.items()}


def eventually(check: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    """Events take a moment to cross the bus: wait for `check` to give something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.2)


def emails_about(system: RunningSystem, to: str, task_id: str, since: float, subject: str,
                 timeout: float = 20) -> list[str]:
    """The plain-text bodies of emails to `to` with this subject that link to this task, once they arrive."""
    def found() -> list[str]:
        out = []
        for msg in system.mailbox.messages(to, since):
            body = msg.get_body(preferencelist=("plain",))
            text = body.get_content() if body else ""
            if str(msg["Subject"]) == subject and f"/tasks/{task_id}" in text:
                out.append(text)
        return out
    eventually(found, f"an email '{subject}' to {to}", timeout)
    time.sleep(0.5)  # and no second one
    return found()


def tray(system: RunningSystem, cookie: str, name: str, pep_id: str) -> list[dict[str, Any]]:
    status, body, _ = system.api("GET", f"/api/v1/tasks?tray={name}&pep_id={pep_id}", cookie=cookie)
    assert status == 200, body
    return list(body["items"])


def section_state(system: RunningSystem, cookie: str, pep_id: str, key: str) -> dict[str, Any]:
    overview = system.api("GET", f"/api/v1/peps/{pep_id}", cookie=cookie)[1]
    return next(s for s in overview["sections"] if s["key"] == key)


def save(system: RunningSystem, cookie: str, pep_id: str, key: str, answers: dict[str, Any]) -> tuple[int, Any]:
    version = system.api("GET", f"/api/v1/peps/{pep_id}/sections/{key}", cookie=cookie)[1]["version"]
    status, body, _ = system.api("PUT", f"/api/v1/peps/{pep_id}/sections/{key}",
                                 {"answers": answers, "version": version}, cookie=cookie)
    return status, body


def test_kents_flow_from_delegation_to_finalising(system: RunningSystem, cookies: dict[str, str]) -> None:
    cw, dt, sw = cookies["caseworker"], cookies["dt"], cookies["sw"]
    child = new_child(system, cw, social_worker_id=SW)  # at Oakfield, whose DT is Dana
    status, pep, _ = system.api("POST", f"/api/v1/children/{child['id']}/peps", {
        "kind": "initial", "term": "autumn", "academic_year": academic_year_label(date.today())}, cookie=sw)
    assert status == 201, pep
    pep_id = pep["id"]
    delegations = f"/api/v1/peps/{pep_id}/delegations"

    # Bad requests are named; only the Virtual School or the social worker delegates; others cannot see the PEP.
    status, body, _ = system.api("POST", delegations, {"sections": ["education", "no_such"], "due_date": DUE},
                                 cookie=cw)
    assert status == 422 and [e["field"] for e in body["errors"]] == ["sections"]
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    status, body, _ = system.api("POST", delegations, {"sections": ["education"], "due_date": yesterday}, cookie=cw)
    assert status == 422 and [e["field"] for e in body["errors"]] == ["due_date"]
    assert system.api("POST", delegations, {"sections": ["education"], "due_date": DUE}, cookie=dt)[0] == 403
    for outsider in ("dt2", "admin2"):
        assert system.api("POST", delegations, {"sections": ["education"], "due_date": DUE},
                          cookie=cookies[outsider])[0] == 404

    # The caseworker delegates three sections, one of them the social worker's, with a note.
    since = time.time() - 1
    status, task, _ = system.api("POST", delegations, {
        "sections": ["targets", "personal", "education"], "due_date": DUE, "note": "Meeting on the 3rd"}, cookie=cw)
    assert status == 201, task
    assert (task["status"], task["kind"], task["sections"]) == ("assigned", "complete_sections",
                                                                 ["personal", "education", "targets"])
    assert task["originator_name"] == "Cal Caseworker" and task["can_retract"]
    again = system.api("POST", delegations, {"sections": ["meeting"], "due_date": DUE}, cookie=cw)
    assert (again[0], again[1]["code"]) == (409, "already_delegated")

    # The DT is told by email, with a link to the task (no token in it: it opens after signing in).
    short = f"{child['given_name']} {child['family_name'][0]}."
    assigned = emails_about(system, "dt@demo.test", task["id"], since, f"A PEP task for you: {short}")
    assert len(assigned) == 1 and "by " in assigned[0]

    # The DT finds it in their tray; another school's DT and another LA cannot see it at all.
    current = tray(system, dt, "current", pep_id)
    assert [t["id"] for t in current] == [task["id"]] and current[0]["child_name"] == \
        f"{child['given_name']} {child['family_name']}" and not current[0]["can_retract"]
    for outsider in ("dt2", "admin2", "carer"):
        assert system.api("GET", f"/api/v1/tasks/{task['id']}", cookie=cookies[outsider])[0] == 404
        assert tray(system, cookies[outsider], "current", pep_id) == []
    assert system.api("POST", f"/api/v1/tasks/{task['id']}/retract", {"reason": "mine"}, cookie=cookies["dt2"])[0] \
        == 404
    assert system.api("POST", f"/api/v1/tasks/{task['id']}/retract", {"reason": "no"}, cookie=dt)[0] == 403

    # While delegated only the delegate writes those sections, even the social worker's own.
    eventually(lambda: section_state(system, cw, pep_id, "education")["delegated"], "pep hears of the task")
    assert not section_state(system, cw, pep_id, "education")["can_edit"]
    status, body = save(system, cw, pep_id, "education", {"strengths": "Kind"})
    assert (status, body["code"]) == (403, "delegated")
    assert save(system, sw, pep_id, "personal", {})[0] == 403
    assert save(system, dt, pep_id, "personal", {})[0] == 200
    assert save(system, dt, pep_id, "education", {"strengths": "Builds things"})[0] == 200
    assert section_state(system, cw, pep_id, "meeting")["can_edit"]  # not delegated: as before

    # Retracting gives the sections back and lands in the DT's retracted tray, with why.
    status, body, _ = system.api("POST", f"/api/v1/tasks/{task['id']}/retract", {"reason": "Wrong sections"},
                                 cookie=cw)
    assert status == 200 and body["status"] == "retracted"
    retracted = emails_about(system, "dt@demo.test", task["id"], since, f"Task taken back: PEP for {short}")
    assert len(retracted) == 1 and "Wrong sections" in retracted[0]
    assert [t["id"] for t in tray(system, dt, "retracted", pep_id)] == [task["id"]]
    assert tray(system, dt, "current", pep_id) == []
    history = system.api("GET", f"/api/v1/tasks/{task['id']}", cookie=dt)[1]["history"]
    assert [(h["action"], h["reason"], h["by_name"]) for h in history] == [
        ("assign", "Meeting on the 3rd", "Cal Caseworker"), ("retract", "Wrong sections", "Cal Caseworker")]
    eventually(lambda: section_state(system, sw, pep_id, "personal")["can_edit"], "sections given back")

    # Delegated again; the DT's sign-off is the contribution, which submits the task.
    first = task
    status, task, _ = system.api("POST", delegations, {"sections": ["education", "attainment", "targets"],
                                                      "due_date": DUE}, cookie=cw)
    assert status == 201, task
    eventually(lambda: section_state(system, cw, pep_id, "targets")["delegated"], "pep hears of the new task")
    by_owner = owners(system, dt, pep_id)
    answer_what_is_missing(system, sw, pep_id, by_owner.get("social_worker", set()))
    answer_what_is_missing(system, dt, pep_id, by_owner.get("designated_teacher", set())
                           | by_owner.get("young_person", set()) | by_owner.get("carer", set()))
    status, body, _ = system.api("POST", f"/api/v1/peps/{pep_id}/actions/submit", {}, cookie=dt)
    assert status == 200, body
    submitted = eventually(lambda: tray(system, dt, "submitted", pep_id), "the task is submitted")
    assert [t["id"] for t in submitted] == [task["id"]]
    sent = {t["id"]: t["status"] for t in tray(system, cw, "sent", pep_id)}  # what the caseworker delegated
    assert sent == {task["id"]: "submitted", first["id"]: "retracted"}

    # QA returns it: the school gets an amend task with the feedback, for the same sections.
    status, body = decide_in_qa(system, cw, pep_id, "return", "Make target 1 measurable")
    assert status == 200, body
    amend = eventually(lambda: tray(system, dt, "current", pep_id), "an amend task")[0]
    assert (amend["kind"], amend["feedback"], amend["sections"]) == ("amend", "Make target 1 measurable",
                                                                     ["education", "attainment", "targets"])
    assert system.api("POST", f"/api/v1/peps/{pep_id}/actions/submit", {}, cookie=dt)[0] == 200
    eventually(lambda: any(t["id"] == amend["id"] for t in tray(system, dt, "submitted", pep_id)), "amend submitted")

    # Approval gives the social worker a finalise task; finalising completes it.
    assert decide_in_qa(system, cookies["approver"], pep_id, "approve")[0] == 200
    finalise = eventually(lambda: tray(system, sw, "current", pep_id), "a finalise task")[0]
    assert (finalise["kind"], finalise["assignee_user_id"]) == ("finalise", SW)
    assert tray(system, dt, "current", pep_id) == []  # the school has nothing more to do
    assert system.api("POST", f"/api/v1/peps/{pep_id}/actions/finalise", {}, cookie=sw)[0] == 200
    done = eventually(lambda: tray(system, sw, "submitted", pep_id), "the finalise task completed")
    assert [(t["id"], t["status"]) for t in done] == [(finalise["id"], "completed")]
    everything = system.api("GET", f"/api/v1/peps/{pep_id}/tasks", cookie=cw)[1]
    # The targets ask for PP+, so the approvers had an "Approve funding" task too; finalising closes what is left.
    assert sorted((t["kind"], t["status"]) for t in everything) == [
        ("amend", "completed"), ("approve_funding", "completed"), ("complete_sections", "completed"),
        ("complete_sections", "retracted"), ("finalise", "completed")]

    # The next PEP appears, with when its meeting is due from this one's.
    nxt = system.api("GET", f"/api/v1/children/{child['id']}/peps", cookie=sw)[1][0]
    assert nxt["id"] != pep_id and nxt["kind"] == "termly_review" and nxt["status"] == "created"
    dates = eventually(lambda: system.api("GET", f"/api/v1/peps/{nxt['id']}/deadlines", cookie=cw)[1]["based_on"]
                       and system.api("GET", f"/api/v1/peps/{nxt['id']}/deadlines", cookie=cw)[1],
                       "delegation hears the PEP was finalised")
    assert dates["based_on"] == "last_meeting" and [d["key"] for d in dates["deadlines"]] == ["next_pep"]


def test_a_pep_that_is_not_being_written_cannot_be_delegated(system: RunningSystem,
                                                             cookies: dict[str, str]) -> None:
    cw = cookies["caseworker"]
    child = new_child(system, cw, social_worker_id=SW)
    status, pep, _ = system.api("POST", f"/api/v1/children/{child['id']}/peps", {
        "kind": "initial", "term": "autumn", "academic_year": academic_year_label(date.today())}, cookie=cw)
    assert status == 201, pep
    assert system.api("POST", f"/api/v1/peps/{pep['id']}/actions/cancel", {"reason": "Duplicate"},
                      cookie=cw)[0] == 200
    status, body, _ = system.api("POST", f"/api/v1/peps/{pep['id']}/delegations",
                                 {"sections": ["education"], "due_date": DUE}, cookie=cw)
    assert (status, body["code"]) == (409, "pep_not_open")


def test_without_a_date_the_las_timescale_sets_it_and_says_how(system: RunningSystem,
                                                               cookies: dict[str, str]) -> None:
    cw = cookies["caseworker"]
    child = new_child(system, cw, social_worker_id=SW)
    meeting = (date.today() + timedelta(days=30)).isoformat()
    status, pep, _ = system.api("POST", f"/api/v1/children/{child['id']}/peps", {
        "kind": "initial", "term": "autumn", "academic_year": academic_year_label(date.today()),
        "meeting_date": meeting}, cookie=cw)
    assert status == 201, pep
    status, task, _ = system.api("POST", f"/api/v1/peps/{pep['id']}/delegations", {"sections": ["education"]},
                                 cookie=cw)
    assert status == 201, task
    # The same date and words the LA's timescales page previews for this meeting.
    preview = system.api("POST", f"/api/v1/organisations/{child['la_id']}/timescales/preview",
                         {"meeting_date": meeting}, cookie=cw)[1]
    dt_return = next(d for d in preview["deadlines"] if d["key"] == "dt_return")
    assert (task["due_date"], task["due_rule"]) == (dt_return["due"], dt_return["explanation"])
    assert task["due_date"] > meeting and "after the meeting on" in task["due_rule"]
    dates = system.api("GET", f"/api/v1/peps/{pep['id']}/deadlines", cookie=cookies["dt"])[1]
    assert dates["based_on"] == "meeting" and \
        next(d for d in dates["deadlines"] if d["key"] == "dt_return")["due"] == task["due_date"]

    # The meeting moves a week: the task's date follows, and its history says so.
    moved = (date.fromisoformat(meeting) + timedelta(days=7)).isoformat()
    status, body = save(system, cw, pep["id"], "meeting", {"meeting_date": moved})
    assert status == 200, body
    later = next(d for d in system.api("POST", f"/api/v1/organisations/{child['la_id']}/timescales/preview",
                                        {"meeting_date": moved}, cookie=cw)[1]["deadlines"] if d["key"] == "dt_return")
    rescheduled = eventually(lambda: (t := system.api("GET", f"/api/v1/tasks/{task['id']}", cookie=cw)[1])[
        "due_date"] == later["due"] and t, "the task follows the meeting")
    assert rescheduled["due_rule"] == later["explanation"]
    assert [h["action"] for h in rescheduled["history"]] == ["assign", "reschedule"]

    # Without a meeting date there is nothing to count from: the date must be given.
    child = new_child(system, cw, social_worker_id=SW)
    status, pep, _ = system.api("POST", f"/api/v1/children/{child['id']}/peps", {
        "kind": "initial", "term": "autumn", "academic_year": academic_year_label(date.today())}, cookie=cw)
    status, body, _ = system.api("POST", f"/api/v1/peps/{pep['id']}/delegations", {"sections": ["education"]},
                                 cookie=cw)
    assert status == 422 and [e["field"] for e in body["errors"]] == ["due_date"]


def test_the_next_termly_pep_is_delegated_on_schedule_once(system: RunningSystem, cookies: dict[str, str]) -> None:
    cw = cookies["caseworker"]
    child = new_child(system, cw, social_worker_id=SW)
    year = academic_year_label(date.today())
    status, first, _ = system.api("POST", f"/api/v1/children/{child['id']}/peps", {
        "kind": "initial", "term": "autumn", "academic_year": year}, cookie=cw)
    assert status == 201, first
    status, task, _ = system.api("POST", f"/api/v1/peps/{first['id']}/delegations", {
        "sections": ["targets", "education"], "due_date": DUE}, cookie=cw)
    assert status == 201, task
    assert system.api("POST", f"/api/v1/peps/{first['id']}/actions/cancel", {"reason": "Moved school"},
                      cookie=cw)[0] == 200
    # The next termly PEP meets in 10 days: its delegate date (10 working days before) has come.
    meeting = (date.today() + timedelta(days=10)).isoformat()
    status, nxt, _ = system.api("POST", f"/api/v1/children/{child['id']}/peps", {
        "kind": "termly_review", "term": "spring", "academic_year": year, "meeting_date": meeting}, cookie=cw)
    assert status == 201, nxt
    # Two schedulers at once (this one ticks every 0.2 s; the system's own every minute).
    try:
        system.local.start_replica("delegation", "delegation-sched", {"EPEP_REMINDER_INTERVAL_SECONDS": "0.2"})
        made = eventually(lambda: system.api("GET", f"/api/v1/peps/{nxt['id']}/tasks", cookie=cw)[1],
                          "the PEP delegated on schedule")
        time.sleep(1.5)
    finally:
        system.local.stop("delegation-sched")
    made = system.api("GET", f"/api/v1/peps/{nxt['id']}/tasks", cookie=cw)[1]
    assert len(made) == 1, made
    assert (made[0]["kind"], made[0]["sections"], made[0]["originator_name"], made[0]["status"]) == \
        ("complete_sections", ["education", "targets"], "Cal Caseworker", "assigned")
    assert made[0]["note"].startswith("Delegated on schedule") and "after the meeting on" in made[0]["due_rule"]


def test_an_la_decides_how_long_finished_tasks_stay_in_the_trays(system: RunningSystem,
                                                                  cookies: dict[str, str]) -> None:
    cw, dt, admin = cookies["caseworker"], cookies["dt"], system.sign_in("admin@demo.test")
    child = new_child(system, cw, social_worker_id=SW)
    status, pep, _ = system.api("POST", f"/api/v1/children/{child['id']}/peps", {
        "kind": "initial", "term": "autumn", "academic_year": academic_year_label(date.today())}, cookie=cw)
    status, task, _ = system.api("POST", f"/api/v1/peps/{pep['id']}/delegations",
                                 {"sections": ["education"], "due_date": DUE}, cookie=cw)
    assert status == 201, task
    assert system.api("POST", f"/api/v1/tasks/{task['id']}/retract", {"reason": "Not needed"}, cookie=cw)[0] == 200
    # Retracted 3 days ago, as far as the trays can tell.
    system.admin_sql("UPDATE delegation.tasks SET updated_at = now() - interval '3 days' WHERE id = $1",
                     uuid.UUID(task["id"]))
    settings = f"/api/v1/organisations/{child['la_id']}/tray-settings"
    assert system.api("GET", settings, cookie=cw)[1] == {"tray_days": 30}
    assert [t["id"] for t in tray(system, dt, "retracted", pep["id"])] == [task["id"]]
    try:
        assert system.api("PUT", settings, {"tray_days": 2}, cookie=cw)[0] == 403  # the VS admin's decision
        status, body, _ = system.api("PUT", settings, {"tray_days": 0}, cookie=admin)
        assert status == 422 and [e["field"] for e in body["errors"]] == ["tray_days"]
        assert system.api("PUT", settings, {"tray_days": 2}, cookie=admin)[1] == {"tray_days": 2}
        assert tray(system, dt, "retracted", pep["id"]) == []
        for outsider in ("admin2", "dt"):
            assert system.api("GET", settings, cookie=cookies[outsider])[0] == 404
            assert system.api("PUT", settings, {"tray_days": 9}, cookie=cookies[outsider])[0] == 404
    finally:
        assert system.api("PUT", settings, {"tray_days": 30}, cookie=admin)[0] == 200
