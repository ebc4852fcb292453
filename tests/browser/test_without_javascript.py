"""The new pages work, and pass axe, with JavaScript turned off (forms post, nothing depends on scripts)."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import Browser, expect

from shared.demo import LA_ID, OAKFIELD
from tests.browser.axe import assert_accessible_without_javascript
from tests.browser.helpers import new_page, sign_in


async def test_account_and_administration_pages_work_without_javascript(system: Any, browser: Browser) -> None:
    context, page, _ = await new_page(browser, java_script_enabled=False)

    await page.goto(system.portal_url + "/forgotten-password")
    await page.get_by_role("button", name="Continue").click()
    await expect(page.locator("#email-error")).to_contain_text("Enter your email address")
    await assert_accessible_without_javascript(page)

    await sign_in(system, page, "admin@demo.test", "demo-pass-2026")
    for path, heading in [("/account", "Your account"), ("/account/sessions", "Your sessions"),
                          (f"/organisations/{LA_ID}", "Demo Virtual School"),
                          (f"/organisations/{OAKFIELD}", "Oakfield Primary School"),
                          (f"/organisations/{LA_ID}/audit", "Audit log")]:
        await page.goto(system.portal_url + path)
        await expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        await assert_accessible_without_javascript(page)

    # The timeout warning is there only for the script to open: without it, it stays closed.
    await expect(page.get_by_role("dialog")).to_be_hidden()

    await page.goto(f"{system.portal_url}/organisations/{OAKFIELD}/invitations/new")
    await page.get_by_role("button", name="Send invitation").click()
    await expect(page.locator(".govuk-error-summary")).to_contain_text("Select a role")
    await assert_accessible_without_javascript(page)

    await page.goto(f"{system.portal_url}/organisations/{LA_ID}/audit")
    await page.get_by_label("Action").select_option("sign_in")
    await page.get_by_role("button", name="Filter").click()
    await expect(page).to_have_url(re.compile(r"action=sign_in"))
    await expect(page.locator("main tbody tr").first).to_contain_text("Sign in")
    await context.close()
