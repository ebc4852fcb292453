"""Changing a child's school, placement and the people allocated, drawn from the stand-in gateway's world: what
each form asks pep for, a clash with someone else's change (their values shown, nothing typed lost), pep's refusals
beside their fields, and problems the portal names before asking."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from services.portal.app import SPEC
from services.portal.child_record_pages import activity_words
from services.portal.settings import PortalSettings
from shared.api.children import ActivityItem
from shared.service import create_app
from tests.portal.fake_gateway import FakeGateway, problem
from tests.portal.world import ID, SETTING, SHOWN, world_answers, write_answers

CHILD = f"/children/{ID}"
REASON = "Closer to <b>home</b> & carers"


@pytest.fixture
async def portal(tmp_path: Path) -> AsyncIterator[tuple[TestClient, FakeGateway]]:
    (tmp_path / "portal.css").write_text("")
    fake = FakeGateway()
    for (method, path), body in world_answers().items():
        fake.answer(method, path, 200, body)
    for (method, path), (status, body) in write_answers().items():
        fake.answer(method, path, status, body)
    async with fake.running() as gateway_url:
        settings = PortalSettings(environment="test", static_dir=tmp_path, gateway_url=gateway_url)
        async with TestClient(TestServer(create_app(SPEC, settings))) as client:
            client.session.cookie_jar.update_cookies({"epep_session": "session-token"})
            yield client, fake


async def _form(client: TestClient, path: str) -> tuple[str, str]:
    html = await (await client.get(path)).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    version = re.search(r'name="version" value="(\d+)"', html)
    assert token and version, html[:500]
    return token.group(1), version.group(1)


def _school(token: str, version: str, **fields: str) -> dict[str, str]:
    return {"csrf_token": token, "version": version, "setting_id": SETTING, "starts_on.day": "3",
            "starts_on.month": "11", "starts_on.year": "2026", "reason": REASON, **fields}


async def test_a_change_of_school_asks_pep_with_the_version_the_form_started_from(
        portal: tuple[TestClient, FakeGateway]) -> None:
    client, fake = portal
    token, version = await _form(client, f"{CHILD}/school")
    resp = await client.post(f"{CHILD}/school", data=_school(token, version), allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == f"{CHILD}?done=school"
    assert fake.asked("POST", f"{CHILD}/setting") == [{"version": int(version), "setting_id": SETTING,
                                                       "starts_on": "2026-11-03", "reason": REASON}]


async def test_a_clash_shows_what_is_recorded_now_and_keeps_what_was_typed(
        portal: tuple[TestClient, FakeGateway]) -> None:
    client, fake = portal
    token, _ = await _form(client, f"{CHILD}/school")
    fake.answer_once("POST", f"{CHILD}/setting", *problem(409, "Someone else changed this record",
                                                          code="stale_version"))
    resp = await client.post(f"{CHILD}/school", data=_school(token, "1"))
    html = await resp.text()
    assert resp.status == 200
    assert "Someone else changed this record" in html and "Latest change of school or placement" in html
    # The form now starts from the record's current version, with everything typed still there, escaped once.
    current = world_answers()[("GET", CHILD)]["version"]
    assert f'name="version" value="{current}"' in html
    assert "Closer to &lt;b&gt;home&lt;/b&gt; &amp; carers" in html and "&amp;lt;" not in html
    assert re.search(rf'<option value="{SETTING}"\s+selected', html), "the school chosen is kept"
    assert re.search(r'name="starts_on\.day"[^>]*value="3"', html), "the start date typed is kept"
    assert SHOWN in html  # the record's own text, escaped once too


async def test_peps_refusal_is_shown_beside_its_field_and_the_portal_names_its_own(
        portal: tuple[TestClient, FakeGateway]) -> None:
    client, fake = portal
    token, version = await _form(client, f"{CHILD}/school")
    fake.answer_once("POST", f"{CHILD}/setting", *problem(422, "The request has invalid fields", errors=[
        {"field": "starts_on", "message": "The start date must be today or in the past"}]))
    html = await (await client.post(f"{CHILD}/school", data=_school(token, version))).text()
    assert '<a href="#starts_on">The start date must be today or in the past</a>' in html

    # Nothing chosen, no date, no reason: named by the portal, pep not asked.
    before = len(fake.asked("POST", f"{CHILD}/setting"))
    html = await (await client.post(f"{CHILD}/school", data={"csrf_token": token, "version": version})).text()
    for words in ("Select the new school or setting", "Enter the start date at the new school",
                  "Enter the reason for the change of school"):
        assert words in html
    # A setting not offered (another LA's, typed into the request) is not sent either.
    html = await (await client.post(f"{CHILD}/school", data=_school(token, version, setting_id=ID))).text()
    assert "Select the new school or setting" in html
    assert len(fake.asked("POST", f"{CHILD}/setting")) == before


async def test_a_change_of_placement_and_of_the_people_allocated(portal: tuple[TestClient, FakeGateway]) -> None:
    client, fake = portal
    token, version = await _form(client, f"{CHILD}/placement")
    form = {"csrf_token": token, "version": version, "placement_type": "residential", "starts_on.day": "1",
            "starts_on.month": "12", "starts_on.year": "2026", "reason": REASON, "carer_name": "",
            "carer_phone": "01632 960333"}
    html = await (await client.post(f"{CHILD}/placement", data=form)).text()
    assert "Enter the carer’s name, or clear their phone number" in html
    assert fake.asked("POST", f"{CHILD}/placement") == []
    resp = await client.post(f"{CHILD}/placement", data={**form, "carer_name": "Hill & <b>House</b>"},
                             allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == f"{CHILD}?done=placement"
    assert fake.asked("POST", f"{CHILD}/placement") == [{
        "version": int(version), "placement_type": "residential", "starts_on": "2026-12-01", "reason": REASON,
        "carer": {"name": "Hill & <b>House</b>", "phone": "01632 960333"}}]

    token, version = await _form(client, f"{CHILD}/people")
    resp = await client.post(f"{CHILD}/people", data={"csrf_token": token, "version": version,
                                                      "social_worker_id": ID, "iro_id": ""}, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == f"{CHILD}?done=people"
    assert fake.asked("PATCH", CHILD)[-1] == {"version": int(version), "social_worker_id": ID, "iro_id": None,
                                              "carer_ids": []}
    html = await (await client.post(f"{CHILD}/people", data={"csrf_token": token, "version": version,
                                                             "social_worker_id": SETTING})).text()
    assert "Select the social worker from the list" in html


def test_a_move_reads_with_its_start_and_reason() -> None:
    item = ActivityItem.model_validate({
        "at": "2026-11-02T09:30:00+00:00", "kind": "setting", "action": "moved", "by": None, "by_name": None,
        "pep_id": None, "section_key": None, "section_title": None, "times": 1, "detail": "setting_id",
        "starts_on": "2026-11-03", "reason": "Nearer home"})
    assert activity_words(item) == "Changed school from 3 November 2026: Nearer home"
    assert activity_words(item.model_copy(update={"kind": "placement", "reason": None})) == \
        "Changed placement from 3 November 2026"
    assert activity_words(item.model_copy(update={"action": "changed"})) == "Changed school or setting details"
    changed = item.model_copy(update={"kind": "placement", "action": "changed"})
    assert activity_words(changed.model_copy(update={"detail": "carer_ids,iro_id"})) == \
        "Changed the social worker, IRO or carers"
    assert activity_words(changed.model_copy(update={"detail": "date_entered_care,entered_care_emergency"})) == \
        "Changed when they entered care"
    assert activity_words(changed.model_copy(update={"detail": "carer_ids,legal_status"})) == \
        "Changed care placement details"
