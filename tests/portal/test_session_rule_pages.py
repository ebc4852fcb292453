"""The LA's session rules page against a stand-in gateway: what it sends, how it shows identity's refusals, and
that signed-in pages carry the person's own idle timeout and warning from the gateway for the timeout warning."""

from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestClient

from tests.portal.fake_gateway import ME, SESSION, FakeGateway, problem, with_session

LA = ME["memberships"][0]["organisation_id"]  # type: ignore[index]
LA_ORG = {"id": LA, "name": "Kent <b>&</b> Medway", "organisation_type": "local_authority", "la_id": None,
          "setting_type": None, "urn": None, "phase": None, "address": None, "contact_email": None,
          "contact_phone": None, "designated_teacher": None, "can_manage": True}
RULES = f"/organisations/{LA}/session-rules"
KENT = {"idle_minutes": 20, "warning_minutes": 2, "set_by_la": True, "version": 3,
        "changed_at": "2026-11-23T16:37:00+00:00", "changed_by_name": "Amira <Admin>"}


@pytest.fixture
def fake() -> FakeGateway:
    fake = FakeGateway()
    fake.signed_in()
    fake.answer("GET", f"/organisations/{LA}", 200, LA_ORG)
    fake.answer("GET", RULES, 200, KENT)
    return fake


@pytest.fixture
def portal(portal: TestClient) -> TestClient:
    return with_session(portal)


async def _csrf(portal: TestClient) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', await (await portal.get(RULES)).text())
    assert found
    return found.group(1)


async def test_the_page_shows_the_las_rule_and_who_set_it_escaped_once(portal: TestClient) -> None:
    html = await (await portal.get(RULES)).text()
    assert re.search(r'id="idle_minutes"[^>]*value="20"', html)
    assert re.search(r'id="warning_minutes"[^>]*value="2"', html)
    assert "Last changed by Amira &lt;Admin&gt; on 23 November 2026 at 4:37pm" in html
    assert "Kent &lt;b&gt;&amp;&lt;/b&gt; Medway" in html and "&amp;amp;" not in html


async def test_saving_sends_the_minutes_and_identitys_refusal_is_shown_on_its_field(
        portal: TestClient, fake: FakeGateway) -> None:
    fake.answer("PUT", RULES, *problem(422, "The request has invalid fields", code="validation", errors=[
        {"field": "warning_minutes", "message": "The warning must come before the time to sign out: make it "
                                                "shorter than 40 minutes"}]))
    resp = await portal.post(RULES, data={"csrf_token": await _csrf(portal), "idle_minutes": " 40 ",
                                          "warning_minutes": "40"})
    html = await resp.text()
    assert fake.asked("PUT", RULES) == [{"idle_minutes": 40, "warning_minutes": 40}]
    assert 'href="#warning_minutes"' in html and "make it shorter than 40 minutes" in html
    assert re.search(r'id="idle_minutes"[^>]*value="40"', html)  # what was typed stays

    fake.answer("PUT", RULES, 200, {**KENT, "idle_minutes": 40, "warning_minutes": 10})
    resp = await portal.post(RULES, data={"csrf_token": await _csrf(portal), "idle_minutes": "40",
                                          "warning_minutes": "10"}, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == f"/organisations/{LA}?done=session-rules"


async def test_words_are_not_sent_and_a_caseworker_is_told_only_admins_may(
        portal: TestClient, fake: FakeGateway) -> None:
    resp = await portal.post(RULES, data={"csrf_token": await _csrf(portal), "idle_minutes": "twenty",
                                          "warning_minutes": ""})
    html = await resp.text()
    assert "Enter the minutes before signing people out as a whole number, like 20" in html
    assert "Enter the minutes of warning as a whole number, like 2" in html
    assert fake.asked("PUT", RULES) == []
    fake.answer("PUT", RULES, *problem(403, "Only the Virtual School's administrators can change this",
                                       code="forbidden"))
    resp = await portal.post(RULES, data={"csrf_token": await _csrf(portal), "idle_minutes": "30",
                                          "warning_minutes": "5"})
    assert resp.status == 403 and "Only the Virtual School&#39;s administrators can change this" in await resp.text()


async def test_signed_in_pages_carry_the_persons_own_timings(portal: TestClient, fake: FakeGateway) -> None:
    fake.answer("GET", "/session", 200, {**SESSION, "warn_seconds_before": 600, "idle_timeout_seconds": 2400})
    html = await (await portal.get(RULES)).text()
    assert 'data-warn-seconds="600"' in html and 'data-idle-seconds="2400"' in html
    clock = await (await portal.get("/session")).json()
    assert clock["warn_seconds"] == 600 and clock["idle_seconds"] == 2400
