"""A VS admin chooses how long the LA keeps children's records, from the LA's page; other people cannot."""

from __future__ import annotations

from typing import Any

import asyncpg
from playwright.async_api import Browser, expect

from shared import demo
from tests.browser.axe import assert_accessible
from tests.browser.helpers import new_page, sign_in

PASSWORD = "demo-pass-2026"


async def test_a_vs_admin_sets_until_which_birthday_childrens_records_are_kept(system: Any, browser: Browser) -> None:
    context, page, problems = await new_page(browser)
    await sign_in(system, page, "admin@demo.test", PASSWORD)
    await page.goto(f"{system.portal_url}/organisations/{demo.LA_ID}")
    await page.get_by_role("link", name="Record retention").click()
    field = page.get_by_label("Until which birthday are a child’s records kept?")
    await expect(field).to_have_value("75")
    await assert_accessible(page)
    await field.fill("18")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator(".govuk-error-summary").get_by_role(
        "link", name="Enter an age from 25 to 100")).to_have_attribute("href", "#keep_until_age")
    await assert_accessible(page)
    try:
        await field.fill("80")
        await page.get_by_role("button", name="Save").click()
        await expect(page.locator(".govuk-notification-banner")).to_contain_text("Record retention saved")
        await page.get_by_role("link", name="Record retention").click()
        await expect(field).to_have_value("80")
        # Lowering it waits: the page says from which day, and that another VS administrator must confirm it.
        await field.fill("75")
        await page.get_by_role("button", name="Save").click()
        await expect(page.locator(".govuk-notification-banner")).to_contain_text("Reduction proposed")
        panel = page.locator("#pending-reduction")
        await expect(panel).to_contain_text("takes effect on")
        await expect(panel).to_contain_text("once another Virtual School administrator confirms it")
        await assert_accessible(page)
        # Not by the one who proposed it (issue 23, finding 9).
        await panel.get_by_role("button", name="Confirm the reduction").click()
        await expect(page.locator("#confirm-error")).to_contain_text(
            "Another Virtual School administrator must confirm this")
    finally:
        # Back to 75 with nothing waiting, as the database's owner: no administrator may lower it at once.
        conn = await asyncpg.connect(system.admin_dsn)
        try:
            await conn.execute("DELETE FROM pep.retention_rules WHERE la_id = $1", demo.LA_ID)
            await conn.execute("UPDATE pep.retention_changes SET superseded_at = now() WHERE la_id = $1 "
                               "AND applied_at IS NULL AND superseded_at IS NULL", demo.LA_ID)
        finally:
            await conn.close()
    assert problems == []
    await context.close()

    context, page, problems = await new_page(browser)  # another LA's administrator: not theirs to see
    await sign_in(system, page, "admin@northshire.test", PASSWORD)
    assert (await page.goto(f"{system.portal_url}/organisations/{demo.LA_ID}/retention")).status == 404
    await context.close()
