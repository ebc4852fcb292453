"""Issue 7's "Done when", end to end through the gateway, with the dashboard watching: a caseworker rates a
submitted PEP Amber with feedback and returns it (the PEP is now due again, by the amend task's date); the DT's
amend task shows the feedback; the DT resubmits; it is rated Green within 5 working days of the meeting and shows
Gold; its PP+ is approved and the child's total changes; the dashboard (filtered to the caseworker) counts every
step. Then the LA turns on automatic termly PP+ payments: two qa replicas on a clock pay the child once for the
term, and the totals, the finance CSV and the dashboard show it. Another LA and a DT get 404 throughout."""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from shared import demo
from tests.conftest import RunningSystem
from tests.support.clock import replicas_on_a_clock, set_clock
from tests.system.test_children import LA, SW
from tests.system.test_qa import _csv, all_areas, last_working_day_before, queued, submitted_pep
from tests.system.test_tasks import eventually, tray

CASEWORKER = str(demo.account_id("caseworker"))
JOURNEY: dict[str, Any] = {}


@pytest.fixture(scope="module")
def cookies(system: RunningSystem) -> dict[str, str]:
    emails = {"caseworker": "caseworker@demo.test", "approver": "approver@demo.test", "sw": "sw@demo.test",
              "dt": "dt@demo.test", "admin": "admin@demo.test", "admin2": "admin@northshire.test"}
    return {key: system.sign_in(email) for key, email in emails.items()}


def dashboard(system: RunningSystem, cookie: str, **query: Any) -> dict[str, Any]:
    status, body, _ = system.api("GET", "/api/v1/dashboard?" + urlencode({"la_id": LA, **query}), cookie=cookie)
    assert status == 200, body
    return dict(body)


def counts(body: dict[str, Any]) -> dict[str, Any]:
    """The figures the journey moves, by name."""
    return {"total": body["total"], **{f"status.{c['key']}": c["count"] for c in body["by_status"]},
            **{f"progress.{c['key']}": c["count"] for c in body["progress"]},
            **{f"awarded.{r['grade']}": r["count"] for r in body["awarded"]},
            **{f"band.{c['key']}": c["count"] for c in body["attendance_bands"]},
            "attendance.peps": body["attendance_peps"], "attendance.attended": body["attended_sessions"],
            "attendance.possible": body["possible_sessions"],
            "attainment.subjects": sum(c["count"] for c in body["attainment"]),
            "attainment.progress": sum(c["count"] for c in body["attainment_progress"]),
            "approved": Decimal(body["pp_plus_approved"]), "termly": Decimal(body["pp_plus_paid_termly"])}


def subject_rows(system: RunningSystem, pep_id: str) -> int:
    """How many subject rows the PEP's attainment section holds (what pep tells qa at each submission)."""
    rows = system.admin_sql("SELECT answers FROM pep.pep_sections WHERE pep_id = $1 AND section_key = 'attainment'",
                            uuid.UUID(pep_id))
    answers = rows[0]["answers"] if rows else {}
    answers = json.loads(answers) if isinstance(answers, str) else answers
    return len(answers.get("subjects") or [])


def moved(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {k: after.get(k, 0) - before.get(k, 0) for k in set(before) | set(after)
            if after.get(k, 0) != before.get(k, 0)}


def test_amber_return_resubmit_gold_and_funding_move_the_dashboard(system: RunningSystem,
                                                                    cookies: dict[str, str]) -> None:
    cw, dt, approver = cookies["caseworker"], cookies["dt"], cookies["approver"]
    mine = {"caseworker_id": CASEWORKER}
    start = counts(dashboard(system, cw, **mine))

    child, pep_id = submitted_pep(system, cookies, last_working_day_before(date.today()))
    review = f"/api/v1/peps/{pep_id}/review"
    eventually(lambda: queued(system, cw, pep_id), "the PEP reaches the QA queue")
    # Before any review of it, the PEP is not the caseworker's; the whole LA's dashboard has it awaiting QA.
    assert counts(dashboard(system, cw, **mine)) == start
    progress = {c["key"]: c["count"] for c in dashboard(system, cw, status="submitted")["progress"]}
    assert progress["awaiting_qa"] >= 1 and progress["due"] == progress["overdue"] == progress["completed"] == 0

    # Rated Amber with feedback and returned: the PEP is the caseworker's now, returned, and due again.
    assert system.api("PUT", review, {
        "areas": {"smart_targets": {"grade": "amber", "feedback": "Make target 1 measurable"}},
        "overall_grade": "amber", "overall_feedback": "Nearly there"}, cookie=cw)[0] == 200
    status, body, _ = system.api("POST", f"{review}/decide", {"outcome": "return", "reason": "Please fix the targets"},
                                 cookie=cw)
    assert status == 200 and body["status"] == "returned", body
    amend = eventually(lambda: [t for t in tray(system, dt, "current", pep_id) if t["kind"] == "amend"],
                       "the DT's amend task")[0]
    assert "Make target 1 measurable" in amend["feedback"] and amend["due_date"] >= date.today().isoformat()
    returned = eventually(lambda: (m := moved(start, counts(dashboard(system, cw, **mine)))).get(
        "progress.due") == 1 and m, "the returned PEP counted due, by its amend task's date")
    subjects = subject_rows(system, pep_id)
    assert subjects >= 1
    assert returned == {"total": 1, "status.returned": 1, "progress.due": 1, "awarded.amber": 1,
                        "attainment.subjects": subjects, "attainment.progress": subjects}, returned

    # The school records the child's attendance (92 of 100 sessions) before resubmitting: the PEP carries it.
    status, body, _ = system.api("POST", f"/api/v1/children/{child['id']}/attendance", {
        "period_start": date.today().replace(day=1).isoformat(), "period_end": date.today().isoformat(),
        "possible_sessions": 100,
        "attended_sessions": 92}, cookie=dt)
    assert status == 201, body

    # Resubmitted, rated Green within 5 working days of the meeting: Gold, approved, completed.
    assert system.api("POST", f"/api/v1/peps/{pep_id}/actions/submit", {}, cookie=dt)[0] == 200
    eventually(lambda: (q := queued(system, cw, pep_id)) and system.api("GET", review, cookie=cw)[1][
        "current"] is None and q, "the resubmission reaches the QA queue")
    status, body, _ = system.api("PUT", review, {"areas": all_areas(system, cw, "green"), "overall_grade": "green"},
                                 cookie=cw)
    assert status == 200 and body["current"]["awarded_grade"] == "gold", body
    status, body, _ = system.api("POST", f"{review}/decide", {"outcome": "approve"}, cookie=cw)
    assert status == 200 and body["current"]["awarded_label"] == "Gold", body
    approved = eventually(lambda: (m := moved(start, counts(dashboard(system, cw, **mine)))).get(
        "progress.completed") == 1 and m, "the approved PEP counted completed")
    approved = eventually(lambda: (m := moved(start, counts(dashboard(system, cw, **mine)))).get(
        "attendance.peps") == 1 and m, "the resubmission's attendance")
    assert approved == {"total": 1, "status.approved": 1, "progress.completed": 1, "awarded.gold": 1,
                        "attainment.subjects": subjects, "attainment.progress": subjects, "attendance.peps": 1,
                        "attendance.attended": 92, "attendance.possible": 100, "band.90_to_95": 1}, approved
    gold = dashboard(system, cw, rating="gold", **mine)
    assert gold["total"] == start.get("awarded.gold", 0) + 1 and gold["caseworker_id"] == CASEWORKER

    # Its PP+ is approved (less than asked): the child's total and the dashboard's PP+ change by that much.
    requests = eventually(lambda: [r for r in system.api("GET", f"/api/v1/funding?la_id={LA}&status=pending",
                                                         cookie=cw)[1]["items"] if r["pep_id"] == pep_id],
                          "the PEP's PP+ requests")
    before = system.api("GET", f"/api/v1/children/{child['id']}/funding", cookie=dt)[1]
    status, body, _ = system.api("POST", f"/api/v1/funding/{requests[0]['id']}/decide",
                                 {"decision": "approve", "amount": "15.00"}, cookie=approver)
    assert status == 200, body
    after = system.api("GET", f"/api/v1/children/{child['id']}/funding", cookie=dt)[1]
    assert Decimal(after["approved"]) - Decimal(before["approved"]) == Decimal("15.00")
    assert Decimal(before["remaining"]) - Decimal(after["remaining"]) == Decimal("15.00")
    assert moved(start, counts(dashboard(system, cw, **mine)))["approved"] == Decimal("15.00")

    # The pickers name the caseworker and the social worker; the caseworker filter is the LA's Virtual School's.
    options = dashboard(system, cw)["options"]
    assert {"id": CASEWORKER, "name": "Cal Caseworker"} in options["caseworkers"]
    assert SW in {p["id"] for p in options["social_workers"]} and child["setting_id"] in options["setting_ids"]
    for outsider in (cookies["admin2"], dt):
        status, body, _ = system.api("GET", "/api/v1/dashboard?" + urlencode({"la_id": LA, **mine}), cookie=outsider)
        assert status == 404, body
    status, body, _ = system.api("GET", f"/api/v1/dashboard?la_id={LA}&caseworker_id=someone", cookie=cw)
    assert status == 422 and [e["field"] for e in body["errors"]] == ["caseworker_id"]
    JOURNEY.update(child=child, pep_id=pep_id, start=start)


# ---- automatic termly payments -------------------------------------------------------------------------------------

REPLICAS = ("qa-r1", "qa-r2")


@pytest.fixture
def clock(system: RunningSystem, tmp_path: Path) -> Iterator[Path]:
    """Two replicas of qa whose schedulers tick every 0.2 s on a clock file; stopped afterwards."""
    with replicas_on_a_clock(system, "qa", REPLICAS, tmp_path / "now",
                             "EPEP_TERMLY_PAYMENT_INTERVAL_SECONDS") as clock_file:
        yield clock_file


def test_termly_payments_are_made_once_per_child_per_term_and_counted(system: RunningSystem, cookies: dict[str, str],
                                                                       clock: Path) -> None:
    assert JOURNEY, "runs after the journey above, which approves a PEP"
    admin, cw, dt = cookies["admin"], cookies["caseworker"], cookies["dt"]
    child, pep_id = JOURNEY["child"], JOURNEY["pep_id"]
    allocation = f"/api/v1/organisations/{LA}/pp-plus-allocation"
    current = system.api("GET", allocation, cookie=admin)[1]
    assert current["termly_payment"] is None
    # Only the LA's VS admin sets it; it is at most the allocation; another LA's admin and a DT get 404.
    assert system.api("PUT", allocation, {"amount": current["amount"], "termly_payment": "100.00"}, cookie=cw)[0] == 403
    for outsider in (cookies["admin2"], dt):
        assert system.api("PUT", allocation, {"amount": "1.00", "termly_payment": "1.00"}, cookie=outsider)[0] == 404
        assert system.api("GET", allocation, cookie=outsider)[0] == 404
    status, body, _ = system.api("PUT", allocation, {"amount": "100.00", "termly_payment": "200.00"}, cookie=admin)
    assert status == 422 and [e["field"] for e in body["errors"]] == ["termly_payment"]
    before = system.api("GET", f"/api/v1/children/{child['id']}/funding", cookie=dt)[1]
    # An approved PEP of an academic year gone by (in qa's read model) is not paid for when payments begin.
    old_child, old_pep = uuid.uuid4(), uuid.uuid4()
    system.admin_sql("INSERT INTO qa.peps (id, child_id, la_id, status, kind, term, academic_year, status_version) "
                     "VALUES ($1, $2, $3, 'approved', 'termly', 'autumn', '2019/20', 1)", old_pep, old_child,
                     uuid.UUID(LA))
    set_clock(clock, date.today())
    try:
        status, body, _ = system.api("PUT", allocation, {"amount": current["amount"], "termly_payment": "210.50"},
                                     cookie=admin)
        assert status == 200 and body["termly_payment"] == "210.50", body
        # Leaving the termly payment out of a change keeps it.
        assert system.api("PUT", allocation, {"amount": current["amount"]}, cookie=admin)[1]["termly_payment"] == \
            "210.50"

        def paid() -> list[dict[str, Any]]:
            return [dict(r) for r in system.admin_sql("SELECT * FROM qa.termly_payments WHERE child_id = $1",
                                                      uuid.UUID(child["id"]))]
        rows = eventually(paid, "the scheduler pays the child's term")
        time.sleep(2)  # ten more ticks of each replica: still once
        rows = paid()
        assert len(rows) == 1 and str(rows[0]["pep_id"]) == pep_id and rows[0]["amount"] == Decimal("210.50"), rows
        assert not system.admin_sql("SELECT 1 FROM qa.termly_payments WHERE child_id = $1", old_child)
    finally:
        system.api("PUT", allocation, {"amount": current["amount"], "termly_payment": None}, cookie=admin)
        system.admin_sql("DELETE FROM qa.peps WHERE id = $1", old_pep)
    assert system.api("GET", allocation, cookie=admin)[1]["termly_payment"] is None

    # The child's totals count it against the allocation (in the financial year it was paid).
    after = system.api("GET", f"/api/v1/children/{child['id']}/funding", cookie=dt)[1]
    year = rows[0]["financial_year"]
    assert [t["amount"] for t in after["termly_payments"]] == ["210.50"]
    by_year = {y["financial_year"]: y for y in after["years"]}
    assert by_year[year]["paid_termly"] == "210.50"
    if year == before["financial_year"]:
        assert Decimal(after["approved"]) - Decimal(before["approved"]) == Decimal("210.50")
        assert after["paid_termly"] == "210.50"
    # The finance CSV has a row for it; the dashboard counts it.
    status, text = _csv(system, admin, LA)
    row = next(r for r in csv.DictReader(io.StringIO(text)) if r["request_id"] == str(rows[0]["id"]))
    assert (row["status"], row["amount_approved"], row["child_id"], row["funding_type"]) == (
        "paid", "210.50", child["id"], "termly_payment")
    # (Other approved PEPs of the LA this term were paid too: the test counts those this caseworker reviewed.)
    mine = dashboard(system, cw, caseworker_id=CASEWORKER)
    counted = system.admin_sql(
        # A term settled with nothing paid (the child's allocation used up) is not a payment.
        "SELECT t.financial_year, count(*) FILTER (WHERE t.amount > 0) AS n, sum(t.amount) AS amount "
        "FROM qa.termly_payments t "
        "WHERE t.la_id = $1 AND EXISTS (SELECT 1 FROM qa.reviews r WHERE r.pep_id = t.pep_id AND r.by_user = $2) "
        "GROUP BY t.financial_year", uuid.UUID(LA), uuid.UUID(CASEWORKER))
    assert {t["financial_year"]: (t["payments"], Decimal(t["amount"])) for t in mine["pp_plus_termly"]} == {
        r["financial_year"]: (r["n"], r["amount"]) for r in counted}
    assert Decimal(mine["pp_plus_paid_termly"]) == sum((r["amount"] for r in counted), Decimal(0)) >= Decimal("210.50")
    assert rows[0]["paid_at"].date() == date.today()
