"""Money adds up (issue 22, item 9): three children, each with an approved PEP whose PP+ requests are decided one
way or another (approved less than asked, refused, left pending), targets raised between PEPs, and then the LA's
automatic termly payment: paid in full to one child, capped at what is left of the allocation for another, and
nothing for the third, whose allocation is used up. For each child, qa's totals, the profile's "PP+ agreed" and the
finance CSV's rows count the same money; the dashboard's total is the CSV's."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RunningSystem
from tests.support.clock import replicas_on_a_clock, set_clock
from tests.system.qa_steps import decide_in_qa
from tests.system.test_children import LA
from tests.system.test_qa import _csv, last_working_day_before, submitted_pep
from tests.system.test_tasks import eventually

TERMLY = Decimal("200.00")


@pytest.fixture(scope="module")
def cookies(system: RunningSystem) -> dict[str, str]:
    emails = {"caseworker": "caseworker@demo.test", "approver": "approver@demo.test", "sw": "sw@demo.test",
              "dt": "dt@demo.test", "admin": "admin@demo.test"}
    return {key: system.sign_in(email) for key, email in emails.items()}


@pytest.fixture
def clock(system: RunningSystem, tmp_path: Path) -> Iterator[Path]:
    with replicas_on_a_clock(system, "qa", ("qa-money",), tmp_path / "now",
                             "EPEP_TERMLY_PAYMENT_INTERVAL_SECONDS") as clock_file:
        yield clock_file


def requests_of(system: RunningSystem, cookie: str, child_id: str) -> list[dict[str, Any]]:
    return list(system.api("GET", f"/api/v1/children/{child_id}/funding", cookie=cookie)[1]["requests"])


def raise_target(system: RunningSystem, cookie: str, child_id: str, amount: str) -> str:
    status, body, _ = system.api("POST", f"/api/v1/children/{child_id}/action-targets", {
        "what": "Tuition", "by_when": (date.today() + timedelta(days=30)).isoformat(), "how": "Weekly",
        "amount": amount, "area_of_focus": "academic_achievement", "intervention_type": "one_to_one_tuition"},
        cookie=cookie)
    assert status == 201, body
    return str(body["id"])


def decide(system: RunningSystem, approver: str, request_id: str, body: dict[str, Any]) -> None:
    status, answer, _ = system.api("POST", f"/api/v1/funding/{request_id}/decide", body, cookie=approver)
    assert status == 200, answer


def test_the_childs_totals_the_profile_the_csv_and_the_dashboard_count_the_same_money(
        system: RunningSystem, cookies: dict[str, str], clock: Path) -> None:
    cw, dt, sw, approver, admin = (cookies[k] for k in ("caseworker", "dt", "sw", "approver", "admin"))
    allocation_path = f"/api/v1/organisations/{LA}/pp-plus-allocation"
    allocation = Decimal(system.api("GET", allocation_path, cookie=admin)[1]["amount"])
    meeting = last_working_day_before(date.today())
    children = []
    for _ in range(3):
        child, pep_id = submitted_pep(system, cookies, meeting)
        assert decide_in_qa(system, cw, pep_id, "approve")[0] == 200
        children.append(child["id"])
    full, capped, nothing = children

    # The full child: a PP+ request approved at less than asked, one refused, one left pending.
    asked = [raise_target(system, dt, full, amount) for amount in ("100.00", "50.00", "75.00")]

    def queued() -> list[dict[str, Any]] | None:
        found = {r["action_target_id"]: r for r in requests_of(system, sw, full)}
        return [found[t] for t in asked] if all(t in found for t in asked) else None
    mine = eventually(queued, "the requests reach qa")
    decide(system, approver, mine[0]["id"], {"decision": "approve", "amount": "20.00"})
    decide(system, approver, mine[1]["id"], {"decision": "refuse", "reason": "Not costed"})
    # The capped child: targets between PEPs approved up to £150 short of the allocation (less than the termly
    # payment). The third: the whole allocation approved.
    for child_id, amount in ((capped, allocation - Decimal("150.00")), (nothing, allocation)):
        target = raise_target(system, dt, child_id, f"{amount:.2f}")
        request = eventually(lambda c=child_id, t=target: next((r for r in requests_of(system, sw, c)
                                                                if r["action_target_id"] == t), None),
                             "the target's request reaches qa")
        decide(system, approver, request["id"], {"decision": "approve"})

    # Then the LA pays automatically each term.
    set_clock(clock, date.today())
    try:
        assert system.api("PUT", allocation_path, {"amount": f"{allocation:.2f}", "termly_payment": f"{TERMLY:.2f}"},
                          cookie=admin)[0] == 200

        def paid() -> dict[str, dict[str, Any]] | None:
            rows = {str(r["child_id"]): dict(r) for r in system.admin_sql(
                "SELECT * FROM qa.termly_payments WHERE child_id = ANY($1::uuid[])", [uuid.UUID(c) for c in children])}
            return rows if len(rows) == 3 else None
        payments = eventually(paid, "each child's term is paid", timeout=60)
    finally:
        system.api("PUT", allocation_path, {"amount": f"{allocation:.2f}", "termly_payment": None}, cookie=admin)
    assert {c: (p["amount"], p["amount_due"]) for c, p in payments.items()} == {
        full: (TERMLY, TERMLY), capped: (Decimal("150.00"), TERMLY), nothing: (Decimal("0.00"), TERMLY)}

    # Each child: what qa counts against the allocation, what the profile shows and what the CSV's rows add up to.
    expected = {full: Decimal("20.00") + TERMLY, capped: allocation, nothing: allocation}
    status, text = _csv(system, admin, LA)
    assert status == 200
    rows = list(csv.DictReader(io.StringIO(text)))
    for child_id, total in expected.items():
        funding = system.api("GET", f"/api/v1/children/{child_id}/funding", cookie=sw)[1]
        assert Decimal(funding["approved"]) == total and Decimal(funding["paid_termly"]) == payments[child_id][
            "amount"], funding
        assert Decimal(funding["remaining"]) == allocation - total >= 0
        termly = funding["termly_payments"][0]
        assert termly["capped"] is (child_id != full) and termly["amount_due"] == f"{TERMLY:.2f}"

        def profile(c: str = child_id, t: Decimal = total) -> dict[str, Any] | None:
            found = system.api("GET", f"/api/v1/children/{c}", cookie=sw)[1]["indicators"]
            return found if Decimal(found["pp_plus_agreed"]) == t else None
        indicators = eventually(profile, "the profile hears the decisions and the payment")
        assert Decimal(indicators["pp_plus_paid_termly"]) == payments[child_id]["amount"]
        assert indicators["pp_plus_financial_year"] == funding["financial_year"]

        counted = [r for r in rows if r["child_id"] == child_id and r["status"] in ("approved", "paid")
                   and r["financial_year"] == funding["financial_year"]]
        assert sum(Decimal(r["amount_approved"]) for r in counted) == total, counted
        assert {r["status"] for r in rows if r["child_id"] == child_id} >= {"approved", "paid"}
    # Refused and pending requests are in the CSV but count nothing; a capped payment says why.
    statuses = {r["status"] for r in rows if r["child_id"] == full}
    assert {"refused", "pending"} <= statuses, statuses
    reasons = {r["child_id"]: r["reason"] for r in rows if r["funding_type"] == "termly_payment"
               and r["child_id"] in (capped, nothing)}
    assert reasons[capped].startswith("Capped at the £150.00 left") and reasons[nothing].startswith("Nothing paid")

    # The dashboard (every PEP of the LA) counts what the CSV's approved and paid rows add up to.
    def same() -> tuple[Decimal, Decimal] | None:
        board = system.api("GET", f"/api/v1/dashboard?la_id={LA}", cookie=cw)[1]
        status, text = _csv(system, admin, LA)
        in_csv = sum((Decimal(r["amount_approved"]) for r in csv.DictReader(io.StringIO(text))
                      if r["status"] in ("approved", "paid")), Decimal(0))
        total = Decimal(board["pp_plus_total"])
        return (total, in_csv) if total == in_csv else None
    eventually(same, "the dashboard's PP+ total is the finance CSV's")
