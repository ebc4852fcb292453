"""Issue 22's statutory flow as Kent's guide runs it, through the API, from delegation to the next PEP: the
caseworker delegates the school's sections; the social worker writes theirs; the DT writes the school's, with a
Virtual School PP+ target and a School-funded one and the next meeting agreed, and submits the contribution; QA
returns it for changes; the DT amends and resubmits; QA approves; only the PP+ target reaches the Virtual School,
and the approver decides it from the "Approve funding" task in their tray; the social worker finalises; the next PEP
carries the agreed meeting. Every email of the journey arrives once per recipient."""

from __future__ import annotations

import time
from collections import Counter
from datetime import date, timedelta

import pytest

from services.pep.domain.core_data import academic_year_label
from shared.workdays import is_working_day
from tests.conftest import RunningSystem
from tests.system.qa_steps import decide_in_qa
from tests.system.test_children import LA, SW, new_child
from tests.system.test_peps import answer_what_is_missing, owners
from tests.system.test_qa import last_working_day_before
from tests.system.test_tasks import DUE, eventually, save, section_state, tray

PEOPLE = {"caseworker": "caseworker@demo.test", "approver": "approver@demo.test", "sw": "sw@demo.test",
          "dt": "dt@demo.test"}


@pytest.fixture(scope="module")
def cookies(system: RunningSystem) -> dict[str, str]:
    return {key: system.sign_in(email) for key, email in PEOPLE.items()}


def _next_working_day_after(day: date) -> date:
    day += timedelta(days=1)
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def _mail(system: RunningSystem, since: float, *names: str) -> list[tuple[str, str, str]]:
    """(recipient, subject, plain body) of every email sent since `since` that names the child (by any of `names`):
    the journey's own, not the sign-in notices of the tests' sessions."""
    out = []
    for msg in system.mailbox.messages(since=since):
        body = msg.get_body(preferencelist=("plain",))
        subject, text = str(msg["Subject"]), body.get_content() if body else ""
        if any(name in subject or name in text for name in names):
            out.append((str(msg["To"]).lower(), subject, text))
    return out


def test_kents_flow_from_delegation_to_the_next_pep(system: RunningSystem, cookies: dict[str, str]) -> None:
    cw, dt, sw, approver = (cookies[k] for k in ("caseworker", "dt", "sw", "approver"))
    since = time.time() - 1
    child = new_child(system, cw, social_worker_id=SW)  # at Oakfield, whose DT is Dana
    full_name = f"{child['given_name']} {child['family_name']}"
    status, pep, _ = system.api("POST", f"/api/v1/children/{child['id']}/peps", {
        "kind": "initial", "term": "autumn", "academic_year": academic_year_label(date.today())}, cookie=sw)
    assert status == 201, pep
    pep_id = pep["id"]

    # The caseworker delegates the school's sections to the DT.
    status, task, _ = system.api("POST", f"/api/v1/peps/{pep_id}/delegations", {
        "sections": ["education", "attainment", "targets", "meeting"], "due_date": DUE}, cookie=cw)
    assert status == 201, task
    eventually(lambda: section_state(system, cw, pep_id, "targets")["delegated"], "pep hears of the task")

    # The social worker writes their part; the DT writes the school's, with two funded targets and the next meeting.
    by_owner = owners(system, dt, pep_id)
    answer_what_is_missing(system, sw, pep_id, by_owner.get("social_worker", set()))
    answer_what_is_missing(system, dt, pep_id, by_owner.get("designated_teacher", set())
                           | by_owner.get("young_person", set()) | by_owner.get("carer", set()))
    rows = system.api("GET", f"/api/v1/peps/{pep_id}/sections/targets", cookie=dt)[1]["answers"]["current_targets"]
    rows[0] = {**rows[0], "what": "Reading tuition", "area_of_focus": "academic_achievement",
               "intervention_type": "literacy_intervention", "needs_funding": True, "funding_type": "vs_pp_plus",
               "amount": "400.00"}
    rows[1] = {**rows[1], "what": "Homework club", "needs_funding": True, "funding_type": "school_funding",
               "amount": "100.00"}
    assert save(system, dt, pep_id, "targets", {"current_targets": rows[:2]})[0] == 200
    meeting = last_working_day_before(date.today())
    next_meeting = _next_working_day_after(date.today() + timedelta(days=42))
    status, body = save(system, dt, pep_id, "meeting", {
        "meeting_date": meeting.isoformat(), "next_meeting_date": next_meeting.isoformat(),
        "next_meeting_time": "10:30", "next_meeting_venue": "Oakfield Primary, <b>Room 4</b> & library"})
    assert status == 200, body

    # Submit Contribution: the school's part; the task is submitted and the PEP goes to QA (Kent's rule).
    status, body, _ = system.api("POST", f"/api/v1/peps/{pep_id}/actions/submit", {}, cookie=dt)
    assert status == 200, body
    assert [t["id"] for t in eventually(lambda: tray(system, dt, "submitted", pep_id), "the task is submitted")] \
        == [task["id"]]
    assert system.api("GET", f"/api/v1/peps/{pep_id}", cookie=cw)[1]["status"] == "submitted"

    # QA returns it for changes: the school's amend task carries the reason; the DT amends and resubmits.
    status, body = decide_in_qa(system, cw, pep_id, "return", "Make target 1 measurable")
    assert status == 200, body
    amend = eventually(lambda: [t for t in tray(system, dt, "current", pep_id) if t["kind"] == "amend"],
                       "the DT's amend task")[0]
    assert amend["feedback"].splitlines()[0] == "Make target 1 measurable"
    rows[0]["success_criteria"] = "Reading age up by 6 months by July"
    assert save(system, dt, pep_id, "targets", {"current_targets": rows[:2]})[0] == 200
    assert system.api("POST", f"/api/v1/peps/{pep_id}/actions/submit", {}, cookie=dt)[0] == 200
    eventually(lambda: any(t["id"] == amend["id"] for t in tray(system, dt, "submitted", pep_id)), "amend submitted")

    # QA approves: no approval without a decided review; the social worker gets a finalise task.
    status, body = decide_in_qa(system, cw, pep_id, "approve")
    assert status == 200 and body["status"] == "approved", body

    # Only the PP+ target reaches the Virtual School: the approver decides it from the tray's task.
    [fund_task] = eventually(lambda: [t for t in tray(system, approver, "current", pep_id)
                                      if t["kind"] == "approve_funding"], "the approver's Approve funding task")
    assert [(f["target"], f["amount"], f["decision"]) for f in fund_task["funding"]] == [(1, "400.00", None)]
    queued = system.api("GET", f"/api/v1/funding?la_id={LA}&status=all&pep_id={pep_id}", cookie=approver)[1]["items"]
    assert [(r["target"], r["funding_type"]) for r in queued] == [(1, "vs_pp_plus")]
    status, body, _ = system.api("POST", f"/api/v1/funding/{queued[0]['id']}/decide",
                                 {"decision": "approve", "amount": "350.00"}, cookie=approver)
    assert status == 200 and body["status"] == "approved", body
    eventually(lambda: system.api("GET", f"/api/v1/tasks/{fund_task['id']}", cookie=approver)[1]["status"]
               == "completed", "the Approve funding task completes")
    funding = eventually(lambda: (f := system.api("GET", f"/api/v1/peps/{pep_id}", cookie=dt)[1]["funding"])
                         and f[0]["decision"] and f, "the PEP shows the decision")
    assert [(f["target"], f["route"], f["decision"], f["amount_approved"]) for f in funding] == [
        (1, "virtual_school", "approved", "350.00"), (2, "recorded", None, None)]

    # The social worker finalises from their task.
    finalise = eventually(lambda: [t for t in tray(system, sw, "current", pep_id) if t["kind"] == "finalise"],
                          "the social worker's finalise task")[0]
    assert system.api("POST", f"/api/v1/peps/{pep_id}/actions/finalise", {}, cookie=sw)[0] == 200
    eventually(lambda: system.api("GET", f"/api/v1/tasks/{finalise['id']}", cookie=sw)[1]["status"] == "completed",
               "the finalise task completes")
    done = system.api("GET", f"/api/v1/peps/{pep_id}", cookie=sw)[1]
    assert done["status"] == "finalised"

    # The next PEP carries the agreed meeting: its date, time and place; the child's next PEP is due then.
    nxt = next(p for p in system.api("GET", f"/api/v1/children/{child['id']}/peps", cookie=sw)[1]
               if p["id"] != pep_id)
    assert (nxt["kind"], nxt["status"], nxt["meeting_date"]) == ("termly_review", "created", next_meeting.isoformat())
    answers = system.api("GET", f"/api/v1/peps/{nxt['id']}/sections/meeting", cookie=dt)[1]["answers"]
    assert (answers["meeting_date"], answers["meeting_time"], answers["location"]) == (
        next_meeting.isoformat(), "10:30", "Oakfield Primary, <b>Room 4</b> & library")

    # Every email of the journey arrived once per recipient; the people who act were each told.
    time.sleep(2)  # anything sent twice would have arrived by now
    short = f"{child['given_name']} {child['family_name'][0]}."
    # By the full name every body gives: other tests' children are "Alex T." too, and their emails can arrive now.
    mail = _mail(system, since, full_name)
    twice = [m[:2] for m, n in Counter(mail).items() if n > 1]
    assert twice == [], twice
    sent = Counter((to, subject) for to, subject, _ in mail)
    expected = {
        ("dt@demo.test", f"A PEP task for you: {short}"): 2,  # the delegated sections, then the amendment
        ("dt@demo.test", f"PEP returned for amendment: {short}"): 1,
        ("caseworker@demo.test", f"PEP submitted for {short}"): 1,
        ("caseworker@demo.test", f"PEP resubmitted after amendment: {short}"): 1,
        ("approver@demo.test", f"PP+ funding approved for {short}"): 0,  # the approver decided it: not told
        ("sw@demo.test", f"A PEP task for you: {short}"): 1,  # finalise
        ("sw@demo.test", f"Invitation: PEP meeting for {short}"): 2,  # this PEP's meeting, then the next one's
        ("dt@demo.test", f"Invitation: PEP meeting for {short}"): 2,
    }
    assert {k: sent[k] for k in expected} == expected, sorted(sent.items())
    bodies = " ".join(b for _, _, b in mail)
    assert full_name in bodies
