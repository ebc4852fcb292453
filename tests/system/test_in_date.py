"""In date on the whole system (issue 18, item 3): the percentage of an LA's children in care with a PEP in date,
per setting and QA caseworker, its trend by term, and the children behind a figure with why each is not in date,
on delegation's clock and against dates worked out by hand; the Virtual School of that LA only. And qa's QA
timescale follows the LA's own 'qa_review' rule: delegation announces a change, and qa's figure changes with it.

Demo LA's year, as the test saves it: Autumn 2026 2 Sep - 18 Dec (deadline Fri 11 Dec), Spring 2027 5 Jan -
25 Mar (deadline Fri 19 Mar), Summer 2027 12 Apr - 21 Jul (deadline Fri 9 Jul). delegation's today: Wed 20 Jan 2027.
Bank holidays crossed: Fri 25 Dec 2026, Mon 28 Dec 2026, Fri 1 Jan 2027."""

from __future__ import annotations

import html
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from services.pep.domain.core_data import academic_year_label
from shared import demo
from tests.conftest import RunningSystem
from tests.support.clock import service_on_a_clock, set_clock
from tests.system.qa_steps import decide_in_qa
from tests.system.test_children import SW
from tests.system.test_qa import submitted_pep

LA = str(demo.LA_ID)
TIMESCALES = f"/api/v1/organisations/{LA}/timescales"
IN_DATE = f"/api/v1/organisations/{LA}/in-date"
TODAY = date(2027, 1, 20)
TERMS = [{"term": "Autumn 2026", "start": "2026-09-02", "end": "2026-12-18"},
         {"term": "Spring 2027", "start": "2027-01-05", "end": "2027-03-25"},
         {"term": "Summer 2027", "start": "2027-04-12", "end": "2027-07-21"}]
DEADLINES = [{"term": "Autumn 2026", "due": "2026-12-11"}, {"term": "Spring 2027", "due": "2027-03-19"},
             {"term": "Summer 2027", "due": "2027-07-09"}]


def eventually(check: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.3)
    return found


def _rules(current: dict[str, Any], **changed: dict[str, Any]) -> dict[str, Any]:
    return {**{k: {"amount": v["amount"], "unit": v["unit"]} for k, v in current["rules"].items()}, **changed}


def save_timescales(system: RunningSystem, admin: str, **fields: Any) -> dict[str, Any]:
    current = system.api("GET", TIMESCALES, cookie=admin)[1]
    body = {"based_on_version": current["version"], "rules": _rules(current),
            "term_periods": current["term_periods"], "inset_days": current["inset_days"],
            "termly_deadlines": current["termly_deadlines"], **fields}
    status, saved, _ = system.api("PUT", TIMESCALES, body, cookie=admin)
    assert status == 200, saved
    return dict(saved)


@pytest.fixture(scope="module")
def admin(system: RunningSystem) -> Iterator[str]:
    """Demo's VS admin, with Demo's year saved as above; Demo's timescales as they were afterwards."""
    cookie = system.sign_in("admin@demo.test")
    before = system.api("GET", TIMESCALES, cookie=cookie)[1]
    save_timescales(system, cookie, term_periods=TERMS, termly_deadlines=DEADLINES)
    try:
        yield cookie
    finally:
        save_timescales(system, cookie, rules=_rules(before), term_periods=before["term_periods"],
                        inset_days=before["inset_days"], termly_deadlines=before["termly_deadlines"])


@pytest.fixture
def delegation_today(system: RunningSystem, tmp_path: Path) -> Iterator[None]:
    with service_on_a_clock(system, "delegation", tmp_path / "now") as clock_file:
        set_clock(clock_file, TODAY)
        yield


def child_in(system: RunningSystem, cookie: str, setting_id: str, family_name: str, **fields: Any) -> dict[str, Any]:
    body = {"la_id": LA, "given_name": "Robin", "family_name": family_name, "date_of_birth": "2016-05-01",
            "setting_id": setting_id, "year_group": "Year 5", **fields}
    status, child, _ = system.api("POST", "/api/v1/children", body, cookie=cookie)
    assert status == 201, child
    return dict(child)


def portal_page(system: RunningSystem, cookie: str, path: str) -> str:
    request = urllib.request.Request(system.portal_url + path, headers={"Cookie": cookie})
    with urllib.request.urlopen(request, timeout=30) as response:
        return str(response.read().decode())


def test_the_figure_its_trend_and_the_children_behind_it(system: RunningSystem, admin: str,
                                                          delegation_today: None) -> None:
    cw, sw = system.sign_in("caseworker@demo.test"), system.sign_in("sw@demo.test")
    status, setting, _ = system.api("POST", f"/api/v1/organisations/{LA}/settings", {
        "name": f"In Date Academy <b> & {uuid.uuid4().hex[:6]}", "setting_type": "academy"}, cookie=admin)
    assert status == 201, setting
    here = setting["id"]
    year = academic_year_label(date(2026, 11, 2))
    # Late: entered care Mon 2 Nov 2026 (planned), no PEP. Initial PEP due 20 working days on: 3-6 Nov (4),
    # 9-13 (9), 16-20 (14), 23-27 (19), Mon 30 Nov (20).
    late = child_in(system, cw, here, "Late <b> & Co", date_entered_care="2026-11-02")
    # Met: entered care the same day, its initial PEP meeting held on Fri 20 Nov 2026.
    met = child_in(system, cw, here, "Met", date_entered_care="2026-11-02", social_worker_id=SW)
    status, body, _ = system.api("POST", f"/api/v1/children/{met['id']}/peps", {
        "kind": "initial", "term": "autumn", "academic_year": year, "meeting_date": "2026-11-20"}, cookie=sw)
    assert status == 201, body
    # Emergency: entered care Mon 14 Sep 2026 by emergency placement, no PEP: due 10 working days on, 15-18 Sep
    # (4), 21-25 (9), Mon 28 Sep 2026 (10).
    emergency = child_in(system, cw, here, "Emergency", date_entered_care="2026-09-14", entered_care_emergency=True)
    # Settled: in care since January 2025, Autumn's review held on Wed 2 Dec 2026 (before the 11 December
    # deadline); Spring's deadline (19 March) is to come.
    settled = child_in(system, cw, here, "Settled", date_entered_care="2025-01-06", social_worker_id=SW)
    status, body, _ = system.api("POST", f"/api/v1/children/{settled['id']}/peps", {
        "kind": "termly_review", "term": "autumn", "academic_year": year, "meeting_date": "2026-12-02"}, cookie=sw)
    assert status == 201, body

    def figure() -> dict[str, Any] | None:
        status, body, _ = system.api("GET", IN_DATE, cookie=admin)
        assert status == 200, body
        group = next((g for g in body["by_setting"] if g["id"] == here), None)
        return body if group is not None and (group["children"], group["in_date"]) == (4, 2) else None
    body = eventually(figure, "delegation hears of the four children and their PEPs")
    assert body["today"] == TODAY.isoformat()
    assert next(g for g in body["by_setting"] if g["id"] == here)["percent"] == 50.0
    assert 0 < body["in_date"] <= body["children"] and body["percent"] == round(
        100 * body["in_date"] / body["children"], 1)
    # The trend: Autumn 2026 as of its last day, Spring 2027 (today's term) as of today, equal to today's figure.
    assert [(t["term"], t["as_of"], t["current"]) for t in body["trend"]] == [
        ("Autumn 2026", "2026-12-18", False), ("Spring 2027", "2027-01-20", True)]
    assert (body["trend"][1]["children"], body["trend"][1]["in_date"]) == (body["children"], body["in_date"])

    # The children behind the setting's figure: those not in date first, each with why.
    query = urlencode({"group": "setting", "id": here})
    status, listed, _ = system.api("GET", f"{IN_DATE}/children?{query}", cookie=admin)
    assert status == 200, listed
    assert (listed["children"], listed["in_date"], listed["percent"]) == (4, 2, 50.0)
    rows = [(i["child_id"], i["in_date"]) for i in listed["items"]]
    assert set(rows[:2]) == {(late["id"], False), (emergency["id"], False)}
    assert set(rows[2:]) == {(met["id"], True), (settled["id"], True)}
    why = {i["child_id"]: i["reasons"] for i in listed["items"]}
    assert [(r["clock"], r["due"]) for r in why[late["id"]]] == [("initial_pep", "2026-11-30")]
    assert "20 working days after entering care on 2 November 2026" in why[late["id"]][0]["explanation"]
    assert [(r["clock"], r["due"]) for r in why[emergency["id"]]] == [("initial_pep", "2026-09-28")]
    assert "by emergency placement" in why[emergency["id"]][0]["explanation"]
    assert why[met["id"]] == why[settled["id"]] == []
    status, only, _ = system.api("GET", f"{IN_DATE}/children?{query}&not_in_date=true", cookie=admin)
    assert {i["child_id"] for i in only["items"]} == {late["id"], emergency["id"]} and only["children"] == 4
    status, by_sw, _ = system.api("GET", f"{IN_DATE}/children?group=social_worker&id={SW}", cookie=admin)
    assert status == 200 and {met["id"], settled["id"]} <= {i["child_id"] for i in by_sw["items"]}
    assert by_sw["name"] == "Sam Social-Worker"

    # The portal: the figure on the dashboard, a click to the setting's children, names escaped once.
    page = portal_page(system, cw, f"/dashboard?la_id={LA}")
    assert "Children with a PEP in date" in page and f"{body['percent']:.1f}%" in page
    link = html.escape(f"/dashboard/in-date?{urlencode({'la_id': LA, 'group': 'setting', 'id': here})}")
    assert link in page and "In Date Academy &lt;b&gt; &amp; " in page
    listing = portal_page(system, cw, f"/dashboard/in-date?{urlencode({'la_id': LA, 'group': 'setting', 'id': here})}")
    assert "Robin Late &lt;b&gt; &amp; Co" in listing and "&amp;lt;" not in listing
    assert "Not in date" in listing and "due 30 November 2026" in listing


def test_only_the_las_virtual_school_sees_it(system: RunningSystem, admin: str) -> None:
    for email in ("admin@northshire.test", "dt@demo.test", "sw@demo.test"):
        cookie = system.sign_in(email)
        for path in (IN_DATE, f"{IN_DATE}/children", f"{IN_DATE}/children?group=setting&id={demo.OAKFIELD}"):
            status, body, _ = system.api("GET", path, cookie=cookie)
            assert status == 404 and body["code"] == "not_found", (email, path, body)
    cw = system.sign_in("caseworker@demo.test")
    assert system.api("GET", f"/api/v1/organisations/{uuid.uuid4()}/in-date", cookie=cw)[0] == 404
    status, body, _ = system.api("GET", f"{IN_DATE}/children?group=everyone&id=x", cookie=cw)
    assert status == 422 and {e["field"] for e in body["errors"]} == {"group", "id"}
    assert system.api("GET", IN_DATE)[0] == 401


def test_the_caseworker_is_who_reviewed_the_childs_latest_pep(system: RunningSystem, admin: str) -> None:
    cookies = {k: system.sign_in(e) for k, e in (("caseworker", "caseworker@demo.test"), ("sw", "sw@demo.test"),
                                                 ("dt", "dt@demo.test"))}
    child, pep_id = submitted_pep(system, cookies, date(2026, 11, 25))
    status, body = decide_in_qa(system, cookies["caseworker"], pep_id, "approve")
    assert status == 200, body
    cal = str(demo.account_id("caseworker"))

    def reviewed() -> dict[str, Any] | None:
        listed = system.api("GET", f"{IN_DATE}/children?group=caseworker&id={cal}", cookie=admin)[1]
        return listed if any(i["child_id"] == child["id"] for i in listed["items"]) else None
    listed = eventually(reviewed, "delegation hears who reviewed the PEP")
    assert listed["name"] == "Cal Caseworker"
    item = next(i for i in listed["items"] if i["child_id"] == child["id"])
    assert (item["caseworker_id"], item["caseworker_name"]) == (cal, "Cal Caseworker")
    group = next(g for g in system.api("GET", IN_DATE, cookie=admin)[1]["by_caseworker"] if g["id"] == cal)
    assert group["name"] == "Cal Caseworker" and group["children"] == listed["children"]


def test_qa_counts_its_timescale_by_the_las_own_rule(system: RunningSystem, admin: str) -> None:
    """A decision four working days after the submission (Mon 2 to Fri 6 November 2026) is within the default
    10 working days, and not within 2 once the LA saves that (due Wed 4 November)."""
    status, setting, _ = system.api("POST", f"/api/v1/organisations/{LA}/settings", {
        "name": f"Timescale School {uuid.uuid4().hex[:6]}", "setting_type": "school"}, cookie=admin)
    assert status == 201, setting
    pep_id, child_id = uuid.uuid4(), uuid.uuid4()
    sent, decided = datetime(2026, 11, 2, 10, tzinfo=UTC), datetime(2026, 11, 6, 15, tzinfo=UTC)
    system.admin_sql("INSERT INTO qa.peps (id, child_id, la_id, setting_id, status, kind, term, academic_year, "
                     "meeting_date, submitted_at, status_version) VALUES ($1, $2, $3, $4, 'approved', "
                     "'termly_review', 'autumn', '2026/27', '2026-10-21', $5, 3)",
                     pep_id, child_id, demo.LA_ID, uuid.UUID(setting["id"]), sent)
    system.admin_sql("INSERT INTO qa.reviews (pep_id, child_id, la_id, submitted_at, meeting_date, stage, "
                     "framework_key, overall_grade, awarded_grade, outcome, by_user, at) VALUES ($1, $2, $3, $4, "
                     "'2026-10-21', 'decided', 'redcar_cleveland', 'green', 'green', 'approve', $5, $6)",
                     pep_id, child_id, demo.LA_ID, sent, demo.account_id("caseworker"), decided)
    dashboard = f"/api/v1/dashboard?la_id={LA}&setting_id={setting['id']}"
    try:
        save_timescales(system, admin, rules=_rules(system.api("GET", TIMESCALES, cookie=admin)[1],
                                                    qa_review={"amount": 10, "unit": "working_days"}))
        ten = eventually(lambda: (b := system.api("GET", dashboard, cookie=admin)[1])["qa_timescale"].startswith(
            "10 working days after submission") and b, "qa hears of the LA's rule")
        assert (ten["qa_checked"], ten["qa_within_timescale"], ten["qa_within_timescale_percent"]) == (1, 1, 100.0)
        saved = save_timescales(system, admin, rules=_rules(system.api("GET", TIMESCALES, cookie=admin)[1],
                                                            qa_review={"amount": 2, "unit": "working_days"}))
        version = saved["rules"]["qa_review"]["version"]
        two = eventually(lambda: (b := system.api("GET", dashboard, cookie=admin)[1])["qa_timescale"].startswith(
            "2 working days") and b, "qa hears of the changed rule")
        assert two["qa_timescale"] == f"2 working days after submission (LA rule 'qa_review', version {version})"
        assert (two["qa_checked"], two["qa_within_timescale"], two["qa_within_timescale_percent"]) == (1, 0, 0.0)
        assert "after the meeting (" in two["timescale_rule"] and "'dt_return'" in two["timescale_rule"]
        page = portal_page(system, admin, f"/dashboard?la_id={LA}&setting_id={setting['id']}")
        assert "Timescale for the quality check: 2 working days after submission (LA rule" in page
    finally:
        system.admin_sql("DELETE FROM qa.reviews WHERE pep_id = $1", pep_id)
        system.admin_sql("DELETE FROM qa.peps WHERE id = $1", pep_id)
