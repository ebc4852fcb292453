"""The caseload page against a stand-in gateway: every alert is a tracker with its count, the list of one alert
(narrowed to a setting or social worker) shows each child's reason and the date it was due, and the same list
downloads as CSV whose cells a spreadsheet cannot run as formulas."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from shared.api.caseload import CATEGORIES
from tests.portal.fake_gateway import ME, FakeGateway, with_session

LA = ME["memberships"][0]["organisation_id"]  # type: ignore[index]
OAKFIELD, SW = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
CHILD, PEP = "44444444-4444-4444-8444-444444444444", "55555555-5555-4555-8555-555555555555"
REASON = ("QA review was due by 15 March 2027: 10 working days after the PEP was submitted on 1 March 2027 "
          "(LA rule 'qa_review', default)")


def _counts(**n: int) -> dict[str, int]:
    return {**{c: 0 for c in CATEGORIES}, "children": 2, **n}


def _caseload() -> dict[str, Any]:
    """What delegation answers for "awaiting QA too long" at Oakfield: one child, whose name a spreadsheet would
    take for a formula, with two alerts (only one in the tracker asked for)."""
    return {
        "today": "2027-03-17", "counts": _counts(overdue=1, awaiting_qa=1, due_soon=2),
        "items": [{
            "child_id": CHILD, "child_name": "=HYPERLINK(\"http://x\") <b>Bold</b> & Co", "la_id": LA,
            "setting_id": OAKFIELD, "social_worker_id": SW, "social_worker_name": "Sam Social",
            "pep_id": PEP, "pep_status": "submitted", "meeting_date": "2027-02-24", "categories": ["overdue",
                                                                                                   "awaiting_qa"],
            "reasons": ["A task was due on 10 March 2027"],
            "alerts": [{"kind": "overdue", "clock": None, "reason": "A task was due on 10 March 2027",
                        "due": "2027-03-10"},
                       {"kind": "awaiting_qa", "clock": "qa_review", "reason": REASON, "due": "2027-03-15"}]}],
        "by_setting": [{"id": OAKFIELD, "name": None, "counts": _counts(awaiting_qa=1)}],
        "by_social_worker": [{"id": SW, "name": "Sam Social", "counts": _counts(awaiting_qa=1)}]}


@pytest.fixture
def fake() -> FakeGateway:
    fake = FakeGateway()
    fake.signed_in()
    fake.answer("GET", "/caseload", 200, _caseload())
    fake.answer("GET", f"/organisations/{LA}/settings", 200, [
        {"id": OAKFIELD, "name": "Oakfield Primary", "setting_type": "school", "urn": None, "phase": None,
         "designated_teacher": None}])
    return fake


@pytest.fixture
def portal(portal: TestClient) -> TestClient:
    return with_session(portal)


async def test_one_alert_at_one_setting_lists_why_and_when_and_downloads_as_csv(portal: TestClient,
                                                                               fake: FakeGateway) -> None:
    resp = await portal.get(f"/caseload?category=awaiting_qa&setting_id={OAKFIELD}")
    html = await resp.text()
    assert resp.status == 200, html
    assert fake.asked("GET", "/caseload")[-1] == {"category": "awaiting_qa", "setting_id": OAKFIELD}
    # Every alert is a tracker with its count, each link keeping the setting chosen.
    for label in ("Overdue", "Due soon", "No PEP date", "Upcoming", "Initial PEP late", "Review after a change due",
                  "Awaiting QA too long"):
        assert f'app-tracker-counts__label">{label}</span>' in html
    assert f'href="/caseload?category=due_soon&amp;setting_id={OAKFIELD}"' in html
    assert "<h2 class=\"govuk-heading-m\">Awaiting QA too long: Oakfield Primary</h2>" in html
    # The row: the child (escaped once), the date due and the reason of this tracker's alert only.
    assert "&lt;b&gt;Bold&lt;/b&gt; &amp; Co" in html and "<b>Bold</b>" not in html
    assert "15 March 2027</td>" in html and REASON.replace("'", "&#39;") in html
    assert "A task was due on 10 March 2027" not in html
    link = f'href="/caseload.csv?category=awaiting_qa&amp;setting_id={OAKFIELD}"'
    assert link in html

    resp = await portal.get(f"/caseload.csv?category=awaiting_qa&setting_id={OAKFIELD}")
    assert resp.status == 200 and resp.content_type == "text/csv"
    assert resp.headers["Content-Disposition"] == 'attachment; filename="caseload-awaiting_qa-2027-03-17.csv"'
    assert resp.headers["Cache-Control"] == "no-store"
    assert fake.asked("GET", "/caseload")[-1] == {"category": "awaiting_qa", "setting_id": OAKFIELD}
    rows = list(csv.reader(io.StringIO((await resp.read()).decode("utf-8-sig"))))
    assert rows == [
        ["Child", "School or setting", "Social worker", "PEP meeting", "Alert", "Due", "Reason"],
        ["'=HYPERLINK(\"http://x\") <b>Bold</b> & Co", "Oakfield Primary", "Sam Social", "2027-02-24",
         "Awaiting QA too long", "2027-03-15", REASON]]


async def test_a_social_workers_list_and_an_unknown_alert(portal: TestClient, fake: FakeGateway) -> None:
    resp = await portal.get(f"/caseload.csv?category=overdue&social_worker_id={SW}")
    assert fake.asked("GET", "/caseload")[-1] == {"category": "overdue", "social_worker_id": SW}
    rows = list(csv.reader(io.StringIO((await resp.read()).decode("utf-8-sig"))))
    assert [r[4:] for r in rows[1:]] == [["Overdue", "2027-03-10", "A task was due on 10 March 2027"]]
    # An alert nobody has heard of is the first one; a filter that is not an id is left out.
    await portal.get("/caseload?category=late&setting_id=nonsense")
    assert fake.asked("GET", "/caseload")[-1] == {"category": "overdue"}
