"""The child's PEP clocks in the portal, against a stand-in gateway answering with tests/portal/world.py's world:
the child's page shows a "PEP deadlines" card (each clock, its due date, its state as a tag and the rule in words,
escaped once); someone the clocks are not for (404) sees the page without it; a PEP whose meeting is after its
term's deadline says so on its overview and its meeting section, from the PEP's own meeting date."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.portal.fake_gateway import FakeGateway, problem, with_session
from tests.portal.world import EVIL, ID, SHOWN, world_answers

CHILD = f"/children/{ID}"
WHY = f"10 working days after entering care on 2 November 2026 by emergency placement {EVIL}"


def _clocks(meeting_pep: str | None = ID) -> dict[str, Any]:
    return {"child_id": ID, "today": "2026-12-01", "in_care": True, "in_date": False, "timescales_version": 3,
            "clocks": [
                {"key": "initial_pep", "label": "Initial PEP", "due": "2026-11-16", "state": "overdue",
                 "explanation": WHY, "met_on": None, "pep_id": None, "booked_late": False, "term": None,
                 "due_soon_from": "2026-11-09", "escalates_on": "2026-11-30"},
                {"key": "termly_review", "label": "Termly PEP review", "due": "2026-12-11", "state": "open",
                 "explanation": "The LA's deadline for Autumn 2026 (LA rule 'termly_deadline', version 3)",
                 "met_on": None, "pep_id": meeting_pep, "booked_late": True, "term": "Autumn 2026",
                 "due_soon_from": "2026-12-04", "escalates_on": "2026-12-29"}]}


@pytest.fixture
def fake() -> FakeGateway:
    fake = FakeGateway()
    for (method, path), body in world_answers().items():
        fake.answer(method, path, 200, body)
    fake.answer("GET", f"{CHILD}/clocks", 200, _clocks())
    return fake


@pytest.fixture
def portal(portal: TestClient) -> TestClient:
    return with_session(portal)


def _card(html: str) -> str:
    start = html.index('id="pep-deadlines"')
    return html[start:html.index("</dl>", start)]


async def test_the_childs_page_shows_each_clock_with_its_date_state_and_rule(portal: TestClient) -> None:
    resp = await portal.get(CHILD)
    html = await resp.text()
    assert resp.status == 200, html
    card = _card(html)
    assert "PEP deadlines" in html[html.index('id="pep-deadlines"'):]
    assert "Initial PEP" in card and "Due by 16 November 2026" in card
    tags = " ".join(card.split())
    assert 'govuk-tag--red"> Overdue </strong>' in tags and 'govuk-tag--blue"> Not due yet </strong>' in tags
    assert "Termly PEP review" in card and "Due by 11 December 2026" in card
    assert "The meeting is after Autumn 2026’s deadline" in card
    # The rule in words, what the LA's timescales say and the child's dates: escaped once.
    assert f"by emergency placement {SHOWN}" in card and "<b>Bold</b>" not in card
    assert "LA rule &#39;termly_deadline&#39;, version 3" in card


async def test_no_card_for_someone_the_clocks_are_not_for(portal: TestClient, fake: FakeGateway) -> None:
    fake.answer("GET", f"{CHILD}/clocks", 404, problem(404, "Not found", code="not_found"))
    resp = await portal.get(CHILD)
    html = await resp.text()
    assert resp.status == 200, html
    assert 'id="pep-deadlines"' not in html and "PEP deadlines" not in html


async def test_a_meeting_after_the_terms_deadline_is_warned_on_the_pep(portal: TestClient, fake: FakeGateway) -> None:
    pep = {**world_answers()[("GET", f"/peps/{ID}")], "meeting_date": "2026-12-14", "status": "in_progress",
           "child_id": ID}
    fake.answer("GET", f"/peps/{ID}", 200, pep)
    warning = "This meeting is after Autumn 2026’s deadline of 11 December 2026"
    resp = await portal.get(f"/peps/{ID}")
    html = await resp.text()
    assert resp.status == 200, html
    assert 'id="late-meeting"' in html and warning in html
    assert fake.asked("GET", f"{CHILD}/clocks")
    # On time: no warning.
    fake.answer("GET", f"/peps/{ID}", 200, {**pep, "meeting_date": "2026-12-10"})
    assert 'id="late-meeting"' not in await (await portal.get(f"/peps/{ID}")).text()
    # The term's review is another PEP's: not this one's to warn about.
    fake.answer("GET", f"/peps/{ID}", 200, pep)
    fake.answer("GET", f"{CHILD}/clocks", 200, _clocks(meeting_pep="0f0f0f0f-0000-4000-8000-000000000000"))
    assert 'id="late-meeting"' not in await (await portal.get(f"/peps/{ID}")).text()


async def test_the_timescales_preview_takes_a_change_and_a_submission(portal: TestClient, fake: FakeGateway) -> None:
    preview = f"/organisations/{ID}/timescales/preview"
    url = (f"/organisations/{ID}/timescales?preview=1&moved.day=21&moved.month=5&moved.year=2027"
           "&submitted.day=14&submitted.month=12&submitted.year=2026")
    resp = await portal.get(url)
    html = await resp.text()
    assert resp.status == 200, html
    assert fake.asked("POST", preview)[-1] == {"placement": "planned", "moved_on": "2027-05-21",
                                               "submitted_on": "2026-12-14"}
    assert "Date of a change of school or placement" in html and "Date a PEP was submitted" in html
    assert 'name="moved.day"' in html and 'value="21"' in html  # what was typed stays
    # A date that is not real is named, and nothing is asked.
    asked = len(fake.asked("POST", preview))
    html = await (await portal.get(f"/organisations/{ID}/timescales?preview=1&moved.day=31&moved.month=2"
                                   "&moved.year=2027")).text()
    assert "The date of the change of school or placement must be a real date, like 3 3 2027" in html
    assert len(fake.asked("POST", preview)) == asked
    html = await (await portal.get(f"/organisations/{ID}/timescales?preview=1")).text()
    assert "Enter at least one date: a meeting, entering care, a change, or a submission" in html
