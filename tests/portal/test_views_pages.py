"""The young person's views pages against a stand-in gateway: opening the link checks it and sends nothing (a dead
link says so at once, kindly, the same whatever the reason), the code gives a cookie for /your-views only, only
what changed is saved, the saved state is in view in the portal's time, "I have finished" ends the session on the
server, an invitation that ended under an open form says so plainly, and the invitee is never sent to staff pages."""

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
    fake.answer("POST", "/views/check", 204)
    page = await client.get(f"/your-views/{TOKEN}")
    html = await page.text()
    # Opening the link checks it, and sends nothing: the code is emailed only when the button is pressed.
    assert page.status == 200 and "Email me a code" in html
    assert [(c[0], c[1]) for c in fake.calls] == [("POST", "/views/check")] and fake.asked("POST", "/views/check") == [
        {"token": TOKEN}]
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

    fake.answer("GET", "/views/form", 200, {**FORM, "saved_at": "2027-01-05T09:41:00+00:00"})
    page = await client.get("/your-views/answers")
    html = await page.text()
    assert "What am I good at?" in html and "/static/images/symbols/happy.svg" in html and "Art" in html
    # The saved state sits in the status line that stays in view, in the portal's time format.
    status_line = re.search(r'<div class="app-views-status">\s*<p [^>]*id="autosave-status">([^<]*)</p>', html)
    assert status_line and status_line.group(1) == "Saved at 9:41am"
    fake.answer("PUT", "/views/form", 200, {**FORM, "answers": {"good_at": "Art", "future": "A vet"}})
    page = await client.post("/your-views/answers", data={
        "csrf_token": csrf(html), "answers.good_at": "Art", "answers.future": "A vet", "action": "save"},
        allow_redirects=False)
    assert page.status == 303 and fake.asked("PUT", "/views/form") == [{"answers": {"future": "A vet"}}]
    assert [c[3] for c in fake.calls if c[1] == "/views/form"] == [None, None, None]  # never the staff session


async def test_a_closed_link_says_so_kindly_and_nothing_else(portal: tuple[TestClient, FakeGateway]) -> None:
    client, fake = portal
    fake.answer("POST", "/views/check", 204)
    html = await (await client.get(f"/your-views/{TOKEN}")).text()
    fake.answer("POST", "/views/open", 404, problem(404, "This link no longer works", code="views_link_closed"))
    page = await client.post(f"/your-views/{TOKEN}", data={"csrf_token": csrf(html)})
    text = await page.text()
    assert page.status == 404 and "This link no longer works" in text and "Thank you for wanting" in text
    assert (await client.get("/your-views/answers")).status == 401  # no cookie: open the link again


async def test_a_dead_link_answers_at_once_with_the_kind_page_and_no_button(
        portal: tuple[TestClient, FakeGateway]) -> None:
    """Revoked, expired or unknown (pep says 404 to the check) and cut short in the email (not even a token's
    shape): the same kind page, 404, when the link is opened, with no "Email me a code" and no code asked for."""
    client, fake = portal
    fake.answer("POST", "/views/check", 404, problem(404, "This link no longer works", code="views_link_closed")[1])
    pages = {}
    for link in (f"/your-views/{TOKEN}", "/your-views/aaaaaaaaaa", "/your-views/" + "a" * 19):
        page = await client.get(link)
        pages[link] = (page.status, re.sub(r'(name="csrf_token" value|nonce)="[^"]+"', "", await page.text()))
    assert {status for status, _ in pages.values()} == {404}
    assert len({text for _, text in pages.values()}) == 1  # word for word the same page
    text = pages[f"/your-views/{TOKEN}"][1]
    assert "This link no longer works" in text and "Thank you for wanting" in text and "Email me a code" not in text
    assert fake.asked("POST", "/views/open") == []  # no code sent
    assert fake.asked("POST", "/views/check") == [{"token": TOKEN}]  # a cut-short link is not even asked about


async def test_an_invitation_that_ended_under_an_open_form_says_so_and_who_to_talk_to(
        portal: tuple[TestClient, FakeGateway]) -> None:
    client, fake = portal
    client.session.cookie_jar.update_cookies({"epep_views": "s" * 43})
    ended = problem(404, "This invitation has ended", code="views_invitation_ended")[1]
    fake.answer("GET", "/views/form", 404, {**ended, "ask": "Dana Teacher"})
    page = await client.get("/your-views/answers")
    text = await page.text()
    assert page.status == 404 and "This invitation has ended" in text and "Dana Teacher" in text
    assert "new code" not in text and "Open the link" not in text
    # Typing on, the autosave says the same, not "open the link again".
    fake.answer("GET", "/views/form", 200, FORM)
    html = await (await client.get("/your-views/answers")).text()
    fake.answer("GET", "/views/form", 404, {**ended, "ask": "Dana Teacher"})
    saved = await client.post("/your-views/autosave", data={"csrf_token": csrf(html), "answers.future": "A vet"})
    body = await saved.json()
    assert saved.status == 404 and "invitation has ended" in body["message"] and "link" not in body["message"]


async def test_i_have_finished_ends_the_session_on_the_server(portal: tuple[TestClient, FakeGateway]) -> None:
    client, fake = portal
    client.session.cookie_jar.update_cookies({"epep_views": "s" * 43})
    fake.answer("GET", "/views/form", 200, FORM)
    fake.answer("POST", "/views/end", 204)
    html = await (await client.get("/your-views/answers")).text()
    page = await client.post("/your-views/answers", data={"csrf_token": csrf(html), "answers.good_at": "Art",
                                                          "action": "finish"})
    assert page.status == 200 and "Thank you" in await page.text()
    assert [c[:2] for c in fake.calls if c[1] == "/views/end"] == [("POST", "/views/end")]
    assert "epep_views=" in page.headers["Set-Cookie"] and "Max-Age=0" in page.headers["Set-Cookie"]


async def test_the_invitees_pages_link_only_to_what_an_invitee_can_use(
        portal: tuple[TestClient, FakeGateway]) -> None:
    client, fake = portal
    fake.answer("POST", "/views/check", 204)
    fake.answer("POST", "/views/open", 202, {"code_expires_at": "2027-01-05T16:02:00+00:00"})
    client.session.cookie_jar.update_cookies({"epep_views": "s" * 43})
    fake.answer("GET", "/views/form", 200, FORM)
    start = await (await client.get(f"/your-views/{TOKEN}")).text()
    pages = [start, await (await client.post(f"/your-views/{TOKEN}", data={"csrf_token": csrf(start)})).text(),
             await (await client.get("/your-views/answers")).text(),
             await (await client.get("/your-views/no/such/page")).text(),
             await (await client.get("/your-views/" + "a" * 19)).text()]
    allowed = {"#main-content", "/accessibility", "/privacy", "/cookies"}
    for html in pages:
        links = set(re.findall(r'href="([^"]+)"', html))
        assert {h for h in links if not h.startswith("/static/")} <= allowed, links
        assert "Go to the start page" not in html


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


def test_every_answer_a_child_gave_shows_with_its_question_whatever_set_the_section_says() -> None:
    """Primary carried forward, the child asked the Secondary questions: their answer to a Secondary question is
    shown to the adults (check page, meeting panel, the section read-only and as a form) with the question."""
    from datetime import UTC, datetime

    from services.pep.template_library import load_default_templates
    from services.portal import pep_forms, pep_words
    from shared.api.views import ViewsGiven

    section = load_default_templates()["school-age"].section("views")
    assert section is not None
    answers = {"question_set": "primary", "good_at": "Art", "future": "Be a vet"}
    given = [ViewsGiven(name="Kai", audience="young_person", question_set="secondary", answered=["good_at", "future"],
                        last_saved_at=datetime(2026, 12, 7, 9, 41, tzinfo=UTC))]
    assert "future" not in [r["key"] for r in pep_forms.read_only_rows(section, answers)]  # the defect, by the rule
    also = pep_forms.shown_anyway(given, answers)
    rows = {r["key"]: r for r in pep_forms.read_only_rows(section, answers, also=also)}
    assert rows["future"]["lines"] == ["Be a vet"] and rows["future"]["label"].startswith("What would I like to do")
    raw = pep_forms.answers_to_raw(section.fields, answers)
    found = pep_forms.always_shown(pep_forms.widgets(section.fields, raw, {}, []), also)
    future = next(w for w in found if w["key"] == "future")
    assert future["show_when"] == [] and future["value"] == "Be a vet"
    assert next(w for w in found if w["key"] == "options")["show_when"]  # not answered: the set still decides
    assert pep_words.given_by("Kai", "young_person", "secondary", "7 December 2026") == (
        "Given by Kai (young person, by invitation) on 7 December 2026, with the Secondary questions")


def test_the_access_log_shows_one_line_per_visit() -> None:
    import uuid
    from datetime import UTC, datetime

    from services.portal import pep_words
    from shared.api.children import AccessEntry

    who, other = uuid.uuid4(), uuid.uuid4()

    def entry(what: str, request_id: str, user: uuid.UUID = who) -> AccessEntry:
        return AccessEntry(at=datetime(2026, 12, 7, tzinfo=UTC), user_id=user, name="Dana Teacher",
                           via="designated_teacher", what=what, method="GET", endpoint="/x", pep_id=None,
                           address=None, request_id=request_id)

    log = [entry("Read the notes", "r2"), entry("Viewed the child's record", "r2"),
           entry("Viewed the child's record", "r1"), entry("Read a section (My views)", "r1", other)]
    visits = pep_words.visits(log)
    assert [pep_words.visit_words(v) for v in visits] == [
        "Viewed the child's record, read the notes", "Viewed the child's record", "Read a section (My views)"]
