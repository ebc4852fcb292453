"""Caseload trackers on the whole system: each child lands in Overdue, No PEP date or Upcoming from pep's events,
each person sees only the children they work with, and the Virtual School sees counts by setting and by
social worker. With delegation on a test clock, each alert (initial PEP late, due soon, review after a change due,
awaiting QA too long) lands on the day worked out by hand, with its reason and the date it was due."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.pep.domain.core_data import academic_year_label
from shared import demo
from shared.workdays import is_working_day
from tests.conftest import RunningSystem
from tests.support.clock import UK, service_on_a_clock, set_clock
from tests.system.test_children import SW, new_child
from tests.system.test_qa import submitted_pep

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


# ---- alerts, on delegation's clock ---------------------------------------------------------------------------


@pytest.fixture
def delegation_clock(system: RunningSystem, tmp_path: Path) -> Iterator[Path]:
    """delegation answering "what is due today" by a clock file the test moves."""
    with service_on_a_clock(system, "delegation", tmp_path / "now") as clock_file:
        yield clock_file


def alerts_of(body: dict[str, Any], child_id: str, kind: str | None = None) -> list[tuple[str, str | None, str]]:
    """A child's alerts in a caseload answer: (kind, due, reason), of one kind or all."""
    item = next((i for i in body["items"] if i["child_id"] == child_id), None)
    assert item is not None, f"{child_id} not listed"
    return [(a["kind"], a["due"], a["reason"]) for a in item["alerts"] if kind in (None, a["kind"])]


def in_delegation(system: RunningSystem, child_id: str, **columns: Any) -> None:
    """Wait until delegation's read model of the child holds these facts from pep's events."""
    names = ", ".join(columns)
    eventually(lambda: (rows := system.admin_sql(f"SELECT {names} FROM delegation.children WHERE id = $1",
                                                 child_id)) != [] and dict(rows[0]) == columns,
               f"delegation hears of {columns}")


def test_each_alert_lands_on_the_day_worked_out_by_hand(system: RunningSystem, delegation_clock: Path) -> None:
    cw, sw, dt, admin = (system.sign_in(e) for e in ("caseworker@demo.test", "sw@demo.test", "dt@demo.test",
                                                     "admin@demo.test"))
    dt2 = system.sign_in("dt2@demo.test")
    # Entered care Mon 2 November 2026 by emergency placement: 10 working days, 3-6 November (4), 9-13 (9),
    # Mon 16 November (10).
    emergency = new_child(system, cw, social_worker_id=SW, date_entered_care="2026-11-02",
                          entered_care_emergency=True)
    # Entered care Mon 26 October 2026, planned: 20 working days, 27-30 October (4), 2-6 November (9), 9-13 (14),
    # 16-20 (19), Mon 23 November (20); due soon from 5 working days before, Mon 16 November.
    planned = new_child(system, cw, social_worker_id=SW, date_entered_care="2026-10-26")
    # A new placement from Mon 9 November 2026: its review is due in 10 working days, 10-13 November (4), 16-20
    # (9), Mon 23 November (10); due soon from Mon 16 November.
    moved = new_child(system, cw, social_worker_id=SW)
    status, body, _ = system.api("POST", f"/api/v1/children/{moved['id']}/placement", {
        "version": moved["version"], "placement_type": "kinship_care", "starts_on": "2026-11-09",
        "reason": "Moved to live with an aunt"}, cookie=cw)
    assert status == 200, body
    in_delegation(system, emergency["id"], date_entered_care=date(2026, 11, 2), entered_care_emergency=True)
    in_delegation(system, planned["id"], date_entered_care=date(2026, 10, 26), entered_care_emergency=False)
    in_delegation(system, moved["id"], moved_on=date(2026, 11, 9), move_kind="placement")

    set_clock(delegation_clock, date(2026, 11, 18))  # a Wednesday
    found = caseload(system, cw)
    assert found["today"] == "2026-11-18"
    assert alerts_of(found, emergency["id"], "initial_pep_late") == [(
        "initial_pep_late", "2026-11-16", "Initial PEP was due by 16 November 2026: 10 working days after entering "
        "care on 2 November 2026 by emergency placement (default rule 'initial_pep_emergency')")]
    assert ("overdue", "2026-11-16") in [a[:2] for a in alerts_of(found, emergency["id"])]
    assert [a[:2] for a in alerts_of(found, planned["id"], "due_soon")] == [("due_soon", "2026-11-23")]
    assert alerts_of(found, planned["id"], "initial_pep_late") == [] and \
        alerts_of(found, planned["id"], "overdue") == []
    assert alerts_of(found, moved["id"], "review_after_change") == [(
        "review_after_change", "2026-11-23", "Review after a change of placement is due by 23 November 2026: 10 "
        "working days after the change of placement on 9 November 2026 (default rule 'review_after_change')")]
    assert ("due_soon", "2026-11-23") in [a[:2] for a in alerts_of(found, moved["id"])]

    # Each alert is a filter: its children only, each in it; and the people who work with them see them.
    for kind, child in (("initial_pep_late", emergency), ("due_soon", planned), ("review_after_change", moved)):
        for cookie in (cw, admin, sw, dt):
            listed = caseload(system, cookie, f"?category={kind}")
            assert child["id"] in {i["child_id"] for i in listed["items"]}, (kind, cookie)
            assert all(kind in i["categories"] for i in listed["items"])
            assert listed["counts"][kind] >= 1
        assert child["id"] not in {i["child_id"] for i in caseload(system, dt2, f"?category={kind}")["items"]}
    # The Virtual School's breakdowns count them, and narrow to a setting or a social worker.
    whole = caseload(system, cw)
    for rows, key in ((whole["by_setting"], OAKFIELD), (whole["by_social_worker"], SW)):
        counts = next(r for r in rows if r["id"] == key)["counts"]
        assert counts["initial_pep_late"] >= 1 and counts["due_soon"] >= 2 and counts["review_after_change"] >= 1
    narrowed = caseload(system, cw, f"?category=initial_pep_late&setting_id={OAKFIELD}&social_worker_id={SW}")
    assert emergency["id"] in {i["child_id"] for i in narrowed["items"]}
    assert all(i["setting_id"] == OAKFIELD and i["social_worker_id"] == SW for i in narrowed["items"])

    # A week on, Wed 25 November: the planned child's initial PEP (23 November) is late too, and so is the review.
    set_clock(delegation_clock, date(2026, 11, 25))
    found = caseload(system, cw)
    assert [a[:2] for a in alerts_of(found, planned["id"], "initial_pep_late")] == [("initial_pep_late",
                                                                                     "2026-11-23")]
    assert [a[:2] for a in alerts_of(found, moved["id"], "review_after_change")] == [("review_after_change",
                                                                                      "2026-11-23")]
    assert alerts_of(found, moved["id"], "review_after_change")[0][2].startswith(
        "Review after a change of placement was due by 23 November 2026")
    assert ("overdue", "2026-11-23") in [a[:2] for a in alerts_of(found, moved["id"])]


def tenth_working_day_after(day: date) -> date:
    for _ in range(10):
        day += timedelta(days=1)
        while not is_working_day(day):
            day += timedelta(days=1)
    return day


def test_a_pep_waiting_for_qa_too_long_is_the_virtual_schools_alert(system: RunningSystem,
                                                                    delegation_clock: Path) -> None:
    emails = {"caseworker": "caseworker@demo.test", "sw": "sw@demo.test", "dt": "dt@demo.test"}
    cookies = {key: system.sign_in(email) for key, email in emails.items()}
    submitted = datetime.now(UK).date()  # pep stamps the submission with the real time
    child, pep_id = submitted_pep(system, cookies, submitted - timedelta(days=1))
    eventually(lambda: [r["submitted_on"] for r in system.admin_sql(
        "SELECT submitted_on FROM delegation.peps WHERE id = $1", pep_id)] == [submitted],
        "delegation hears of the submission")
    due = tenth_working_day_after(submitted)

    set_clock(delegation_clock, due)
    assert alerts_of(caseload(system, cookies["caseworker"]), child["id"], "awaiting_qa") == []
    set_clock(delegation_clock, due + timedelta(days=1))
    found = caseload(system, cookies["caseworker"], "?category=awaiting_qa")
    [(kind, when, why)] = alerts_of(found, child["id"])
    assert (kind, when) == ("awaiting_qa", due.isoformat())
    assert why.startswith(f"Virtual School quality check was due by {due.day} {due:%B %Y}: 10 working days after")
    assert found["counts"]["awaiting_qa"] >= 1
    # Not the school's lateness: the child is not overdue for it.
    assert alerts_of(caseload(system, cookies["dt"]), child["id"], "overdue") == []
