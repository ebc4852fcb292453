"""Quality assurance on the whole system, through the gateway: a caseworker rates a submitted PEP Amber with
feedback and returns it; the school's amend task shows the feedback; the DT resubmits; it is rated Green and
approved within 5 working days of the meeting and shows Gold; an approver confirms it. A PP+ request from the
PEP's targets is approved and the child's profile shows it. Another LA, carers and other schools see none of it."""

from __future__ import annotations

import time
import urllib.request
from datetime import date, timedelta
from typing import Any

import pytest

from services.pep.domain.core_data import academic_year_label
from shared import demo
from shared.workdays import is_working_day
from tests.conftest import RunningSystem
from tests.system.test_children import LA, SW, new_child
from tests.system.test_peps import answer_what_is_missing, owners
from tests.system.test_tasks import eventually, save, tray

OTHER_LA = str(demo.OTHER_LA_ID)


@pytest.fixture(scope="module")
def cookies(system: RunningSystem) -> dict[str, str]:
    emails = {"caseworker": "caseworker@demo.test", "approver": "approver@demo.test", "sw": "sw@demo.test",
              "dt": "dt@demo.test", "dt2": "dt2@demo.test", "admin": "admin@demo.test",
              "admin2": "admin@northshire.test", "carer": "carer@demo.test", "staff": "staff@demo.test"}
    return {key: system.sign_in(email) for key, email in emails.items()}


def last_working_day_before(day: date) -> date:
    day -= timedelta(days=1)
    while not is_working_day(day):
        day -= timedelta(days=1)
    return day


def submitted_pep(system: RunningSystem, cookies: dict[str, str], meeting: date) -> tuple[dict[str, Any], str]:
    """A child at Oakfield with a PEP written by the social worker and the DT, its meeting on `meeting`, submitted
    by the DT; every target asks for £25.00 of PP+."""
    sw, dt = cookies["sw"], cookies["dt"]
    child = new_child(system, cookies["caseworker"], social_worker_id=SW, carer_ids=[str(demo.account_id("carer"))])
    status, pep, _ = system.api("POST", f"/api/v1/children/{child['id']}/peps", {
        "kind": "initial", "term": "autumn", "academic_year": academic_year_label(date.today())}, cookie=sw)
    assert status == 201, pep
    by_owner = owners(system, dt, pep["id"])
    answer_what_is_missing(system, sw, pep["id"], by_owner.get("social_worker", set()))
    answer_what_is_missing(system, dt, pep["id"], by_owner.get("designated_teacher", set())
                           | by_owner.get("young_person", set()) | by_owner.get("carer", set()))
    status, body = save(system, dt, pep["id"], "meeting", {"meeting_date": meeting.isoformat()})
    assert status == 200, body
    status, body, _ = system.api("POST", f"/api/v1/peps/{pep['id']}/actions/submit", {}, cookie=dt)
    assert status == 200, body
    return child, pep["id"]


def queued(system: RunningSystem, cookie: str, pep_id: str) -> dict[str, Any] | None:
    status, body, _ = system.api("GET", f"/api/v1/qa/queue?la_id={LA}", cookie=cookie)
    assert status == 200, body
    return next((i for i in body["items"] if i["pep_id"] == pep_id), None)


def all_areas(system: RunningSystem, cookie: str, grade: str) -> dict[str, dict[str, str]]:
    framework = system.api("GET", f"/api/v1/organisations/{LA}/qa-framework", cookie=cookie)[1]["framework"]
    return {a["key"]: {"grade": grade} for a in framework["areas"]}


def test_amber_returned_with_feedback_then_green_within_five_working_days_is_gold(
        system: RunningSystem, cookies: dict[str, str]) -> None:
    cw, dt, approver = cookies["caseworker"], cookies["dt"], cookies["approver"]
    meeting = last_working_day_before(date.today())
    child, pep_id = submitted_pep(system, cookies, meeting)
    review = f"/api/v1/peps/{pep_id}/review"

    # The submitted PEP waits in the Virtual School's queue; nobody else has a queue or sees another LA's.
    item = eventually(lambda: queued(system, cw, pep_id), "the PEP reaches the QA queue")
    assert item["meeting_date"] == meeting.isoformat() and item["child_name"] == \
        f"{child['given_name']} {child['family_name']}"
    assert system.api("GET", f"/api/v1/qa/queue?la_id={LA}", cookie=cookies["admin2"])[0] == 404
    assert system.api("GET", "/api/v1/qa/queue", cookie=dt)[0] == 403
    assert all(i["pep_id"] != pep_id for i in system.api("GET", "/api/v1/qa/queue", cookie=cookies["admin2"])[1][
        "items"])

    # The LA's framework is Redcar & Cleveland's unless its admin chooses another.
    framework = system.api("GET", f"/api/v1/organisations/{LA}/qa-framework", cookie=cw)[1]
    assert framework["framework"]["key"] == "redcar_cleveland" and framework["framework"][
        "gold_within_working_days"] == 5 and len(framework["available"]) == 3
    assert system.api("PUT", f"/api/v1/organisations/{LA}/qa-framework", {"framework": "walsall"}, cookie=cw)[0] == 403
    assert system.api("PUT", f"/api/v1/organisations/{LA}/qa-framework", {"framework": "walsall"},
                      cookie=cookies["admin2"])[0] == 404
    status, body, _ = system.api("PUT", f"/api/v1/organisations/{OTHER_LA}/qa-framework", {"framework": "nope"},
                                 cookie=cookies["admin2"])
    assert status == 422 and [e["field"] for e in body["errors"]] == ["framework"]

    # A grade not in the scale is refused by name; Gold is awarded, never chosen.
    status, body, _ = system.api("PUT", review, {"areas": {"smart_targets": {"grade": "gold"}},
                                                 "overall_grade": "purple"}, cookie=cw)
    assert status == 422 and [e["field"] for e in body["errors"]] == ["areas.smart_targets.grade", "overall_grade"]
    assert system.api("PUT", review, {"overall_grade": "amber"}, cookie=dt)[0] == 403

    # Rated Amber with feedback, and returned: the reason is needed, and the school sees the feedback.
    status, body, _ = system.api("PUT", review, {
        "areas": {"smart_targets": {"grade": "amber", "feedback": "Make target 1 measurable"},
                  "education": {"grade": "green"}},
        "overall_grade": "amber", "overall_feedback": "Nearly there"}, cookie=cw)
    assert status == 200, body
    assert body["current"]["stage"] == "draft" and body["current"]["awarded_grade"] == "amber" and body["can_decide"]
    status, body, _ = system.api("POST", f"{review}/decide", {"outcome": "return"}, cookie=cw)
    assert status == 422 and [e["field"] for e in body["errors"]] == ["reason"]
    status, body, _ = system.api("POST", f"{review}/decide", {"outcome": "approve"}, cookie=cw)
    assert status == 422 and "overall_grade" not in [e["field"] for e in body["errors"]]  # the areas not rated
    status, body, _ = system.api("POST", f"{review}/decide", {"outcome": "return", "reason": "Please fix the targets"},
                                 cookie=cw)
    assert status == 200, body
    assert (body["status"], body["current"]["stage"], body["current"]["outcome"]) == ("returned", "decided", "return")
    assert system.api("GET", f"/api/v1/peps/{pep_id}", cookie=cw)[1]["status"] == "returned"
    amend = eventually(lambda: [t for t in tray(system, dt, "current", pep_id) if t["kind"] == "amend"],
                       "the DT's amend task")[0]
    assert amend["feedback"].splitlines() == ["Please fix the targets", "Overall: Amber. Nearly there",
                                              "Setting SMART targets (Amber): Make target 1 measurable"]

    # The DT, the social worker and the Virtual School see the ratings; carers, staff and other LAs do not.
    seen = system.api("GET", review, cookie=dt)[1]
    smart = next(a for a in seen["current"]["areas"] if a["key"] == "smart_targets")
    assert (smart["grade_label"], smart["feedback"]) == ("Amber", "Make target 1 measurable")
    assert not (seen["can_review"] or seen["can_decide"] or seen["can_confirm"])
    assert system.api("GET", review, cookie=cookies["sw"])[0] == 200
    for outsider in ("carer", "admin2", "dt2", "staff"):
        assert system.api("GET", review, cookie=cookies[outsider])[0] in (403, 404), outsider
    assert system.api("GET", review, cookie=cookies["carer"])[0] == 404

    # Resubmitted: a new review; the Amber one is kept as an earlier review.
    assert system.api("POST", f"/api/v1/peps/{pep_id}/actions/submit", {}, cookie=dt)[0] == 200
    again = eventually(lambda: (q := queued(system, cw, pep_id)) and q["submitted_at"] != item["submitted_at"] and q,
                       "the resubmission reaches the QA queue")
    assert again["draft_grade"] is None
    fresh = system.api("GET", review, cookie=cw)[1]
    assert fresh["current"] is None and [r["awarded_grade"] for r in fresh["earlier"]] == ["amber"]

    # Rated Green and approved within 5 working days of the meeting: Gold.
    status, body, _ = system.api("PUT", review, {"areas": all_areas(system, cw, "green"), "overall_grade": "green",
                                                 "overall_feedback": "A strong plan"}, cookie=cw)
    assert status == 200 and body["current"]["awarded_grade"] == "gold", body
    status, body, _ = system.api("POST", f"{review}/decide", {"outcome": "approve"}, cookie=cw)
    assert status == 200, body
    assert (body["status"], body["current"]["outcome"], body["current"]["awarded_label"]) == ("approved", "approve",
                                                                                             "Gold")
    assert system.api("GET", f"/api/v1/peps/{pep_id}", cookie=cw)[1]["status"] == "approved"
    # Deciding again is refused: the PEP is no longer waiting for review, and nothing more is recorded.
    assert system.api("POST", f"{review}/decide", {"outcome": "approve"}, cookie=cw)[0] == 409
    assert eventually(lambda: queued(system, cw, pep_id) is None, "the PEP leaves the queue")

    # The second level confirms or changes the overall grade; a caseworker cannot.
    assert system.api("POST", f"{review}/confirm", {"overall_grade": "green"}, cookie=cw)[0] == 403
    status, body, _ = system.api("POST", f"{review}/confirm", {"overall_grade": "sparkly"}, cookie=approver)
    assert status == 422 and [e["field"] for e in body["errors"]] == ["overall_grade"]
    status, body, _ = system.api("POST", f"{review}/confirm", {"overall_grade": "green", "note": "Agreed"},
                                 cookie=approver)
    assert status == 200, body
    assert (body["current"]["stage"], body["current"]["awarded_grade"], body["current"]["by_name"]) == (
        "confirmed", "gold", "Alex Approver")
    kept = system.admin_sql("SELECT stage FROM qa.reviews WHERE pep_id = $1 ORDER BY id", pep_id)
    assert [r["stage"] for r in kept] == ["draft", "decided", "draft", "decided", "confirmed"]

    # Signing off (by the social worker) tells the school's DT, with the rating QA gave.
    since = time.time() - 1
    assert system.api("POST", f"/api/v1/peps/{pep_id}/actions/finalise", {}, cookie=cookies["sw"])[0] == 200

    def signed_off() -> list[str]:
        out = []
        for m in system.mailbox.messages("dt@demo.test", since):
            body = m.get_body(preferencelist=("plain",))
            text = body.get_content() if body else ""
            if str(m["Subject"]).startswith("PEP signed off") and f"/peps/{pep_id}" in text:
                out.append(text)
        return out
    assert eventually(lambda: signed_off(), "the signed-off email")
    assert "Quality assurance rating: Gold" in signed_off()[0]


def test_a_green_pep_submitted_weeks_after_its_meeting_is_not_gold(system: RunningSystem,
                                                                    cookies: dict[str, str]) -> None:
    cw = cookies["caseworker"]
    _, pep_id = submitted_pep(system, cookies, date.today() - timedelta(days=30))
    eventually(lambda: queued(system, cw, pep_id), "the PEP reaches the QA queue")
    status, body, _ = system.api("PUT", f"/api/v1/peps/{pep_id}/review", {
        "areas": all_areas(system, cw, "green"), "overall_grade": "green"}, cookie=cw)
    assert status == 200 and body["current"]["awarded_grade"] == "green", body


def _csv(system: RunningSystem, cookie: str, la_id: str) -> tuple[int, str]:
    req = urllib.request.Request(f"{system.gateway_url}/api/v1/funding.csv?la_id={la_id}", headers={"Cookie": cookie})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            assert resp.headers["Content-Type"].startswith("text/csv")
            body = resp.read()
            assert body.startswith(b"\xef\xbb\xbf")  # UTF-8 with a byte order mark, as spreadsheets expect
            return resp.status, body.decode("utf-8-sig")
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def test_pp_plus_requests_are_decided_and_the_childs_total_follows(system: RunningSystem,
                                                                  cookies: dict[str, str]) -> None:
    cw, approver, dt = cookies["caseworker"], cookies["approver"], cookies["dt"]
    child, pep_id = submitted_pep(system, cookies, last_working_day_before(date.today()))

    def pending() -> list[dict[str, Any]]:
        status, body, _ = system.api("GET", f"/api/v1/funding?la_id={LA}&status=pending", cookie=cw)
        assert status == 200, body
        return [r for r in body["items"] if r["pep_id"] == pep_id]

    requests = eventually(pending, "the PEP's PP+ requests reach qa")
    first = requests[0]
    assert (first["amount_requested"], first["status"], first["can_decide"]) == ("25.00", "pending", False)
    assert system.api("GET", f"/api/v1/funding?la_id={LA}", cookie=cookies["admin2"])[0] == 404
    assert system.api("GET", f"/api/v1/funding?la_id={LA}", cookie=dt)[0] == 404
    decide = f"/api/v1/funding/{first['id']}/decide"
    assert system.api("POST", decide, {"decision": "approve"}, cookie=cw)[0] == 403
    assert system.api("POST", decide, {"decision": "approve"}, cookie=cookies["admin2"])[0] == 404
    status, body, _ = system.api("POST", decide, {"decision": "approve", "amount": "30.00"}, cookie=approver)
    assert status == 422 and [e["field"] for e in body["errors"]] == ["amount"]
    status, body, _ = system.api("POST", decide, {"decision": "refuse"}, cookie=approver)
    assert status == 422 and [e["field"] for e in body["errors"]] == ["reason"]

    before = system.api("GET", f"/api/v1/children/{child['id']}", cookie=dt)[1]["indicators"]["pp_plus_agreed"]
    assert before == "0.00"
    status, body, _ = system.api("POST", decide, {"decision": "approve", "amount": "20.00"}, cookie=approver)
    assert status == 200 and (body["status"], body["amount_approved"], body["decided_by_name"]) == (
        "approved", "20.00", "Alex Approver"), body
    # pep hears qa's decision: the child's profile shows the PP+ agreed this year.
    eventually(lambda: system.api("GET", f"/api/v1/children/{child['id']}", cookie=dt)[1]["indicators"][
        "pp_plus_agreed"] == "20.00", "pep shows the PP+ agreed")

    totals = system.api("GET", f"/api/v1/children/{child['id']}/funding", cookie=dt)[1]
    assert (totals["allocation"], totals["approved"], totals["remaining"]) == ("2630.00", "20.00", "2610.00")
    assert system.api("GET", f"/api/v1/children/{child['id']}/funding", cookie=cookies["carer"])[0] == 404
    assert system.api("GET", f"/api/v1/children/{child['id']}/funding", cookie=cookies["admin2"])[0] == 404

    if len(requests) > 1:
        status, body, _ = system.api("POST", f"/api/v1/funding/{requests[1]['id']}/decide",
                                     {"decision": "more_information", "reason": "Which tutor?"}, cookie=approver)
        assert status == 200 and body["status"] == "more_information"

    status, text = _csv(system, approver, LA)
    assert status == 200 and text.splitlines()[0].startswith("request_id,child_id,child_name")
    assert any(line.startswith(first["id"]) and ",approved,20.00," in line for line in text.splitlines())
    assert _csv(system, cookies["admin2"], LA)[0] == 404
