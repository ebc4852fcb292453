"""The in-date figure on the dashboard and the children behind it, against a stand-in gateway: the percentage, its
trend by term (a table with a chart beside it), the breakdowns named by setting and person, each a link to its
children; the list names why each child is not in date, escaped once; a figure delegation cannot give now leaves
the rest of the dashboard working, and another LA's list is "Page not found"."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.portal.fake_gateway import FakeGateway, problem, with_session
from tests.portal.test_dashboard_pages import CW, LA, OAKFIELD, SW, _dashboard

EVIL = "<b>Bold</b> & Co"
CHILD = "44444444-4444-4444-8444-444444444444"


def _figure(n: int, ok: int) -> dict[str, Any]:
    return {"children": n, "in_date": ok, "percent": round(100 * ok / n, 1) if n else None}


IN_DATE = {
    "la_id": LA, "today": "2027-01-20", **_figure(8, 6),
    "by_setting": [{"id": OAKFIELD, "name": None, **_figure(3, 1)}, {"id": None, "name": None, **_figure(5, 5)}],
    "by_social_worker": [{"id": SW, "name": EVIL, **_figure(8, 6)}],
    "by_caseworker": [{"id": CW, "name": "Cal Caseworker", **_figure(2, 2)}, {"id": None, **_figure(6, 4)}],
    "trend": [{"term": "Autumn 2026", "as_of": "2026-12-18", "current": False, **_figure(7, 4)},
              {"term": "Spring 2027", "as_of": "2027-01-20", "current": True, **_figure(8, 6)}],
    "trend_note": None}


@pytest.fixture
def portal(portal: TestClient) -> TestClient:
    return with_session(portal)


def _settings(fake: FakeGateway) -> None:
    fake.answer("GET", f"/organisations/{LA}/settings", 200, [
        {"id": OAKFIELD, "name": f"Oakfield {EVIL}", "setting_type": "school", "urn": None, "phase": None,
         "designated_teacher": None}])


async def test_the_dashboard_shows_the_figure_its_trend_and_a_way_to_each_figures_children(
        portal: TestClient, fake: FakeGateway) -> None:
    fake.signed_in()
    fake.answer("GET", "/dashboard", 200, _dashboard())
    fake.answer("GET", f"/organisations/{LA}/in-date", 200, IN_DATE)
    _settings(fake)
    html = await (await portal.get(f"/dashboard?la_id={LA}")).text()
    assert "75.0%" in html and "6 of 8 children in care have a PEP in date on 20 January 2027" in html
    assert f'href="/dashboard/in-date?la_id={LA}&amp;group=la"' in html
    # The trend: a row per term, counted at its end or today, and a chart beside the table.
    assert re.search(r"Autumn 2026</th>\s*<td[^>]*>18 December 2026 \(end of term\)</td>\s*<td[^>]*>57\.1% \(4\)",
                     html)
    assert re.search(r"Spring 2027</th>\s*<td[^>]*>20 January 2027 \(today\)</td>", html)
    assert '<title id="bar-in-date-trend-chart-title">PEPs in date by term</title>' in html
    # The breakdowns: settings by name, people by name, "none" said in words; each a link to its children.
    assert f'href="/dashboard/in-date?la_id={LA}&amp;group=setting&amp;id={OAKFIELD}">Oakfield &lt;b&gt;Bold' \
           f'&lt;/b&gt; &amp; Co</a>' in html
    assert f'href="/dashboard/in-date?la_id={LA}&amp;group=setting">No setting</a>' in html
    assert f'group=social_worker&amp;id={SW}">&lt;b&gt;Bold&lt;/b&gt; &amp; Co</a>' in html
    assert f'group=caseworker&amp;id={CW}">Cal Caseworker</a>' in html and ">Not reviewed yet</a>" in html
    assert "<b>Bold</b>" not in html and "&amp;lt;" not in html
    # The QA timescale says the rule it counts by.
    fake.answer("GET", "/dashboard", 200, _dashboard(
        qa_timescale="10 working days after submission (LA rule 'qa_review', version 4)", qa_checked=4,
        qa_within_timescale=3, qa_within_timescale_percent=75.0,
        timescale_rule="2 weeks after the meeting (LA rule 'dt_return', version 4)"))
    html = await (await portal.get(f"/dashboard?la_id={LA}")).text()
    assert "Timescale for the quality check: 10 working days after submission (LA rule &#39;qa_review&#39;, " \
           "version 4)." in html
    assert "Timescale: 2 weeks after the meeting (LA rule &#39;dt_return&#39;, version 4)." in html


async def test_the_dashboard_works_when_delegation_cannot_give_the_figure(portal: TestClient,
                                                                          fake: FakeGateway) -> None:
    fake.signed_in()
    fake.answer("GET", "/dashboard", 200, _dashboard())
    fake.answer("GET", f"/organisations/{LA}/in-date", *problem(503, "The service is temporarily unavailable"))
    resp = await portal.get(f"/dashboard?la_id={LA}")
    html = await resp.text()
    assert resp.status == 200 and "PEPs by status" in html
    assert "The figure for children with a PEP in date is not available just now" in html


async def test_the_children_behind_a_figure_say_why_each_is_not_in_date(portal: TestClient,
                                                                        fake: FakeGateway) -> None:
    fake.signed_in()
    _settings(fake)
    path = f"/organisations/{LA}/in-date/children"
    fake.answer("GET", path, 200, {
        "la_id": LA, "today": "2027-01-20", "group": "setting", "id": OAKFIELD, "name": None, **_figure(2, 1),
        "items": [
            {"child_id": CHILD, "child_name": f"Robin {EVIL}", "setting_id": OAKFIELD, "social_worker_id": SW,
             "social_worker_name": "Sam Social", "caseworker_id": None, "caseworker_name": None, "in_date": False,
             "reasons": [{"clock": "initial_pep", "label": "Initial PEP", "due": "2026-11-30",
                          "explanation": f"20 working days after entering care on 2 November 2026 {EVIL}"}]},
            {"child_id": OAKFIELD, "child_name": "Sky Settled", "setting_id": OAKFIELD, "social_worker_id": None,
             "social_worker_name": None, "caseworker_id": CW, "caseworker_name": "Cal Caseworker", "in_date": True,
             "reasons": []}]})
    resp = await portal.get(f"/dashboard/in-date?la_id={LA}&group=setting&id={OAKFIELD}")
    html = await resp.text()
    assert resp.status == 200, html
    assert fake.asked("GET", path)[-1] == {"group": "setting", "id": OAKFIELD}
    assert "Oakfield &lt;b&gt;Bold&lt;/b&gt; &amp; Co" in html  # whose children: the setting by name
    assert f'<a class="govuk-link" href="/children/{CHILD}">Robin &lt;b&gt;Bold&lt;/b&gt; &amp; Co</a>' in html
    assert "<strong>Initial PEP</strong>, due 30 November 2026: 20 working days after entering care on " \
           "2 November 2026 &lt;b&gt;Bold&lt;/b&gt; &amp; Co" in html
    assert "govuk-tag--red\">Not in date" in html and "govuk-tag--green\">In date" in html
    assert "None allocated" in html and "Not reviewed yet" in html and "Cal Caseworker" in html
    assert "<b>Bold</b>" not in html and "&amp;lt;" not in html
    # Only those not in date: asked of delegation, and the way back to every child offered.
    html = await (await portal.get(f"/dashboard/in-date?la_id={LA}&group=setting&id={OAKFIELD}&not_in_date=yes"
                                   )).text()
    assert fake.asked("GET", path)[-1] == {"group": "setting", "id": OAKFIELD, "not_in_date": "true"}
    assert "Show every child" in html
    # The same list as CSV: one row for each reason, one for a child in date; text as text, never a formula.
    resp = await portal.get(f"/dashboard/in-date.csv?la_id={LA}&group=setting&id={OAKFIELD}")
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/csv")
    assert 'filename="in-date-setting-2027-01-20.csv"' in resp.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO((await resp.read()).decode("utf-8-sig"))))
    assert rows == [
        ["child", "in_date", "setting", "social_worker", "qa_caseworker", "overdue", "due", "why"],
        [f"Robin {EVIL}", "no", f"Oakfield {EVIL}", "Sam Social", "Not reviewed yet", "Initial PEP", "2026-11-30",
         f"20 working days after entering care on 2 November 2026 {EVIL}"],
        ["Sky Settled", "yes", f"Oakfield {EVIL}", "None allocated", "Cal Caseworker", "", "", ""]]
    assert 'href="/dashboard/in-date.csv?la_id=' in html
    # A group the page does not know, and a list delegation refuses (another LA's), are "Page not found".
    assert (await portal.get(f"/dashboard/in-date?la_id={LA}&group=everyone")).status == 404
    fake.answer("GET", path, *problem(404, "Not found", code="not_found"))
    resp = await portal.get(f"/dashboard/in-date?la_id={LA}")
    assert resp.status == 404 and "Page not found" in await resp.text()
