"""Email previews in the browser: a Virtual School admin goes from the delivery log to every kind of email, made
from sample values, and opens one's HTML version, which is served under a strict CSP of its own; a Designated
Teacher cannot open the page. Every page is checked with axe-core against WCAG 2.2 AA."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Browser, expect

from services.notify.emails import SUBJECTS
from shared.demo import LA_ID
from tests.browser.axe import assert_accessible, assert_accessible_without_javascript
from tests.browser.helpers import new_page, sign_in

DEMO_PASSWORD = "demo-pass-2026"


async def test_an_admin_previews_every_email_and_opens_one_as_html(system: Any, browser: Browser) -> None:
    context, page, problems = await new_page(browser)
    await sign_in(system, page, "admin@demo.test", DEMO_PASSWORD)
    await page.goto(f"{system.portal_url}/organisations/{LA_ID}/deliveries")
    await page.get_by_role("link", name="See what each kind of email says").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Email previews")
    await expect(page.locator("main").get_by_role("heading", level=2)).to_have_count(len(SUBJECTS) + 1)  # + Contents
    invitation = page.locator("#meeting_invitation")
    await expect(invitation).to_have_text("PEP meeting invitation")
    await expect(page.locator(".govuk-summary-list").nth(list(SUBJECTS).index("meeting_invitation"))).to_contain_text(
        "Invitation: PEP meeting for Jordan E.")
    await expect(page.locator(".govuk-inset-text").first).to_contain_text("Demo Virtual School")  # the admin's own
    await assert_accessible(page)
    back = page.get_by_role("link", name="Back", exact=True)
    await expect(back).to_have_attribute("href", f"/organisations/{LA_ID}/deliveries")

    async with page.expect_navigation() as navigation:
        await page.get_by_role("link", name="See the HTML version of the PEP meeting invitation email").click()
    response = await navigation.value
    assert response is not None and response.status == 200
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "sandbox" in csp and "script-src" not in csp
    # The subject (lock screens, the delivery log) names the child by first name and initial; the email in full.
    await expect(page.get_by_role("heading", level=1)).to_have_text("PEP meeting for Jordan Example")
    await expect(page).to_have_title("Invitation: PEP meeting for Jordan E.")
    # axe cannot run inside the CSP sandbox: the same HTML is checked as served, without that header.
    await assert_accessible_without_javascript(page)
    assert [p for p in problems if "Content Security Policy" not in p] == []
    assert (await page.goto(f"{system.portal_url}/email-previews/no_such_email")).status == 404  # type: ignore[union-attr]
    await context.close()

    context, page, _ = await new_page(browser)
    await sign_in(system, page, "dt@demo.test", DEMO_PASSWORD)
    response = await page.goto(f"{system.portal_url}/email-previews")
    assert response is not None and response.status == 404
    await expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    assert (await page.goto(f"{system.portal_url}/email-previews/meeting_invitation")).status == 404  # type: ignore[union-attr]
    await context.close()
