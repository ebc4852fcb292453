"""Targets raised between PEPs (issue 22, item 7; Kent's "Action Plan and Targets outside of PEP"): the child's
Designated Teacher raises a costed target asking for £300 of PP+; it waits in qa's PP+ queue; the approver approves
£250; the child's PP+ totals (qa's and the profile's) include it; the next PEP started lists it among its previous
targets, once. Another school's DT, a carer and another LA get 404; every problem in a bad request is named."""

from __future__ import annotations

import html
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from services.pep.domain.core_data import academic_year_label
from tests.conftest import RunningSystem
from tests.system.test_children import LA, SW, new_child
from tests.system.test_tasks import eventually
from tests.system.test_words_people_read import _portal_page


@pytest.fixture(scope="module")
def cookies(system: RunningSystem) -> dict[str, str]:
    emails = {"caseworker": "caseworker@demo.test", "approver": "approver@demo.test", "sw": "sw@demo.test",
              "dt": "dt@demo.test", "dt2": "dt2@demo.test", "admin2": "admin@northshire.test",
              "carer": "carer@demo.test"}
    return {key: system.sign_in(email) for key, email in emails.items()}


def a_target(**fields: Any) -> dict[str, Any]:
    return {"what": "Reading age up a year: <b>phonics</b> & fluency", "by_when": (date.today() + timedelta(
        days=60)).isoformat(), "how": "One-to-one tuition twice a week", "amount": "300.00",
        "area_of_focus": "academic_achievement", "intervention_type": "one_to_one_tuition", **fields}


def agreed(system: RunningSystem, cookie: str, child_id: str) -> tuple[Decimal, Decimal]:
    """(qa's total against the allocation this financial year, the profile's PP+ agreed)."""
    funding = system.api("GET", f"/api/v1/children/{child_id}/funding", cookie=cookie)[1]
    profile = system.api("GET", f"/api/v1/children/{child_id}", cookie=cookie)[1]
    return Decimal(funding["approved"]), Decimal(profile["indicators"]["pp_plus_agreed"])


def test_a_target_raised_between_peps_is_decided_counted_and_carried_into_the_next_pep(
        system: RunningSystem, cookies: dict[str, str]) -> None:
    dt, sw, approver = cookies["dt"], cookies["sw"], cookies["approver"]
    child = new_child(system, cookies["caseworker"], social_worker_id=SW)
    targets = f"/api/v1/children/{child['id']}/action-targets"

    # Only those who may see the child: another school's DT, a carer not theirs and another LA get 404.
    for outsider in ("dt2", "admin2", "carer"):
        assert system.api("GET", targets, cookie=cookies[outsider])[0] == 404, outsider
        assert system.api("POST", targets, a_target(), cookie=cookies[outsider])[0] == 404, outsider
    # Every problem is named.
    status, body, _ = system.api("POST", targets, a_target(amount="0", area_of_focus="knitting",
                                                           by_when="2020-01-01"), cookie=dt)
    assert status == 422 and sorted(e["field"] for e in body["errors"]) == ["amount", "area_of_focus", "by_when"]
    assert system.api("GET", targets, cookie=dt)[1]["items"] == []

    before = agreed(system, sw, child["id"])
    status, raised, _ = system.api("POST", targets, a_target(), cookie=dt)
    assert status == 201, raised
    assert (raised["amount"], raised["funding_type"], raised["decision"], raised["area_of_focus_label"]) == (
        "300.00", "vs_pp_plus", None, "Academic achievement")
    listed = system.api("GET", targets, cookie=sw)[1]
    assert [t["id"] for t in listed["items"]] == [raised["id"]] and listed["areas_of_focus"]

    # It waits in the Virtual School's PP+ queue like a PEP's target, with no PEP.
    def queued() -> dict[str, Any] | None:
        items = system.api("GET", f"/api/v1/funding?la_id={LA}&status=pending", cookie=approver)[1]["items"]
        return next((i for i in items if i["action_target_id"] == raised["id"]), None)
    request = eventually(queued, "the target's PP+ request reaches qa's queue")
    assert (request["pep_id"], request["amount_requested"], request["child_id"], request["description"]) == (
        None, "300.00", child["id"], a_target()["what"])
    # The queue reads the template's words, as for a PEP's target, never a raw key.
    assert (request["funding_type_label"], request["area_of_focus_label"], request["intervention_type_label"]) == (
        raised["funding_type_label"], raised["area_of_focus_label"], raised["intervention_type_label"]), request
    assert request["funding_type_label"].startswith("Virtual School PP+"), request

    # The same route as a PEP's PP+ target: the approvers' tray holds an "Approve funding" task, about the child
    # and this target (no PEP), naming the target and its amount in the template's words.
    def task_for_target() -> list[dict[str, Any]]:
        status, body, _ = system.api("GET", "/api/v1/tasks?tray=current", cookie=approver)
        assert status == 200, body
        return [t for t in body["items"] if t["action_target_id"] == raised["id"]]
    [task] = eventually(task_for_target, "the approver's Approve funding task")
    assert (task["kind"], task["pep_id"], task["child_id"], task["assignee_role"], task["status"]) == (
        "approve_funding", None, child["id"], "vs_approver", "assigned")
    assert [(f["target"], f["what"], f["amount"], f["funding_type"], f["decision"]) for f in task["funding"]] == [
        (1, a_target()["what"], "300.00", raised["funding_type_label"], None)]
    assert system.api("GET", f"/api/v1/tasks/{task['id']}", cookie=dt)[0] == 404
    assert system.api("GET", f"/api/v1/tasks/{task['id']}", cookie=cookies["admin2"])[0] == 404
    # The portal draws it: the tray and the task page lead to the child's targets, what the school wrote escaped
    # once.
    escaped = html.escape(a_target()["what"], quote=False)
    tray_page = _portal_page(system, approver, "/tasks")
    assert f"/tasks/{task['id']}" in tray_page and escaped in tray_page and a_target()["what"] not in tray_page
    task_page = _portal_page(system, approver, f"/tasks/{task['id']}")
    assert f'href="/children/{child["id"]}/action-plan"' in task_page and "Targets between PEPs" in task_page
    assert escaped in task_page and a_target()["what"] not in task_page

    status, decided, _ = system.api("POST", f"/api/v1/funding/{request['id']}/decide",
                                    {"decision": "approve", "amount": "250.00"}, cookie=approver)
    assert status == 200 and decided["status"] == "approved", decided
    done = eventually(lambda: (t := system.api("GET", f"/api/v1/tasks/{task['id']}", cookie=approver)[1])[
        "status"] == "completed" and t, "qa's decision completes the approver's task")
    assert done["funding"][0]["decision"] == "approved"
    assert [h["action"] for h in done["history"]] == ["assign", "decide"]
    assert decided["decided_by_name"] and done["history"][1]["by_name"] == decided["decided_by_name"]
    task_page = _portal_page(system, approver, f"/tasks/{task['id']}")
    assert "Automatically, when the target was raised between PEPs" in task_page and "Someone" not in task_page
    assert task_for_target() == []

    # The decision comes back onto the target; both totals count the £250 approved, not the £300 asked.
    def heard() -> dict[str, Any] | None:
        item = system.api("GET", targets, cookie=dt)[1]["items"][0]
        return item if item["decision"] == "approved" else None
    assert eventually(heard, "pep hears the decision")["amount_approved"] == "250.00"
    after = agreed(system, sw, child["id"])
    assert after[0] - before[0] == after[1] - before[1] == Decimal("250.00"), (before, after)

    # The next PEP lists it among the previous targets to review, with its funding; the PEP after does not again.
    status, pep, _ = system.api("POST", f"/api/v1/children/{child['id']}/peps", {
        "kind": "initial", "term": "autumn", "academic_year": academic_year_label(date.today())}, cookie=sw)
    assert status == 201, pep
    section = system.api("GET", f"/api/v1/peps/{pep['id']}/sections/targets", cookie=dt)[1]
    previous = section["answers"].get("previous_targets") or []
    assert [r["target"] for r in previous] == [
        "Reading age up a year: <b>phonics</b> & fluency (raised between PEPs; Virtual School PP+ £300.00 asked, "
        "£250.00 approved)"], previous
    assert system.api("GET", targets, cookie=dt)[1]["items"][0]["carried_into"] == pep["id"]


def test_a_refused_target_between_peps_says_why(system: RunningSystem, cookies: dict[str, str]) -> None:
    """The Virtual School's reason comes back onto the target: its API and the child's targets page say it."""
    dt, approver = cookies["dt"], cookies["approver"]
    child = new_child(system, cookies["caseworker"], social_worker_id=SW)
    targets = f"/api/v1/children/{child['id']}/action-targets"
    status, raised, _ = system.api("POST", targets, a_target(), cookie=dt)
    assert status == 201, raised

    def queued() -> dict[str, Any] | None:
        items = system.api("GET", f"/api/v1/funding?la_id={LA}&status=pending", cookie=approver)[1]["items"]
        return next((i for i in items if i["action_target_id"] == raised["id"]), None)
    request = eventually(queued, "the target's PP+ request reaches qa's queue")
    reason = "Tuition is <b>already</b> funded & running"
    status, decided, _ = system.api("POST", f"/api/v1/funding/{request['id']}/decide",
                                    {"decision": "refuse", "reason": reason}, cookie=approver)
    assert status == 200 and decided["status"] == "refused", decided

    def heard() -> dict[str, Any] | None:
        item = system.api("GET", targets, cookie=dt)[1]["items"][0]
        return item if item["decision"] == "refused" else None
    assert eventually(heard, "pep hears the refusal")["decision_reason"] == reason
    page = _portal_page(system, dt, f"/children/{child['id']}/action-plan")
    assert page.count(html.escape(reason, quote=False)) == 1 and reason not in page
