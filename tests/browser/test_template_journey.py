"""PEP templates in the browser: the Demo Virtual School's admin copies the school-age default, makes a question
mandatory and relabels it (an empty label is named and nothing typed is lost), saves, and sees the new version.
A Designated Teacher has no template pages, and Northshire's admin cannot see or change Demo's template.

The copy is new in every run (each copy is the LA's next version), so nothing depends on an earlier run or test.
PEPs started afterwards use the LA's latest version, so the test leaves Demo's template as it found it (the
default's questions, as a further version), and other tests' PEPs are unaffected. Every page is checked with
axe-core against WCAG 2.2 AA.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from services.pep.template_library import load_default_templates
from shared import demo
from tests.browser.axe import assert_accessible
from tests.browser.helpers import new_page, sign_in

PASSWORD = demo.DEMO_PASSWORD
DEMO_LA = str(demo.LA_ID)
KEY = "school-age"
# The browser logs the status of a "Page not found" page; nothing else may appear.
EXPECTED_CONSOLE = re.compile(r"status of 404 \(Not Found\)")


def _question_to_change() -> tuple[str, str]:
    """An optional, always-shown text question of the default's Education section: (section title, its label)."""
    section = load_default_templates()[KEY].section("education")
    assert section is not None
    labels = [f.label for f in section.fields]
    question = next(f for f in section.fields if not f.mandatory and f.show_when is None
                    and f.type in ("text", "long_text") and labels.count(f.label) == 1)
    return section.title, question.label


def _demo_templates(system: Any, cookie: str) -> list[dict[str, Any]]:
    status, templates, _ = system.api("GET", "/api/v1/templates", cookie=cookie)
    assert status == 200, templates
    return [t for t in templates if t["key"] == KEY and t["la_id"] == DEMO_LA]


def _latest_demo_body(system: Any) -> dict[str, Any] | None:
    cookie = system.sign_in("admin@demo.test")
    try:
        mine = _demo_templates(system, cookie)
        if not mine:
            return None
        latest = max(mine, key=lambda t: t["version"])
        return dict(system.api("GET", f"/api/v1/templates/{latest['id']}", cookie=cookie)[1]["body"])
    finally:
        system.api("POST", "/api/v1/auth/sign-out", cookie=cookie)


def _put_back(system: Any, before: dict[str, Any] | None) -> None:
    """Demo's template's questions as they were (the default's, if it had none of its own), as its next version."""
    cookie = system.sign_in("admin@demo.test")
    try:
        mine = _demo_templates(system, cookie)
        if not mine:
            return
        latest = max(mine, key=lambda t: t["version"])
        if before is None:
            default = next(t for t in system.api("GET", "/api/v1/templates", cookie=cookie)[1]
                           if t["key"] == KEY and t["la_id"] is None)
            before = system.api("GET", f"/api/v1/templates/{default['id']}", cookie=cookie)[1]["body"]
        status, body, _ = system.api("PUT", f"/api/v1/templates/{latest['id']}", {"body": before}, cookie=cookie)
        assert status == 200, body
    finally:
        system.api("POST", "/api/v1/auth/sign-out", cookie=cookie)


@pytest.fixture
async def demo_template_put_back(system: Any) -> AsyncIterator[None]:
    before = await asyncio.to_thread(_latest_demo_body, system)
    yield
    await asyncio.to_thread(_put_back, system, before)


def _unexpected(problems: list[str]) -> list[str]:
    return [p for p in problems if not EXPECTED_CONSOLE.search(p)]


async def _page_not_found(page: Page, url: str) -> None:
    response = await page.goto(url)
    assert response is not None and response.status == 404, url
    await expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")


async def test_an_admin_copies_the_default_and_changes_a_question(system: Any, browser: Browser,
                                                                  demo_template_put_back: None) -> None:
    portal = system.portal_url
    section_title, label = _question_to_change()
    new_label = f"{label} (asked by Demo, {secrets.token_hex(3)})"
    context, page, problems = await new_page(browser)
    await sign_in(system, page, "admin@demo.test", PASSWORD)

    # ---- from the LA's page to the templates --------------------------------------------------------------
    await page.locator("main").get_by_role("link", name="Demo Virtual School").click()
    await page.get_by_role("link", name="PEP templates").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("PEP templates")
    await expect(page.locator("main")).to_contain_text("National default")
    await assert_accessible(page)
    await page.get_by_role("link", name=re.compile(r"^Statutory School Age PEP.*, National default$")).click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Statutory School Age PEP")
    await expect(page.locator(".govuk-caption-l")).to_have_text("National default")
    await expect(page.get_by_role("link", name=re.compile("^Change questions"))).to_have_count(0)  # read-only
    await expect(page.locator("main")).to_contain_text(label)
    await assert_accessible(page)

    # ---- copy it to the LA: a new version of Demo's own -----------------------------------------------------
    await page.get_by_role("button", name="Copy to Demo Virtual School").click()
    banner = page.locator(".govuk-notification-banner")
    await expect(banner).to_contain_text("Copied to Demo Virtual School")
    await expect(page.locator(".govuk-caption-l")).to_have_text("Demo Virtual School")
    copied_url = page.url
    match = re.search(r"/templates/([0-9a-f-]{36})\?done=copied$", copied_url)
    assert match, copied_url
    copied_version = re.search(r"This is its version (\d+)", await banner.inner_text())
    assert copied_version, await banner.inner_text()
    version = int(copied_version.group(1))
    await assert_accessible(page)

    # ---- change one question: an empty label is named, and nothing typed is lost ----------------------------
    await page.get_by_role("link", name=f"Change questions in {section_title}", exact=True).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Change questions: {section_title}")
    await assert_accessible(page)
    question = page.get_by_role("group", name=label, exact=True)
    await question.get_by_label("Mandatory").check()
    await question.get_by_label("Question", exact=True).fill("")
    await page.get_by_role("button", name="Save as a new version").click()
    summary = page.locator(".govuk-error-summary")
    await expect(summary).to_contain_text(f"Enter the question for ‘{label}’")
    await assert_accessible(page)
    await summary.get_by_role("link", name=f"Enter the question for ‘{label}’").click()
    question = page.get_by_role("group", name=label, exact=True)
    await expect(question.get_by_label("Question", exact=True)).to_be_focused()
    await expect(question.get_by_label("Mandatory")).to_be_checked()  # kept from the refused save
    await question.get_by_label("Question", exact=True).fill(new_label)
    await page.get_by_role("button", name="Save as a new version").click()

    # ---- the new version, and the copy kept as the version before it ----------------------------------------
    await expect(banner).to_contain_text(f"Version {version + 1} saved")
    await expect(banner).to_contain_text("PEPs already started keep the version they started with")
    row = page.locator("tr", has_text=new_label)
    await expect(row).to_have_count(1)
    await expect(row.locator("td").nth(2)).to_have_text("Yes")  # mandatory
    await expect(page.locator(".govuk-summary-list")).to_contain_text(f"{version + 1} (latest)")
    await expect(page.get_by_role("link", name=f"Version {version}", exact=True)).to_have_attribute(
        "href", f"/templates/{match.group(1)}")
    await assert_accessible(page)
    # The earlier version is unchanged, and can no longer be changed.
    await page.goto(copied_url.split("?")[0])
    await expect(page.locator("main")).to_contain_text("This is an earlier version")
    await expect(page.locator("main")).not_to_contain_text(new_label)
    await expect(page.get_by_role("link", name=re.compile("^Change questions"))).to_have_count(0)
    await assert_accessible(page)

    # ---- Northshire's admin neither sees nor changes it ------------------------------------------------------
    nadia_context, nadia, nadia_problems = await new_page(browser)
    await sign_in(system, nadia, "admin@northshire.test", PASSWORD)
    await nadia.goto(f"{portal}/templates")
    await expect(nadia.get_by_role("heading", level=1)).to_have_text("PEP templates")
    await expect(nadia.locator("main")).not_to_contain_text("Demo Virtual School")
    saved_id = page.url.split("/templates/")[1].split("?")[0]
    for template_id in (saved_id, match.group(1)):
        await _page_not_found(nadia, f"{portal}/templates/{template_id}")
        await _page_not_found(nadia, f"{portal}/templates/{template_id}/sections/education")
    await assert_accessible(nadia)

    assert _unexpected(problems) == [] and _unexpected(nadia_problems) == []
    await nadia_context.close()
    await context.close()


async def test_a_designated_teacher_has_no_template_pages(system: Any, browser: Browser) -> None:
    context, page, problems = await new_page(browser)
    await sign_in(system, page, "dt@demo.test", PASSWORD)
    await _page_not_found(page, f"{system.portal_url}/templates")
    await assert_accessible(page)
    assert _unexpected(problems) == []
    await context.close()


def test_every_template_version_says_when_it_was_saved(system: Any) -> None:
    cookie = system.sign_in("admin@northshire.test")
    try:
        status, templates, _ = system.api("GET", "/api/v1/templates", cookie=cookie)
        assert status == 200 and templates, templates
        assert all(re.match(r"\d{4}-\d\d-\d\dT", t["changed_at"] or "") for t in templates), templates
        one = system.api("GET", f"/api/v1/templates/{templates[0]['id']}", cookie=cookie)[1]
        assert one["changed_at"] == templates[0]["changed_at"]
    finally:
        system.api("POST", "/api/v1/auth/sign-out", cookie=cookie)
