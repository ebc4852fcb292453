"""Administration in the browser: a Designated Teacher looks after their own setting's staff and cannot see
another setting; a Virtual School administrator adds settings, manages accounts and reads the audit log.

Every page is checked with axe-core against WCAG 2.2 AA, and no page may log a console error (apart from
the 404 status of a "Page not found" page, which the browser logs).
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from playwright.async_api import Browser, Page, expect

from shared.demo import LA_ID, OAKFIELD, RIVERSIDE
from tests.browser.axe import assert_accessible
from tests.browser.helpers import new_account, new_page, sign_in

DEMO_PASSWORD = "demo-pass-2026"


async def _page_not_found(page: Page, url: str) -> None:
    response = await page.goto(url)
    assert response is not None and response.status == 404
    await expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    await assert_accessible(page)


async def test_a_designated_teacher_manages_their_staff_and_cannot_see_another_setting(
        system: Any, browser: Browser) -> None:
    context, page, problems = await new_page(browser)
    await sign_in(system, page, "dt@demo.test", DEMO_PASSWORD)

    await page.locator("main").get_by_role("link", name="Oakfield Primary School").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Oakfield Primary School")
    await expect(page.get_by_role("link", name="Change designated teacher")).to_have_count(0)  # VS admins only
    await expect(page.get_by_role("button", name=re.compile("^Deactivate"))).to_have_count(0)
    await assert_accessible(page)

    # A DT invites setting staff to their own setting, and nothing else.
    await page.get_by_role("button", name="Invite someone").click()
    await expect(page.get_by_role("group", name="Role").get_by_role("radio")).to_have_count(1)
    await expect(page.get_by_label("Setting staff")).to_be_visible()
    await assert_accessible(page)
    await page.get_by_role("link", name="Back").click()

    # What Sol (setting staff) may see.
    await page.get_by_role("link", name="Change access for Sol Staff").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("What can Sol Staff see?")
    await assert_accessible(page)
    await expect(page.get_by_label("All sections, including any added later")).to_be_checked()
    await page.get_by_label("All sections, including any added later").uncheck()
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator(".govuk-error-summary").get_by_role(
        "link", name="Select the sections they can see, or all sections")).to_have_attribute("href", "#sections")
    await assert_accessible(page)
    await page.get_by_label("Education", exact=True).check()
    # Only some children: choosing none is named; the sections ticked are kept.
    await expect(page.get_by_label(re.compile("All children at Oakfield"))).to_be_checked()
    await page.get_by_label(re.compile("All children at Oakfield")).uncheck()
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator(".govuk-error-summary").get_by_role(
        "link", name="Select the children they can see, or all children")).to_have_attribute("href", "#children")
    await expect(page.get_by_label("Education", exact=True)).to_be_checked()
    await assert_accessible(page)
    await page.get_by_label("Jordan Example").check()
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator(".govuk-notification-banner")).to_contain_text("Sol Staff’s access has been changed")
    sol = page.locator("main tbody tr", has_text="Sol Staff")
    await expect(sol).to_contain_text("1 child, sections: Education")
    await assert_accessible(page)
    await page.get_by_role("link", name="Change access for Sol Staff").click()
    await expect(page.get_by_label("Jordan Example")).to_be_checked()
    # "All children" unticks the others through GOV.UK Frontend's script: wait until it has started on this page
    # (it marks the component), or on a busy machine the click lands first and nothing unticks.
    await expect(page.locator("[data-module=govuk-checkboxes][data-govuk-checkboxes-init]").first).to_be_attached()
    await page.get_by_label(re.compile("All children at Oakfield")).check()  # unticks Jordan (exclusive)
    await expect(page.get_by_label("Jordan Example")).not_to_be_checked()
    await page.get_by_role("button", name="Save").click()
    await expect(sol).to_contain_text("All children, sections: Education")

    # Back to everything, as the demo had it.
    await page.get_by_role("link", name="Change access for Sol Staff").click()
    await expect(page.get_by_label("Education", exact=True)).to_be_checked()
    await page.get_by_label("All sections, including any added later").check()  # unticks B (exclusive)
    await expect(page.get_by_label("Education", exact=True)).not_to_be_checked()
    await page.get_by_role("button", name="Save").click()
    await expect(sol).to_contain_text("All children, all sections")

    assert problems == []

    # Another setting, the LA, and VS admin pages of their own setting are pages that do not exist.
    await _page_not_found(page, f"{system.portal_url}/organisations/{RIVERSIDE}")
    await _page_not_found(page, f"{system.portal_url}/organisations/{LA_ID}")
    await _page_not_found(page, f"{system.portal_url}/organisations/{OAKFIELD}/designated-teacher")
    await _page_not_found(page, f"{system.portal_url}/organisations/{RIVERSIDE}/invitations/new")
    assert [p for p in problems if "404 (Not Found)" not in p] == []
    await context.close()


async def test_a_virtual_school_admin_adds_a_setting_manages_accounts_and_reads_the_audit_log(
        system: Any, browser: Browser) -> None:
    worker = await new_account(system, str(LA_ID), "social_worker", "Dev", "Deactivated", "pebble-saffron-anchor-62")
    context, page, problems = await new_page(browser)
    await sign_in(system, page, "admin@demo.test", DEMO_PASSWORD)
    await page.goto(f"{system.portal_url}/organisations/{LA_ID}")

    # Add a setting: checked before the gateway is asked, then shown on its own page.
    await page.get_by_role("button", name="Add a setting").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Add a setting")
    await assert_accessible(page)
    await page.get_by_label("URN (optional)").fill("12")
    await page.get_by_role("button", name="Add setting").click()
    summary = page.locator(".govuk-error-summary")
    await expect(summary.get_by_role("link", name="Enter the name of the setting")).to_have_attribute("href", "#name")
    await expect(summary.get_by_role("link", name="Select the type of setting")) \
        .to_have_attribute("href", "#setting_type")
    await expect(page.locator("#urn-error")).to_contain_text("The URN must be 6 or 7 digits")
    await assert_accessible(page)
    name = f"Willow Tree Primary {secrets.token_hex(2)}"
    await page.get_by_label("Name", exact=True).fill(name)
    await page.get_by_label("School", exact=True).check()
    await page.get_by_label("Primary", exact=True).check()
    await page.get_by_label("URN (optional)").fill("")
    await page.get_by_label("Address (optional)").fill("1 Willow Lane\nDemo Town")
    await page.get_by_role("button", name="Add setting").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(name)
    await expect(page.locator(".govuk-notification-banner")).to_contain_text("Setting added")
    await expect(page.locator("main")).to_contain_text("No Designated Teacher has been nominated")
    await assert_accessible(page)

    await page.get_by_role("link", name=re.compile("^Change details")).click()
    await expect(page.get_by_label("Name", exact=True)).to_have_value(name)
    await assert_accessible(page)
    await page.get_by_label("URN (optional)").fill("1234567")
    await page.get_by_role("button", name="Save changes").click()
    await expect(page.locator(".govuk-notification-banner")).to_contain_text("Details saved")
    await expect(page.locator("main .govuk-summary-list__row", has_text="URN")).to_contain_text("1234567")

    await page.get_by_role("link", name="Change designated teacher").click()
    await expect(page.locator("main")).to_contain_text(f"Nobody has an account at {name} yet")
    await assert_accessible(page)

    # Once someone has an account there, they can be nominated; the change is kept in the history.
    setting_id = page.url.split("/organisations/")[1].split("/")[0]
    await new_account(system, setting_id, "setting_staff", "Wren", "Willow", "pebble-saffron-anchor-62")
    await page.reload()
    await page.get_by_label("Wren Willow").check()
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator(".govuk-notification-banner")).to_contain_text(
        "Wren Willow is now the nominated Designated Teacher")
    await expect(page.locator("main")).to_contain_text("Wren Willow")
    await page.get_by_role("link", name="Change designated teacher").click()
    await expect(page.get_by_label("Wren Willow")).to_be_checked()
    await expect(page.locator("main tbody tr", has_text="Wren Willow")).to_contain_text("Now")
    await assert_accessible(page)

    # Riverside's nominated DT and who held the role before.
    await page.goto(f"{system.portal_url}/organisations/{RIVERSIDE}/designated-teacher")
    await expect(page.get_by_role("group", name="Who is the Designated Teacher?")).to_be_visible()
    await expect(page.get_by_label("Rory Teacher")).to_be_checked()
    await assert_accessible(page)

    # Deactivate and reactivate an account at the LA; sign it out everywhere.
    await page.goto(f"{system.portal_url}/organisations/{LA_ID}")
    await page.get_by_role("button", name=re.compile("^Deactivate +Dev Deactivated$")).click()
    await expect(page.locator(".govuk-notification-banner")).to_contain_text(
        "Dev Deactivated’s account has been deactivated")
    row = page.locator("main tbody tr", has_text=worker)
    await expect(row.locator(".govuk-tag")).to_have_text("Deactivated")
    await assert_accessible(page)
    await page.get_by_role("button", name=re.compile("^Reactivate +Dev Deactivated$")).click()
    await expect(page.locator(".govuk-notification-banner")).to_contain_text("can sign in again")
    await expect(row.locator(".govuk-tag")).to_have_text("Active")
    await page.get_by_role("button", name=re.compile("^Sign out of all sessions +for Dev Deactivated$")).click()
    await expect(page.locator(".govuk-notification-banner")).to_contain_text("Dev Deactivated has been signed out")

    # The audit log, filtered to one kind of action.
    await page.get_by_role("link", name="Audit log").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Audit log")
    await expect(page.locator("main tbody tr").first).to_be_visible()
    await assert_accessible(page)
    await page.get_by_label("Action").select_option("account_deactivated")
    await page.get_by_role("button", name="Filter").click()
    await expect(page).to_have_url(re.compile(r"action=account_deactivated"))
    rows = page.locator("main tbody tr")
    await expect(rows.first).to_contain_text("Account deactivated")
    await expect(rows.filter(has_text="Dev Deactivated").first).to_be_visible()
    for text in await rows.all_inner_texts():
        assert "Account deactivated" in text
    await assert_accessible(page)

    assert problems == []
    await context.close()
