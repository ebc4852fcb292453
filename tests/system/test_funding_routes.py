"""Funding by type (issue 22, Kent's guide): each target's funding type decides its route. A submitted PEP with a
Virtual School PP+ target and a School-funded target: only the PP+ one reaches qa's queue (in the template's words)
and the approvers' trays, as an "Approve funding" task naming the child, the target and the amount, due by the LA's
approval rule; the school-funded one is recorded in the PEP only. The approver approves less than asked: the task is
complete, and the PEP shows the decision, the amount and the date on the target, as does its PDF ("VSK
Approval"). Another LA's decider finds none of it."""

from __future__ import annotations

import html
import time
from datetime import date, datetime
from typing import Any

import pytest

from services.pep.domain.core_data import academic_year_label
from services.pep.target_funding import LONDON
from tests.conftest import RunningSystem
from tests.system.test_children import LA, SW, new_child
from tests.system.test_pep_files import fetch, pdf_text
from tests.system.test_peps import answer_what_is_missing, owners
from tests.system.test_qa import last_working_day_before
from tests.system.test_tasks import emails_about, eventually, save, tray
from tests.system.test_words_people_read import _portal_page

PP_PLUS = "Virtual School PP+ (up to the end of key stage 4)"
TUTORING = "<b>Tutoring</b> & reading"  # what a school may write: shown as written, escaped once


@pytest.fixture(scope="module")
def cookies(system: RunningSystem) -> dict[str, str]:
    emails = {"caseworker": "caseworker@demo.test", "approver": "approver@demo.test", "sw": "sw@demo.test",
              "dt": "dt@demo.test", "other_la": "admin@northshire.test"}
    return {key: system.sign_in(email) for key, email in emails.items()}


def _pep_with_two_funded_targets(system: RunningSystem, cookies: dict[str, str]) -> tuple[dict[str, Any], str]:
    """A child's PEP, written and submitted by the DT, whose target 1 asks for £400.00 of the Virtual School's PP+
    and target 2 is £100.00 of school funding."""
    sw, dt = cookies["sw"], cookies["dt"]
    child = new_child(system, cookies["caseworker"], social_worker_id=SW)
    status, pep, _ = system.api("POST", f"/api/v1/children/{child['id']}/peps", {
        "kind": "initial", "term": "autumn", "academic_year": academic_year_label(date.today())}, cookie=sw)
    assert status == 201, pep
    by_owner = owners(system, dt, pep["id"])
    answer_what_is_missing(system, sw, pep["id"], by_owner.get("social_worker", set()))
    answer_what_is_missing(system, dt, pep["id"], by_owner.get("designated_teacher", set())
                           | by_owner.get("young_person", set()) | by_owner.get("carer", set()))
    rows = system.api("GET", f"/api/v1/peps/{pep['id']}/sections/targets", cookie=dt)[1]["answers"]["current_targets"]
    assert len(rows) >= 2
    rows[0] = {**rows[0], "what": TUTORING, "area_of_focus": "academic_achievement",
               "intervention_type": "literacy_intervention", "needs_funding": True, "funding_type": "vs_pp_plus",
               "amount": "400.00"}
    rows[1] = {**rows[1], "what": "Homework club", "needs_funding": True, "funding_type": "school_funding",
               "amount": "100.00"}
    status, body = save(system, dt, pep["id"], "targets", {"current_targets": rows[:2]})
    assert status == 200, body
    status, body = save(system, dt, pep["id"], "meeting",
                        {"meeting_date": last_working_day_before(date.today()).isoformat()})
    assert status == 200, body
    status, body, _ = system.api("POST", f"/api/v1/peps/{pep['id']}/actions/submit", {}, cookie=dt)
    assert status == 200, body
    return child, pep["id"]


def test_a_pp_plus_target_goes_to_the_approver_and_a_school_funded_one_stays_in_the_pep(
        system: RunningSystem, cookies: dict[str, str]) -> None:
    approver, cw, dt, other = cookies["approver"], cookies["caseworker"], cookies["dt"], cookies["other_la"]
    since = time.time() - 1
    child, pep_id = _pep_with_two_funded_targets(system, cookies)
    name = f"{child['given_name']} {child['family_name']}"

    # qa's queue holds the PP+ target only, in the template's words.
    def queued() -> list[dict[str, Any]]:
        status, body, _ = system.api("GET", f"/api/v1/funding?la_id={LA}&status=all&pep_id={pep_id}", cookie=cw)
        assert status == 200, body
        return list(body["items"])

    [request] = eventually(queued, "the PP+ request reaches qa")
    assert (request["target"], request["description"], request["amount_requested"], request["funding_type"]) == (
        1, TUTORING, "400.00", "vs_pp_plus")
    assert (request["funding_type_label"], request["area_of_focus_label"], request["intervention_type_label"]) == (
        PP_PLUS, "Academic achievement", "Reading, phonics or literacy intervention")
    # pep never asked for the school-funded target: its only request is the PP+ one.
    asked = system.admin_sql("SELECT envelope->'data'->>'target' AS target FROM pep.outbox WHERE routing_key = "
                             "'pep.funding.requested.v1' AND envelope->'data'->>'pep_id' = $1", pep_id)
    assert [r["target"] for r in asked] == ["1"]

    # The approvers' tray: an "Approve funding" task naming the child, the target and the amount.
    [task] = eventually(lambda: [t for t in tray(system, approver, "current", pep_id)
                                 if t["kind"] == "approve_funding"], "the approver's task")
    assert (task["child_name"], task["assignee_role"], task["status"]) == (name, "vs_approver", "assigned")
    assert [(f["target"], f["what"], f["amount"], f["funding_type"], f["decision"]) for f in task["funding"]] == [
        (1, TUTORING, "400.00", PP_PLUS, None)]
    assert task["due_date"] is not None and task["due_date"] >= date.today().isoformat() and task["due_rule"]
    # The approvers are told, once each, as anyone given a task is; the caseworker is not.
    [email] = emails_about(system, "approver@demo.test", task["id"], since,
                           f"A PEP task for you: {child['given_name']} {child['family_name'][0]}.")
    assert "decide the PP+ funding asked for in the Personal Education Plan" in " ".join(email.split())
    assert not [m for m in system.mailbox.messages("caseworker@demo.test", since) if task["id"] in str(m)]
    # Not the caseworker's to do, not the DT's to see; another LA's decider finds nothing.
    assert [t for t in tray(system, cw, "current", pep_id) if t["kind"] == "approve_funding"] == []
    assert system.api("GET", f"/api/v1/tasks/{task['id']}", cookie=dt)[0] == 404
    assert system.api("GET", f"/api/v1/tasks/{task['id']}", cookie=other)[0] == 404
    assert [t for t in tray(system, other, "current", pep_id)] == []
    assert system.api("POST", f"/api/v1/funding/{request['id']}/decide", {"decision": "approve"},
                      cookie=other)[0] == 404
    assert system.api("GET", f"/api/v1/funding?la_id={LA}&pep_id={pep_id}", cookie=other)[0] == 404

    # Before the decision the PEP says it waits; the school-funded target is recorded, not queued.
    funding = system.api("GET", f"/api/v1/peps/{pep_id}", cookie=dt)[1]["funding"]
    assert [(f["target"], f["route"], f["funding_type_label"], f["amount"], f["decision"]) for f in funding] == [
        (1, "virtual_school", PP_PLUS, "400.00", None), (2, "recorded", "School funding", "100.00", None)]

    # The approver approves less than was asked: the task is complete.
    status, body, _ = system.api("POST", f"/api/v1/funding/{request['id']}/decide",
                                 {"decision": "approve", "amount": "250.00"}, cookie=approver)
    assert status == 200 and (body["status"], body["amount_approved"]) == ("approved", "250.00"), body
    done = eventually(lambda: (t := system.api("GET", f"/api/v1/tasks/{task['id']}", cookie=approver)[1])[
        "status"] == "completed" and t, "the approver's task completes")
    assert done["funding"][0]["decision"] == "approved"
    assert [h["action"] for h in done["history"]] == ["assign", "decide"]
    # Its history names the decider, and says in words what the system did; never "Someone".
    assert body["decided_by_name"] and [h["by_name"] for h in done["history"]] == [None, body["decided_by_name"]]
    page = _portal_page(system, approver, f"/tasks/{task['id']}")
    assert "Automatically, when the PEP was submitted" in page and body["decided_by_name"] in page, page
    assert "Someone" not in page
    assert [t["id"] for t in tray(system, approver, "submitted", pep_id)] == [task["id"]]
    assert [t for t in tray(system, approver, "current", pep_id) if t["kind"] == "approve_funding"] == []

    # The PEP shows the decision, the amount and the date on the target (pep heard qa's decision).
    def decided() -> list[dict[str, Any]]:
        found = system.api("GET", f"/api/v1/peps/{pep_id}", cookie=dt)[1]["funding"]
        return found if found[0]["decision"] else []

    funding = eventually(decided, "the PEP shows the decision")
    today = date.today()
    assert (funding[0]["decision"], funding[0]["amount_approved"]) == ("approved", "250.00")
    assert funding[0]["decided_at"][:10] in (today.isoformat(), body["decided_at"][:10])
    assert (funding[1]["route"], funding[1]["decision"]) == ("recorded", None)

    # And its PDF, for the school and the Virtual School alike.
    decided_on = _day(body["decided_at"])
    for who in (dt, approver):
        status, pdf, _ = fetch(system, who, "GET", f"/api/v1/peps/{pep_id}/export.pdf?variant=termly")
        assert status == 200
        text = " ".join(pdf_text(pdf).split())
        assert f"Virtual School approval Approved: £250.00 of £400.00 asked on {decided_on}." in text
        assert "Recorded in the plan; the Virtual School does not decide it." in text
        assert TUTORING in text


def _day(iso: str) -> str:
    local = datetime.fromisoformat(iso).astimezone(LONDON)
    return f"{local.day} {local:%B %Y}"


def test_a_refusal_and_a_request_for_more_show_their_reason_on_the_target(
        system: RunningSystem, cookies: dict[str, str]) -> None:
    """The Virtual School's reason travels with its decision: the PEP (API and page) and its PDF say why."""
    approver, dt = cookies["approver"], cookies["dt"]
    _, pep_id = _pep_with_two_funded_targets(system, cookies)
    [request] = eventually(lambda: system.api("GET", f"/api/v1/funding?la_id={LA}&status=all&pep_id={pep_id}",
                                              cookie=approver)[1]["items"], "the PP+ request reaches qa")

    def decision_reason(decision: str) -> Any:
        found = system.api("GET", f"/api/v1/peps/{pep_id}", cookie=dt)[1]["funding"][0]
        return found["decision"] == decision and found

    for decision, outcome, reason in (("more_information", "more_information", "Which <b>tutor</b> & how often?"),
                                      ("refuse", "refused", "Not <b>costed</b> & the school pays tutoring")):
        status, body, _ = system.api("POST", f"/api/v1/funding/{request['id']}/decide",
                                     {"decision": decision, "reason": reason}, cookie=approver)
        assert status == 200, body
        target = eventually(lambda o=outcome: decision_reason(o), f"the PEP hears '{outcome}'")
        assert target["decision_reason"] == reason
        page = _portal_page(system, dt, f"/peps/{pep_id}")
        assert page.count(html.escape(reason, quote=False)) == 1 and reason not in page
        if decision == "more_information":  # the school answers by resubmitting; qa's queue takes it again
            continue
        status, pdf, _ = fetch(system, dt, "GET", f"/api/v1/peps/{pep_id}/export.pdf?variant=termly")
        assert status == 200
        text = " ".join(pdf_text(pdf).split())
        assert f"Virtual School approval Refused on {_day(body['decided_at'])}. The Virtual School's reason: " \
               f"{reason}" in text, text
