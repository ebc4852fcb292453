"""The dashboard page against a stand-in gateway: the setting, social worker and caseworker pickers name people and
settings (never ids), every table has its chart beside it, the new tables (due/overdue/completed, termly payments)
are shown, and the navigation offers quality assurance to the Virtual School only."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.portal.fake_gateway import ME, FakeGateway, with_session

LA = ME["memberships"][0]["organisation_id"]  # type: ignore[index]
OAKFIELD, SW, CW = ("11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222",
                    "33333333-3333-4333-8333-333333333333")


def _dashboard(**extra: Any) -> dict[str, Any]:
    count = [{"key": k, "label": k.capitalize(), "count": n} for k, n in (("submitted", 3), ("approved", 5))]
    return {
        "la_id": LA, "total": 8, "by_status": count,
        "progress": [{"key": "due", "label": "Due (not yet overdue)", "count": 2},
                     {"key": "overdue", "label": "Overdue", "count": 1},
                     {"key": "completed", "label": "Completed (approved or finalised)", "count": 5}],
        "progress_date": "2026-11-26", "timescale_working_days": 10, "submitted": 8, "within_timescale": 6,
        "within_timescale_percent": 75.0, "ratings": [], "decisions": 4, "turnaround_median_days": 1.5,
        "awarded": [{"framework_key": "redcar_cleveland", "grade": "gold", "label": "Gold", "count": 2}],
        "ratings_by_term": [], "pp_plus_approved": "100.00", "pp_plus_paid_termly": "421.00",
        "pp_plus_total": "521.00", "figures_at": "2026-11-26T16:37:05+00:00",
        "pp_plus_by_area": [{"key": "Literacy", "label": "Literacy", "requests": 2, "amount": "100.00"}],
        "pp_plus_by_intervention": [], "pp_plus_by_setting": [
            {"financial_year": "2026-27", "setting_id": OAKFIELD, "requests": 2, "amount": "100.00"}],
        "pp_plus_termly": [{"financial_year": "2026-27", "payments": 2, "amount": "421.00"}],
        "attendance_peps": 2, "attended_sessions": 170, "possible_sessions": 200, "attendance_percent": 85.0,
        "attendance_bands": [{"key": "below_90", "label": "Below 90% (persistently absent)", "count": 1},
                             {"key": "95_plus", "label": "95% or more", "count": 1}],
        "attainment": [{"key": "at", "label": "At age-related expectations", "count": 3}],
        "attainment_progress": [{"key": "expected", "label": "As expected", "count": 3}],
        "options": {"setting_ids": [OAKFIELD], "social_workers": [{"id": SW, "name": "Sam Social"}],
                    "caseworkers": [{"id": CW, "name": "Cal Caseworker"}]}, **extra}


@pytest.fixture
def portal(portal: TestClient) -> TestClient:
    return with_session(portal)


async def test_pickers_name_settings_and_people_and_every_table_has_its_chart(portal: TestClient,
                                                                               fake: FakeGateway) -> None:
    fake.signed_in()
    fake.answer("GET", "/dashboard", 200, _dashboard(caseworker_id=CW))
    fake.answer("GET", f"/organisations/{LA}/settings", 200, [
        {"id": OAKFIELD, "name": "Oakfield Primary", "setting_type": "school", "urn": None, "phase": None,
         "designated_teacher": None}])
    resp = await portal.get(f"/dashboard?la_id={LA}&caseworker_id={CW}")
    html = await resp.text()
    assert resp.status == 200, html
    assert fake.asked("GET", "/dashboard")[-1]["caseworker_id"] == CW
    # The pickers: names, the chosen one selected.
    assert re.search(rf'<option value="{OAKFIELD}"\s*>Oakfield Primary</option>', html)
    assert re.search(rf'<option value="{SW}"\s*>Sam Social</option>', html)
    assert re.search(rf'<option value="{CW}"\s+selected\s*>Cal Caseworker</option>', html)
    # The new tables, and a chart (an image with a title) beside every table that has figures.
    for caption in ("PEPs due, overdue and completed on 2026-11-26", "PP+ paid termly by financial year"):
        assert caption in html
    assert "£421.00" in html and "approved and paid: £521.00" in html
    assert "Figures as at 26 November 2026 at 4:37pm" in html  # UK time: GMT in November
    titles = re.findall(r'<title id="bar-[a-z-]+-chart-title">([^<]+)</title>', html)
    assert titles == ["PEPs by status", "PEPs due, overdue and completed", "Latest ratings, as shown on each PEP",
                      "Attendance this academic year", "Attainment against age-related expectations",
                      "Progress since the last PEP", "PP+ approved by area of focus",
                      "PP+ approved per setting by financial year", "PP+ paid termly by financial year"]
    assert re.search(r"Attendance this academic year:\s+85\.0% of 200 possible sessions, over 2 PEPs\.", html)
    assert "Oakfield Primary (2026-27)" in html
    for table in ("progress", "pp_plus_termly", "attendance", "attainment", "attainment_progress"):
        assert f"table={table}" in html
    # The Virtual School has quality assurance in the navigation, as the current page.
    assert re.search(r'<a class="govuk-service-navigation__link" href="/qa"\s+aria-current="page"', html)


async def test_the_navigation_offers_quality_assurance_to_the_virtual_school_only(portal: TestClient,
                                                                                   fake: FakeGateway) -> None:
    fake.signed_in()
    fake.answer("GET", "/tasks", 200, {"items": [], "counts": {}})
    vs = await (await portal.get("/account")).text()
    assert 'href="/qa"' in vs
    teacher = {**ME, "memberships": [{"organisation_id": OAKFIELD, "organisation_name": "Oakfield Primary",
                                      "organisation_type": "setting", "role": "designated_teacher"}]}
    fake.signed_in(teacher)
    dt = await (await portal.get("/account")).text()
    assert 'href="/qa"' not in dt and 'href="/caseload"' in dt


async def _csrf(portal: TestClient, path: str) -> str:
    html = await (await portal.get(path)).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert token, html
    return token.group(1)


async def test_the_vs_admin_sets_the_allocation_and_termly_payment(portal: TestClient, fake: FakeGateway) -> None:
    fake.signed_in()
    path = f"/organisations/{LA}/pp-plus-allocation"
    fake.answer("GET", path, 200, {"la_id": LA, "amount": "2630.00", "termly_payment": None})
    page = f"/funding/settings?la_id={LA}"
    html = await (await portal.get(page)).text()
    assert 'name="amount"' in html and 'value="2630.00"' in html and 'name="termly_payment"' in html
    token = await _csrf(portal, page)
    # Not money: said by the field, nothing sent.
    resp = await portal.post(page, data={"csrf_token": token, "amount": "2630.00", "termly_payment": "lots"})
    html = await resp.text()
    assert resp.status == 200 and 'href="#termly-payment"' in html and not fake.asked("PUT", path)
    fake.answer("PUT", path, 200, {"la_id": LA, "amount": "2630.00", "termly_payment": "600.00"})
    resp = await portal.post(page, data={"csrf_token": token, "amount": "£2,630.00", "termly_payment": "600"},
                             allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == f"/funding/settings?la_id={LA}&done=saved"
    assert fake.asked("PUT", path)[-1] == {"amount": "2630.00", "termly_payment": "600"}
    # Emptied: no automatic payments.
    await portal.post(page, data={"csrf_token": token, "amount": "2630.00", "termly_payment": ""},
                      allow_redirects=False)
    assert fake.asked("PUT", path)[-1] == {"amount": "2630.00", "termly_payment": None}


async def test_a_caseworker_reads_the_pp_plus_settings_without_a_form(portal: TestClient, fake: FakeGateway) -> None:
    caseworker = {**ME, "memberships": [{**ME["memberships"][0], "role": "vs_caseworker"}]}  # type: ignore[index]
    fake.signed_in(caseworker)
    fake.answer("GET", f"/organisations/{LA}/pp-plus-allocation", 200,
                {"la_id": LA, "amount": "2630.00", "termly_payment": "600.00"})
    html = await (await portal.get(f"/funding/settings?la_id={LA}")).text()
    assert "£600.00" in html and 'name="amount"' not in html
