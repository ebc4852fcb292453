"""The young person's views pages against a stand-in gateway: the link's page changes nothing until its button is
pressed, the code gives a cookie for /your-views only, only what changed is saved, and a closed link says so kindly."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from services.portal.app import SPEC
from services.portal.settings import PortalSettings
from shared.service import create_app
from tests.portal.fake_gateway import FakeGateway, problem

TOKEN = "a" * 43
FORM = {"audience": "young_person", "given_name": "Kai", "title": "My views", "expires_at": "2027-01-05T16:02:00+00:00",
        "saved_at": None, "answers": {"good_at": "Art"}, "questions": [
            {"key": "feel_about_school", "label": "How do I feel about school?", "type": "single_choice", "options": [
                {"value": "happy", "label": "Happy", "symbol": "happy"},
                {"value": "ok", "label": "OK", "symbol": "ok"}]},
            {"key": "good_at", "label": "What am I good at?", "type": "long_text"},
            {"key": "future", "label": "What would I like to do when I leave school?", "type": "long_text"}]}


@pytest.fixture
async def portal(tmp_path: Path) -> AsyncIterator[tuple[TestClient, FakeGateway]]:
    (tmp_path / "portal.css").write_text("")
    fake = FakeGateway()
    async with fake.running() as gateway_url:
        settings = PortalSettings(environment="test", static_dir=tmp_path, gateway_url=gateway_url)
        async with TestClient(TestServer(create_app(SPEC, settings))) as client:
            yield client, fake


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


async def test_the_link_the_code_and_two_saves(portal: tuple[TestClient, FakeGateway]) -> None:
    client, fake = portal
    page = await client.get(f"/your-views/{TOKEN}")
    html = await page.text()
    assert page.status == 200 and "Email me a code" in html and fake.calls == []  # opening the link changes nothing
    fake.answer("POST", "/views/open", 202, {"code_expires_at": "2027-01-05T16:02:00+00:00"})
    page = await client.post(f"/your-views/{TOKEN}", data={"csrf_token": csrf(html)})
    html = await page.text()
    assert "Check your email" in html and fake.asked("POST", "/views/open") == [{"token": TOKEN}]

    fake.answer("POST", "/views/verify", 400, problem(400, "The code is not right", code="code_wrong"))
    page = await client.post(f"/your-views/{TOKEN}/code", data={"csrf_token": csrf(html), "code": "1111 1111"})
    assert page.status == 400 and "That code is not right" in await page.text()
    fake.answer("POST", "/views/verify", 200, {"session_token": "s" * 43, "expires_at": "2099-01-01T00:00:00+00:00"})
    page = await client.post(f"/your-views/{TOKEN}/code", data={"csrf_token": csrf(html), "code": "1234 5678"},
                             allow_redirects=False)
    assert page.status == 303 and page.headers["Location"] == "/your-views/answers"
    cookie = page.headers["Set-Cookie"]
    assert "epep_views=" in cookie and "Path=/your-views" in cookie and "HttpOnly" in cookie

    fake.answer("GET", "/views/form", 200, FORM)
    page = await client.get("/your-views/answers")
    html = await page.text()
    assert "What am I good at?" in html and "/static/images/symbols/happy.svg" in html and "Art" in html
    fake.answer("PUT", "/views/form", 200, {**FORM, "answers": {"good_at": "Art", "future": "A vet"}})
    page = await client.post("/your-views/answers", data={
        "csrf_token": csrf(html), "answers.good_at": "Art", "answers.future": "A vet", "action": "save"},
        allow_redirects=False)
    assert page.status == 303 and fake.asked("PUT", "/views/form") == [{"answers": {"future": "A vet"}}]
    assert [c[3] for c in fake.calls if c[1] == "/views/form"] == [None, None, None]  # never the staff session


async def test_a_closed_link_says_so_kindly_and_nothing_else(portal: tuple[TestClient, FakeGateway]) -> None:
    client, fake = portal
    html = await (await client.get(f"/your-views/{TOKEN}")).text()
    fake.answer("POST", "/views/open", 404, problem(404, "This link no longer works", code="views_link_closed"))
    page = await client.post(f"/your-views/{TOKEN}", data={"csrf_token": csrf(html)})
    text = await page.text()
    assert page.status == 404 and "This link no longer works" in text and "Thank you for wanting" in text
    assert (await client.get("/your-views/answers")).status == 401  # no cookie: open the link again


async def test_the_dt_invites_sees_the_invitations_and_revokes(portal: tuple[TestClient, FakeGateway]) -> None:
    from tests.portal.test_pep_pages import CHILD, CHILD_PROFILE, ME, OVERVIEW, PEP, section

    client, fake = portal
    fake.signed_in(ME)
    client.session.cookie_jar.update_cookies({"epep_session": "session-token"})
    fake.answer("GET", f"/peps/{PEP}", 200, OVERVIEW)
    fake.answer("GET", f"/children/{CHILD}", 200, CHILD_PROFILE)
    views = {**section(), "key": "views", "definition": {"key": "views", "title": "My views", "owner": "young_person",
                                                         "fields": [{"key": "question_set", "label": "Which?",
                                                                     "type": "single_choice", "options": [
                                                                         {"value": "secondary", "label": "S"}]}]}}
    fake.answer("GET", f"/peps/{PEP}/sections/views", 200, views)
    sent = {"id": "11111111-1111-4111-8111-111111111111", "pep_id": PEP, "section": "views", "audience": "young_person",
            "given_name": "Kai", "email": "kai@example.test", "status": "open", "question_set": "secondary",
            "created_at": "2027-01-05T16:02:00+00:00", "expires_at": "2027-01-19T16:02:00+00:00",
            "revoked_at": None, "last_used_at": None}
    fake.answer("GET", f"/peps/{PEP}/views-invitations", 200, [])
    url = f"/peps/{PEP}/sections/views/invitations"
    html = await (await client.get(url)).text()
    assert "Invite the child or young person to give their views" in html and "None yet." in html
    page = await client.post(url, data={"csrf_token": csrf(html), "given_name": "", "email": "nope", "days": "40"})
    text = await page.text()
    assert page.status == 400 and "Enter their first name" in text and "Enter a number of days from 1 to 28" in text
    fake.answer("POST", f"/peps/{PEP}/views-invitations", 201, sent)
    page = await client.post(url, data={"csrf_token": csrf(html), "given_name": "Kai", "email": "kai@example.test",
                                        "days": "14", "question_set": "secondary"}, allow_redirects=False)
    assert page.status == 303 and fake.asked("POST", f"/peps/{PEP}/views-invitations") == [
        {"section": "views", "given_name": "Kai", "email": "kai@example.test", "days": 14, "question_set": "secondary"}]
    fake.answer("GET", f"/peps/{PEP}/views-invitations", 200, [sent])
    html = await (await client.get(url + "?done=sent")).text()
    assert "Invitation sent" in html and "kai@example.test" in html and "Revoke" in html
