"""An LA's own session rules in the browser: its VS admin chooses how long without activity signs its people out
and how long before that they are warned, with the mistakes named; then their own pages carry those timings,
and the timeout warning opens that long before the end (10 minutes, not the default 2).

Every page is checked with axe-core against WCAG 2.2 AA."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Any

from playwright.async_api import Browser, expect

from shared.demo import OTHER_LA_ID
from tests.browser.axe import assert_accessible
from tests.browser.helpers import new_page, sign_in


async def test_a_vs_admin_sets_the_las_session_rules_and_the_warning_follows_them(
        system: Any, browser: Browser) -> None:
    context, page, problems = await new_page(browser)
    try:
        await sign_in(system, page, "admin@northshire.test", "demo-pass-2026")
        await page.goto(f"{system.portal_url}/organisations/{OTHER_LA_ID}")
        await page.get_by_role("link", name="Signing out when inactive").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Signing people out when they are inactive")
        await expect(page.locator("main")).to_contain_text("has not chosen its own times yet")
        idle = page.get_by_label("Sign people out after this long without using the service")
        warning = page.get_by_label("Warn them this long before signing them out")
        await expect(idle).to_have_value("20")
        await expect(warning).to_have_value("2")
        await assert_accessible(page)

        # Mistakes are named, and what was typed stays.
        await idle.fill("4")
        await warning.fill("two")
        await page.get_by_role("button", name="Save").click()
        summary = page.locator(".govuk-error-summary")
        await expect(summary.get_by_role("link", name="Enter the minutes of warning as a whole number, like 2")
                     ).to_have_attribute("href", "#warning_minutes")
        await expect(idle).to_have_value("4")
        await assert_accessible(page)
        await warning.fill("10")
        await page.get_by_role("button", name="Save").click()
        await expect(summary.get_by_role(
            "link", name="The time before signing out must be between 5 and 120 minutes")).to_have_attribute(
            "href", "#idle_minutes")
        await idle.fill("40")
        await warning.fill("40")
        await page.get_by_role("button", name="Save").click()
        await expect(summary.get_by_role("link", name=re.compile("make it shorter than 40 minutes"))
                     ).to_have_attribute("href", "#warning_minutes")
        await assert_accessible(page)

        # Welfare Call's rules: 40 minutes, warned 10 before.
        await warning.fill("10")
        await page.get_by_role("button", name="Save").click()
        await expect(page.locator(".govuk-notification-banner")).to_contain_text("Signing out saved")
        await assert_accessible(page)
        await page.get_by_role("link", name="Signing out when inactive").click()
        await expect(idle).to_have_value("40")
        await expect(page.locator("main")).to_contain_text("Last changed by Nadia Northshire on")

        # Nadia works for Northshire: her own pages carry its timings, from identity through the gateway.
        clock = await page.evaluate("() => ({...document.body.dataset})")
        assert clock["warnSeconds"] == "600" and clock["idleSeconds"] == "2400", clock
        left = (datetime.fromisoformat(clock["idleExpiresAt"]) - datetime.now(UTC)).total_seconds()
        assert 39 * 60 < left <= 40 * 60 + 5, left

        # 9½ minutes before the end the warning is open (the default's 2-minute warning would not be yet).
        dialog = page.get_by_role("dialog", name="You’re about to be signed out")
        await expect(dialog).to_be_hidden()
        await page.evaluate("() => { document.body.dataset.idleExpiresAt = "
                            "new Date(Date.now() + 570000).toISOString() }")
        await expect(dialog).to_be_visible()
        await expect(dialog).to_contain_text("For your security, we will sign you out in 9 minutes")
        await assert_accessible(page)
        assert problems == []
    finally:
        # Northshire back on the default for the tests after this one (admin_sql runs its own event loop).
        for table in ("session_rule_versions", "session_rules"):
            await asyncio.to_thread(system.admin_sql, f"DELETE FROM identity.{table} WHERE la_id = $1", OTHER_LA_ID)
        await context.close()
