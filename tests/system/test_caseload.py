"""Caseload trackers on the whole system: each child lands in Overdue, No PEP date or Upcoming from pep's events,
each person sees only the children they work with, and the Virtual School sees counts by setting and by
social worker."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from services.pep.domain.core_data import academic_year_label
from shared import demo
from tests.conftest import RunningSystem
from tests.system.test_children import SW, new_child

OAKFIELD = str(demo.OAKFIELD)


def caseload(system: RunningSystem, cookie: str, query: str = "") -> dict[str, Any]:
    status, body, _ = system.api("GET", f"/api/v1/caseload{query}", cookie=cookie)
    assert status == 200, body
    return dict(body)


def eventually(check: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.2)


def test_children_are_tracked_for_those_who_work_with_them(system: RunningSystem) -> None:
    cw, sw, dt = (system.sign_in(e) for e in ("caseworker@demo.test", "sw@demo.test", "dt@demo.test"))
    dt2, admin2 = system.sign_in("dt2@demo.test"), system.sign_in("admin@northshire.test")
    year = academic_year_label(date.today())
    no_pep = new_child(system, cw, social_worker_id=SW)
    soon = new_child(system, cw, social_worker_id=SW)
    late = new_child(system, cw, social_worker_id=SW)
    meeting = (date.today() + timedelta(days=10)).isoformat()
    assert system.api("POST", f"/api/v1/children/{soon['id']}/peps", {
        "kind": "termly_review", "term": "spring", "academic_year": year, "meeting_date": meeting}, cookie=sw)[0] == 201
    long_ago = (date.today() - timedelta(days=70)).isoformat()  # its DT return date (10 working days on) has passed
    status, body, _ = system.api("POST", f"/api/v1/children/{late['id']}/peps", {
        "kind": "termly_review", "term": "autumn", "academic_year": year, "meeting_date": long_ago}, cookie=sw)
    assert status == 201, body

    def placed() -> bool:
        items = {i["child_id"]: i for i in caseload(system, sw)["items"]}
        return all(c["id"] in items for c in (no_pep, soon, late)) and \
            items[soon["id"]]["categories"] == ["upcoming"] and "overdue" in items[late["id"]]["categories"]
    eventually(placed, "delegation hears of the children and their PEPs")

    items = {i["child_id"]: i for i in caseload(system, sw)["items"]}
    assert items[no_pep["id"]]["categories"] == ["no_pep_date"] and items[no_pep["id"]]["pep_id"] is None
    assert items[soon["id"]]["meeting_date"] == meeting and items[soon["id"]]["social_worker_name"] == \
        "Sam Social-Worker"
    assert items[late["id"]]["categories"] == ["overdue"]
    assert "Not submitted by" in items[late["id"]]["reasons"][0] and "after the meeting on" in \
        items[late["id"]]["reasons"][0]

    # One tracker at a time; the DT of their school sees the same children; others none of them.
    upcoming = {i["child_id"] for i in caseload(system, sw, "?category=upcoming")["items"]}
    assert soon["id"] in upcoming and no_pep["id"] not in upcoming and late["id"] not in upcoming
    assert {no_pep["id"], soon["id"], late["id"]} <= {i["child_id"] for i in caseload(system, dt)["items"]}
    for outsider in (dt2, admin2):
        seen = caseload(system, outsider)
        assert not {no_pep["id"], soon["id"], late["id"]} & {i["child_id"] for i in seen["items"]}
        assert seen["by_setting"] is None or all(r["id"] != OAKFIELD for r in seen["by_setting"])
    assert caseload(system, sw)["by_setting"] is None  # breakdowns are the Virtual School's

    # The Virtual School: counts by setting and by social worker, and a list narrowed to one of them.
    whole = caseload(system, cw)
    oakfield = next(r for r in whole["by_setting"] if r["id"] == OAKFIELD)
    sam = next(r for r in whole["by_social_worker"] if r["id"] == SW)
    assert sam["name"] == "Sam Social-Worker"
    for row in (oakfield, sam):
        assert row["counts"]["overdue"] >= 1 and row["counts"]["upcoming"] >= 1 and row["counts"]["no_pep_date"] >= 1
    narrowed = caseload(system, cw, f"?social_worker_id={SW}&category=overdue")
    assert late["id"] in {i["child_id"] for i in narrowed["items"]}
    assert all(i["social_worker_id"] == SW and "overdue" in i["categories"] for i in narrowed["items"])
    status, body, _ = system.api("GET", "/api/v1/caseload?category=late", cookie=cw)
    assert status == 422 and [e["field"] for e in body["errors"]] == ["category"]
