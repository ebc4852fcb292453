"""GOV.UK patterns in Chromium, on the portal in front of a stand-in gateway (tests/portal/fake_gateway.py), so
what is checked is the page and its scripts: the cookies page, reached from the footer, lists the essential
cookies and passes axe with and without JavaScript; a long answer counts down to its maximum as someone types
(GOV.UK Frontend's character count) and says when there are too many; a PEP's PDF link says the file is being
prepared, then that it was downloaded."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, BrowserContext, Route, expect

from services.portal.app import SPEC
from services.portal.settings import PortalSettings
from shared.service import create_app
from tests.browser.axe import assert_accessible, assert_accessible_without_javascript
from tests.browser.helpers import new_page
from tests.pep import samples
from tests.portal.fake_gateway import FakeGateway
from tests.portal.test_pep_pages import (
    CHILD,
    CHILD_PROFILE,
    ME,
    OVERVIEW,
    PEP,
    SECTION_URL,
    SUMMARY,
    section,
    sign_off,
)


@pytest.fixture
async def portal() -> AsyncIterator[tuple[str, FakeGateway]]:
    fake = FakeGateway()
    async with fake.running() as gateway_url:
        server = TestServer(create_app(SPEC, PortalSettings(environment="test", gateway_url=gateway_url)))
        await server.start_server()
        try:
            yield str(server.make_url("")).rstrip("/"), fake
        finally:
            await server.close()


async def _signed_in(context: BrowserContext, url: str, fake: FakeGateway) -> None:
    fake.signed_in(ME)
    fake.answer("GET", f"/peps/{PEP}", 200, OVERVIEW)
    fake.answer("GET", f"/children/{CHILD}", 200, CHILD_PROFILE)
    fake.answer("GET", f"/children/{CHILD}/peps", 200, [SUMMARY])
    fake.answer("GET", f"/peps/{PEP}/sections/education", 200, section())
    fake.answer("GET", f"/peps/{PEP}/sign-off", 200, sign_off())  # the PEP page says which parts are in
    await context.add_cookies([{"name": "epep_session", "value": "session-token", "url": url}])


async def test_the_cookies_page_is_in_every_footer_and_lists_the_essential_cookies(
        browser: Browser, portal: tuple[str, FakeGateway]) -> None:
    url, _ = portal
    context, page, problems = await new_page(browser)
    await page.goto(url + "/")
    await page.get_by_role("contentinfo").get_by_role("link", name="Cookies").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Cookies")
    table = page.get_by_role("table", name="Cookies this service sets")
    for name in ("epep_session", "epep_csrf", "epep_sign_in", "epep_return"):
        await expect(table.get_by_role("rowheader", name=name)).to_be_visible()
    await assert_accessible(page)
    assert problems == []
    await context.close()

    context, page, _ = await new_page(browser, java_script_enabled=False)
    await page.goto(url + "/cookies")
    await expect(page.get_by_role("rowheader", name="epep_session")).to_be_visible()
    await assert_accessible_without_javascript(page)
    await context.close()


async def test_a_long_answer_counts_down_to_its_maximum(browser: Browser, portal: tuple[str, FakeGateway]) -> None:
    url, fake = portal
    context, page, problems = await new_page(browser)
    await _signed_in(context, url, fake)
    await page.goto(url + SECTION_URL)
    answer = page.get_by_label("Strengths and interests")
    count = page.locator("#answers-strengths-info + .govuk-character-count__status")
    await expect(count).to_have_text(re.compile(r"^You have 9,992 characters remaining$"))  # "Football" is there
    await answer.fill("x" * 9_990)
    await expect(count).to_have_text("You have 10 characters remaining")
    await assert_accessible(page)
    await answer.fill("y" * 10_005)
    await expect(count).to_have_text("You have 5 characters too many")
    await expect(answer).to_have_class(re.compile(r"\bgovuk-textarea--error\b"))
    await assert_accessible(page)
    assert problems == []
    await context.close()


async def test_a_pdf_download_says_it_is_being_prepared_then_that_it_was_downloaded(
        browser: Browser, portal: tuple[str, FakeGateway]) -> None:
    url, fake = portal
    context, page, problems = await new_page(browser, accept_downloads=True)
    await _signed_in(context, url, fake)
    pdf = samples.pdf("Jordan's Termly PEP")

    async def slowly(route: Route) -> None:  # a PDF that takes a moment to make
        await asyncio.sleep(1.5)
        await route.fulfill(status=200, body=pdf, headers={
            "Content-Type": "application/pdf",
            "Content-Disposition": 'attachment; filename="pep-2026-27-spring-termly.pdf"'})

    await page.route(re.compile(r"/download/termly\.pdf$"), slowly)
    await page.goto(f"{url}/peps/{PEP}")
    link = page.get_by_role("link", name="Download the Termly PEP (PDF)")
    status = page.get_by_role("listitem").filter(has=link).get_by_role("status")
    await expect(status).to_be_empty()
    async with page.expect_download() as downloading:
        await link.click()
        await expect(status).to_have_text("Preparing your download…")
    download = await downloading.value
    assert download.suggested_filename == "pep-2026-27-spring-termly.pdf"
    saved = await download.path()
    assert saved is not None and Path(saved).read_bytes() == pdf
    await expect(status).to_have_text("Downloaded: pep-2026-27-spring-termly.pdf")
    await assert_accessible(page)
    assert problems == []
    await context.close()
