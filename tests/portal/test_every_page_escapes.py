"""Every page the portal draws, with every piece of text in it `<b>Bold</b> & Co`: shown as text, escaped once.

The stand-in gateway answers with tests/portal/world.py's world. The test walks the app's route table, so a page
added later is drawn here too (or the test says it has no way in yet)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from services.portal.app import SPEC
from services.portal.settings import PortalSettings
from shared.service import create_app
from tests.portal.fake_gateway import FakeGateway
from tests.portal.world import EVIL, ID, KEY, SETTING, SHOWN, world_answers

# Files, not pages: no template draws them.
NOT_PAGES = {"/children/{child_id}/subject-access.json", "/children/{child_id}/subject-access.pdf",
             "/dashboard.csv", "/dashboard/in-date.csv", "/funding.csv", "/caseload.csv",
             "/peps/{pep_id}/download/termly.pdf", "/peps/{pep_id}/download/full.pdf",
             "/peps/{pep_id}/download/pep.json", "/forms/{key}/blank.pdf", "/attachments/{attachment_id}/download",
             "/session", "/healthz", "/readyz", "/metrics",
             # notify's rendered email itself, served as it is (notify's templates escape its text)
             "/email-previews/{template}"}
# Pages that show nothing the gateway says (or show only addresses, numbers and dates): no text to find on them,
# but no markup or double escaping either. Their forms' own values are drawn back by test_every_form_posts.
NO_TEXT = {"/", "/accessibility", "/privacy", "/cookies", "/sign-in", "/signed-out", "/forgotten-password",
           "/forgotten-password/done", "/create-account/done", "/account/password", "/account/email",
           "/account/reminders", "/account/sessions", "/children/import", "/children/add", f"/your-views/{'t' * 43}"}
# Path parameters that are not ids: the value that opens the page in this world.
PARAMS = {"key": KEY, "action": "cancel", "token": "t" * 43}
# Pages whose parameters or query name something other than the usual: where to open them.
URLS = {"/peps/{pep_id}/sections/{key}/invitations": f"/peps/{ID}/sections/views/invitations",
        "/peps/{pep_id}/sections/{key}/compare": f"/peps/{ID}/sections/{KEY}/compare?from=1&to=2",
        "/organisations/{org_id}/edit": f"/organisations/{SETTING}/edit",
        "/organisations/{org_id}/designated-teacher": f"/organisations/{SETTING}/designated-teacher",
        "/organisations/{org_id}/staff/{user_id}/access": f"/organisations/{SETTING}/staff/{ID}/access",
        "/forgotten-password/code": "/forgotten-password/code",
        "/organisations/{org_id}/timescales": f"/organisations/{ID}/timescales"}
# Some pages draw more when asked: each of these is drawn as well.
MORE = [f"/organisations/{ID}/timescales?preview=1&meeting.day=3&meeting.month=3&meeting.year=2027",
        "/tasks?tray=retracted", "/tasks?tray=sent", "/caseload?category=upcoming", f"/children?q={EVIL}",
        f"/peps/{ID}/delegate"]
# Pages a journey reaches (they need the journey's signed cookie): drawn by test_every_form_posts, after the form
# before them is posted.
JOURNEY = {"/sign-in/code", "/forgotten-password/code", "/account/email/code", "/create-account/code"}


def page_urls(app: web.Application) -> list[str]:
    urls: set[str] = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if route.method != "GET" or not path or path.startswith("/static") or path in NOT_PAGES | JOURNEY:
            continue
        urls.add(URLS.get(path) or re.sub(r"\{(\w+)\}", lambda m: PARAMS.get(m.group(1), ID), path))
    return sorted(urls) + MORE


@pytest.fixture
async def portal(tmp_path: Path) -> AsyncIterator[tuple[TestClient, FakeGateway]]:
    (tmp_path / "portal.css").write_text("")
    fake = FakeGateway()
    for (method, path), body in world_answers().items():
        fake.answer(method, path, 200, body)
    async with fake.running() as gateway_url:
        settings = PortalSettings(environment="test", static_dir=tmp_path, gateway_url=gateway_url)
        async with TestClient(TestServer(create_app(SPEC, settings))) as client:
            client.session.cookie_jar.update_cookies({"epep_session": "session-token", "epep_views": "v" * 43})
            yield client, fake


def escaped_once(html: str) -> list[str]:
    """What is wrong with how the page shows EVIL text: markup, or text escaped twice."""
    wrong = []
    if "<b>Bold</b>" in html:
        wrong.append("shown as markup")
    for twice in ("&amp;lt;", "&amp;amp;", "&amp;gt;", "&amp;#"):
        if twice in html:
            at = html.index(twice)
            wrong.append(f"escaped twice: …{html[max(0, at - 120):at + 40]}…")
    # Our own markup escaped: a tag shown as text (`&lt;strong&gt;`, `&lt;a class=…`) that is not EVIL's <b>.
    for tag in re.finditer(r"&lt;/?([a-zA-Z][a-zA-Z0-9]*)", html):
        if tag.group(1) != "b":
            wrong.append(f"markup shown as text: …{html[max(0, tag.start() - 80):tag.end() + 60]}…")
            break
    if SHOWN not in html:
        wrong.append("the text is not on the page")
    return wrong


async def test_every_page_shows_text_as_text_escaped_once(portal: tuple[TestClient, FakeGateway]) -> None:
    client, _ = portal
    urls = page_urls(client.server.app)
    assert len(urls) > 60
    failures: dict[str, list[str]] = {}
    for url in urls:
        resp = await client.get(url, allow_redirects=False)
        html = await resp.text()
        if resp.status != 200:
            failures[url] = [f"status {resp.status} {resp.headers.get('Location', '')}"]
            continue
        if wrong := [w for w in escaped_once(html) if not (url in NO_TEXT and w.startswith("the text is not"))]:
            failures[url] = wrong
    assert not failures, "\n".join(f"{u}: {w}" for u, w in failures.items())
