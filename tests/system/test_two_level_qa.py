"""Two-level QA where the LA asks for it (issue 22, item 6; Welfare Call: the caseworker, then the VS Head; Kent: the
ESO, then the AH). With the LA's setting on, the caseworker's approval keeps the PEP submitted and gives the LA's
approvers a "Second QA review" task (delegation follows qa's event); the approver approves, perhaps with another
grade, or returns it with a reason, and only then is the PEP approved or returned, the task closed. A first
reviewer's return still returns at once; with the setting off, one decision approves, as before."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from shared import demo
from tests.conftest import RunningSystem
from tests.system.qa_steps import rate, rate_fully
from tests.system.test_qa import LA, cookies, last_working_day_before, queued, submitted_pep  # noqa: F401 (fixture)
from tests.system.test_tasks import emails_about, eventually, tray

CASEWORKER = str(demo.account_id("caseworker"))


def _set_two_level(system: RunningSystem, admin: str, on: bool) -> None:
    status, body, _ = system.api("PUT", f"/api/v1/organisations/{LA}/qa-framework", {"two_level": on}, cookie=admin)
    assert status == 200 and body["two_level"] is on and body["framework"]["key"] == "redcar_cleveland", body


@pytest.fixture
def two_level(system: RunningSystem, cookies: dict[str, str]) -> Iterator[None]:  # noqa: F811
    """The demo LA with two-level QA for one test, and without it again after (other tests share the LA)."""
    _set_two_level(system, cookies["admin"], True)
    try:
        yield
    finally:
        _set_two_level(system, cookies["admin"], False)


def _first_approval(system: RunningSystem, cookies: dict[str, str]) -> str:  # noqa: F811
    """A submitted PEP, fully rated Green and approved by the caseworker: waiting for the second level."""
    cw = cookies["caseworker"]
    _, pep_id = submitted_pep(system, cookies, last_working_day_before(date.today()))
    eventually(lambda: queued(system, cw, pep_id), "the PEP reaches the QA queue")
    rate_fully(system, cw, pep_id)
    status, body, _ = system.api("POST", f"/api/v1/peps/{pep_id}/review/decide", {"outcome": "approve"}, cookie=cw)
    assert status == 200, body
    assert (body["status"], body["current"]["stage"], body["waiting_for"]) == ("submitted", "reviewed",
                                                                              "second_review"), body
    assert not body["can_decide"] and not body["can_second_review"]
    return pep_id


def _second_review_task(system: RunningSystem, cookie: str, pep_id: str) -> dict[str, Any]:
    found = eventually(lambda: [t for t in tray(system, cookie, "current", pep_id) if t["kind"] == "second_review"],
                       "the Second QA review task in the approver's tray")
    assert len(found) == 1
    return dict(found[0])


def _task_status(system: RunningSystem, cookie: str, task_id: str) -> str:
    status, body, _ = system.api("GET", f"/api/v1/tasks/{task_id}", cookie=cookie)
    assert status == 200, body
    return str(body["status"])


def test_the_caseworkers_approval_waits_for_the_approver_whose_approval_approves_it(
        system: RunningSystem, cookies: dict[str, str], two_level: None) -> None:  # noqa: F811
    cw, approver, admin = cookies["caseworker"], cookies["approver"], cookies["admin"]
    since = time.time() - 1
    pep_id = _first_approval(system, cookies)
    review = f"/api/v1/peps/{pep_id}/review"

    # Still submitted, and the queue says which level it waits for.
    assert system.api("GET", f"/api/v1/peps/{pep_id}", cookie=cw)[1]["status"] == "submitted"
    assert queued(system, cw, pep_id)["waiting_for"] == "second_review"
    # The first reviewer cannot make the second decision too.
    status, body, _ = system.api("POST", f"{review}/decide", {"outcome": "approve"}, cookie=cw)
    assert status == 403 and body["code"] == "forbidden", body

    # The approver's tray (and the VS admin's) has the task; the caseworker sees it among the tasks they sent.
    task = _second_review_task(system, approver, pep_id)
    assert (task["status"], task["assignee_role"], task["originator_id"]) == ("assigned", "vs_approver", CASEWORKER)
    # The approver is emailed once, in words: the task and a link to it.
    child = system.api("GET", f"/api/v1/children/{task['child_id']}", cookie=approver)[1]
    short = f"{child['given_name']} {child['family_name'][0]}."
    emailed = emails_about(system, "approver@demo.test", task["id"], since, f"A PEP task for you: {short}")
    assert len(emailed) == 1 and "make the second quality assurance review of" in emailed[0], emailed
    assert [t["id"] for t in tray(system, admin, "current", pep_id) if t["kind"] == "second_review"] == [task["id"]]
    assert not [t for t in tray(system, cw, "current", pep_id) if t["kind"] == "second_review"]
    assert [t["id"] for t in tray(system, cw, "sent", pep_id) if t["kind"] == "second_review"] == [task["id"]]
    # Nobody at the school has it.
    assert not [t for t in tray(system, cookies["dt"], "current", pep_id) if t["kind"] == "second_review"]

    seen = system.api("GET", review, cookie=approver)[1]
    assert seen["can_second_review"] and seen["waiting_for"] == "second_review" and seen["two_level"]
    assert seen["first_review"]["by_name"] == "Cal Caseworker" and seen["first_review"]["outcome"] == "approve"

    # A grade the framework sends back cannot be approved at the second level either; one not in the scale is
    # refused by name.
    status, body, _ = system.api("POST", f"{review}/decide", {"outcome": "approve", "overall_grade": "amber"},
                                 cookie=approver)
    assert status == 422 and body["code"] == "not_approvable", body
    status, body, _ = system.api("POST", f"{review}/decide", {"outcome": "approve", "overall_grade": "sparkly"},
                                 cookie=approver)
    assert status == 422 and [e["field"] for e in body["errors"]] == ["overall_grade"], body
    assert system.api("GET", f"/api/v1/peps/{pep_id}", cookie=cw)[1]["status"] == "submitted"

    status, body, _ = system.api("POST", f"{review}/decide", {"outcome": "approve", "note": "Agreed <b>&</b>"},
                                 cookie=approver)
    assert status == 200, body
    assert (body["status"], body["current"]["stage"], body["current"]["outcome"], body["current"]["by_name"],
            body["current"]["note"]) == ("approved", "decided", "approve", "Alex Approver", "Agreed <b>&</b>")
    assert body["first_review"]["by_name"] == "Cal Caseworker" and body["waiting_for"] is None
    assert system.api("GET", f"/api/v1/peps/{pep_id}", cookie=cw)[1]["status"] == "approved"
    eventually(lambda: _task_status(system, approver, task["id"]) == "completed", "the task closed")
    eventually(lambda: queued(system, cw, pep_id) is None, "the PEP leaves the queue")
    kept = system.admin_sql("SELECT stage, by_user::text FROM qa.reviews WHERE pep_id = $1 ORDER BY id", pep_id)
    assert [r["stage"] for r in kept] == ["draft", "reviewed", "decided"]
    assert kept[1]["by_user"] == CASEWORKER and kept[2]["by_user"] == str(demo.account_id("approver"))


def test_the_approver_may_return_it_with_a_reason_or_approve_it_with_another_grade(
        system: RunningSystem, cookies: dict[str, str], two_level: None) -> None:  # noqa: F811
    approver, admin, dt = cookies["approver"], cookies["admin"], cookies["dt"]
    pep_id = _first_approval(system, cookies)
    review = f"/api/v1/peps/{pep_id}/review"
    task = _second_review_task(system, approver, pep_id)

    status, body, _ = system.api("POST", f"{review}/decide", {"outcome": "return"}, cookie=approver)
    assert status == 422 and [e["field"] for e in body["errors"]] == ["reason"], body
    status, body, _ = system.api("POST", f"{review}/decide", {"outcome": "return", "reason": "Targets need dates"},
                                 cookie=approver)
    assert status == 200, body
    assert (body["status"], body["current"]["stage"], body["current"]["outcome"]) == ("returned", "decided", "return")
    eventually(lambda: _task_status(system, approver, task["id"]) == "completed", "the task closed")
    amend = eventually(lambda: [t for t in tray(system, dt, "current", pep_id) if t["kind"] == "amend"],
                       "the DT's amend task")[0]
    assert amend["feedback"].splitlines()[0] == "Targets need dates"

    # Resubmitted, reviewed again; this time the VS admin approves it, changing the grade by confirming it.
    assert system.api("POST", f"/api/v1/peps/{pep_id}/actions/submit", {}, cookie=dt)[0] == 200
    cw = cookies["caseworker"]
    eventually(lambda: (q := queued(system, cw, pep_id)) and q["draft_grade"] is None and q, "the resubmission")
    rate_fully(system, cw, pep_id)
    assert system.api("POST", f"{review}/decide", {"outcome": "approve"}, cookie=cw)[0] == 200
    again = eventually(lambda: [t for t in tray(system, admin, "current", pep_id) if t["kind"] == "second_review"],
                       "a new Second QA review task")[0]
    assert again["id"] != task["id"]
    status, body, _ = system.api("POST", f"{review}/confirm", {"overall_grade": "green", "note": "Fine"},
                                 cookie=admin)
    assert status == 200, body
    assert (body["status"], body["current"]["stage"], body["current"]["by_name"]) == ("approved", "decided",
                                                                                     "Amira Admin")
    eventually(lambda: _task_status(system, admin, again["id"]) == "completed", "the second task closed")


def test_a_first_reviewers_return_returns_at_once(
        system: RunningSystem, cookies: dict[str, str], two_level: None) -> None:  # noqa: F811
    cw = cookies["caseworker"]
    _, pep_id = submitted_pep(system, cookies, last_working_day_before(date.today()))
    eventually(lambda: queued(system, cw, pep_id), "the PEP reaches the QA queue")
    rate(system, cw, pep_id, {"areas": {}})
    status, body, _ = system.api("POST", f"/api/v1/peps/{pep_id}/review/decide",
                                 {"outcome": "return", "reason": "Missing attendance"}, cookie=cw)
    assert status == 200 and body["status"] == "returned" and body["current"]["stage"] == "decided", body
    eventually(lambda: [t for t in tray(system, cookies["dt"], "current", pep_id) if t["kind"] == "amend"],
               "the DT's amend task")
    assert not [t for t in system.api("GET", f"/api/v1/peps/{pep_id}/tasks", cookie=cw)[1]
                if t["kind"] == "second_review"]


def test_without_the_second_level_one_decision_approves(system: RunningSystem,
                                                         cookies: dict[str, str]) -> None:  # noqa: F811
    cw, admin = cookies["caseworker"], cookies["admin"]
    assert system.api("GET", f"/api/v1/organisations/{LA}/qa-framework", cookie=admin)[1]["two_level"] is False
    # Only the LA's VS admin turns it on.
    assert system.api("PUT", f"/api/v1/organisations/{LA}/qa-framework", {"two_level": True}, cookie=cw)[0] == 403
    _, pep_id = submitted_pep(system, cookies, last_working_day_before(date.today()))
    eventually(lambda: queued(system, cw, pep_id), "the PEP reaches the QA queue")
    assert queued(system, cw, pep_id)["waiting_for"] == "first_review"
    rate_fully(system, cw, pep_id)
    status, body, _ = system.api("POST", f"/api/v1/peps/{pep_id}/review/decide", {"outcome": "approve"}, cookie=cw)
    assert status == 200 and (body["status"], body["current"]["stage"]) == ("approved", "decided"), body
    assert not body["two_level"] and body["first_review"] is None
    # The finalise task follows the approval; no second review is asked for.
    eventually(lambda: [t for t in system.api("GET", f"/api/v1/peps/{pep_id}/tasks", cookie=cw)[1]
                        if t["kind"] == "finalise"], "the social worker's finalise task")
    assert not [t for t in system.api("GET", f"/api/v1/peps/{pep_id}/tasks", cookie=cw)[1]
                if t["kind"] == "second_review"]


def test_nobody_makes_both_reviews(
        system: RunningSystem, cookies: dict[str, str], two_level: None) -> None:  # noqa: F811
    """An approver may make the first review, but then the second is someone else's: not in their tray, refused."""
    approver, admin = cookies["approver"], cookies["admin"]
    _, pep_id = submitted_pep(system, cookies, last_working_day_before(date.today()))
    eventually(lambda: queued(system, approver, pep_id), "the PEP reaches the QA queue")
    rate_fully(system, approver, pep_id)
    review = f"/api/v1/peps/{pep_id}/review"
    status, body, _ = system.api("POST", f"{review}/decide", {"outcome": "approve"}, cookie=approver)
    assert status == 200 and body["current"]["stage"] == "reviewed" and not body["can_second_review"], body
    task = _second_review_task(system, admin, pep_id)
    assert not [t for t in tray(system, approver, "current", pep_id) if t["kind"] == "second_review"]
    assert [t["id"] for t in tray(system, approver, "sent", pep_id)] == [task["id"]]
    for path, body in (("decide", {"outcome": "approve"}), ("confirm", {"overall_grade": "green"})):
        status, answer, _ = system.api("POST", f"{review}/{path}", body, cookie=approver)
        assert status == 403 and answer["code"] == "same_reviewer", answer
    assert system.api("GET", f"/api/v1/peps/{pep_id}", cookie=admin)[1]["status"] == "submitted"
    status, body, _ = system.api("POST", f"{review}/decide", {"outcome": "approve"}, cookie=admin)
    assert status == 200 and body["status"] == "approved", body
