"""A Virtual School administrator invites a teacher, who creates their account from the emailed link and signs in.

Every page on the way is checked with axe-core against WCAG 2.2 AA, and no page may log a console error.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from typing import Any

from playwright.async_api import Browser, expect

from shared.demo import OAKFIELD, RIVERSIDE
from tests.browser.axe import assert_accessible
from tests.browser.helpers import (
    NextCode,
    invitation_token,
    invite,
    new_account,
    new_page,
    sign_in,
    submit_sign_in,
)

ADMIN_EMAIL, DEMO_PASSWORD = "admin@demo.test", "demo-pass-2026"
NEW_PASSWORD = "kettle-orbit-tangerine-59"


async def test_an_invited_teacher_creates_an_account_and_signs_in(system: Any, browser: Browser) -> None:
    context, page, problems = await new_page(browser)
    email = f"nia.{secrets.token_hex(4)}@demo.test"

    # The administrator opens Riverside Academy from their LA's page and invites Nia.
    await sign_in(system, page, ADMIN_EMAIL, DEMO_PASSWORD)
    await page.locator("main").get_by_role("link", name="Demo Virtual School").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Demo Virtual School")
    await assert_accessible(page)
    await page.locator("main").get_by_role("link", name="Riverside Academy").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Riverside Academy")
    await assert_accessible(page)

    await page.get_by_role("button", name="Invite someone").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Invite someone")
    await assert_accessible(page)
    # A VS admin may invite a setting's DT or staff, and nothing else there.
    roles = page.get_by_role("group", name="Role").get_by_role("radio")
    await expect(roles).to_have_count(2)

    await page.get_by_role("button", name="Send invitation").click()
    summary = page.locator(".govuk-error-summary")
    await expect(summary.get_by_role("link", name="Enter their given name")).to_have_attribute("href", "#given_name")
    await expect(summary.get_by_role("link", name="Select a role")).to_have_attribute("href", "#role")
    await assert_accessible(page)

    await page.get_by_label("Given name").fill("Nia")
    await page.get_by_label("Family name").fill("Newteacher")
    await page.get_by_label("Email address").fill(email)
    await page.get_by_label("Setting staff").check()
    invited_at = time.time() - 0.5
    await page.get_by_role("button", name="Send invitation").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Riverside Academy")
    await expect(page.locator(".govuk-notification-banner")).to_contain_text("Invitation sent")
    invitations = page.locator("table", has=page.get_by_role("columnheader", name="Expires"))
    await expect(invitations.get_by_role("row", name=re.compile("Nia Newteacher"))).to_contain_text("Setting staff")
    await assert_accessible(page)

    await page.get_by_role("button", name="Sign out").first.click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("You have signed out")

    # Nia opens the emailed link: the page only shows the invitation until she presses its button.
    token = await invitation_token(system, email, invited_at)
    await page.goto(f"{system.portal_url}/invitations/{token}")
    await expect(page.locator("main")).to_contain_text(
        "You’ve been invited to use ePEP as Setting staff for Riverside Academy")
    await assert_accessible(page)
    await page.get_by_role("button", name="Create your account").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Create your account")
    await assert_accessible(page)

    await page.get_by_label("Given name").fill("Nia")
    await page.get_by_label("Family name").fill("Different")
    await page.get_by_label("Email address").fill(email)
    await page.get_by_label("Create a password").fill(NEW_PASSWORD)
    await page.get_by_role("button", name="Create account").click()
    summary = page.locator(".govuk-error-summary")
    await expect(summary.get_by_role("link", name="The family name does not match the invitation")) \
        .to_have_attribute("href", "#family_name")
    await expect(page.locator("#family_name-error")).to_contain_text("The family name does not match the invitation")
    await expect(page.get_by_label("Email address")).to_have_value(email)
    await expect(page.get_by_label("Create a password")).to_have_value("")  # never sent back
    await assert_accessible(page)

    await page.get_by_label("Family name").fill("Newteacher")
    await page.get_by_label("Create a password").fill(NEW_PASSWORD)
    registration_code = NextCode(system, email)
    await page.get_by_role("button", name="Create account").click()
    await expect(page).to_have_url(re.compile(r"/create-account/code$"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    await assert_accessible(page)
    await page.get_by_label("Code").fill(await registration_code.wait_async())
    await page.get_by_role("button", name="Continue").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Your account is ready")
    await assert_accessible(page)

    # She signs in like everyone else, and sees her setting.
    await page.get_by_role("button", name="Sign in").click()
    sign_in_code = NextCode(system, email)
    await submit_sign_in(page, email, NEW_PASSWORD)
    await page.get_by_label("Code").fill(await sign_in_code.wait_async())
    await page.get_by_role("button", name="Continue").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Signed in as Nia Newteacher")
    setting = page.locator("main .govuk-summary-list__row", has_text="Riverside Academy")
    await expect(setting).to_contain_text("Setting staff")
    await assert_accessible(page)

    assert problems == []

    # The link cannot be used twice (the page answers 404, which the browser logs).
    await page.goto(f"{system.portal_url}/invitations/{token}")
    await expect(page.get_by_role("heading", level=1)).to_have_text("You cannot use this invitation link")
    await expect(page.locator("main")).to_contain_text("has expired or has already been used")
    await assert_accessible(page)
    assert [p for p in problems if "404 (Not Found)" not in p] == []
    await context.close()


async def test_someone_with_an_account_accepts_an_invitation_while_signed_in(system: Any, browser: Browser) -> None:
    # One login across settings: Tam works at Oakfield and is invited to Riverside too.
    email = await new_account(system, str(OAKFIELD), "setting_staff", "Tam", "Twoplaces", NEW_PASSWORD)
    token = await asyncio.to_thread(invite, system, (ADMIN_EMAIL, DEMO_PASSWORD), str(RIVERSIDE), "setting_staff",
                                    "Tam", "Twoplaces", email)
    context, page, problems = await new_page(browser)

    # Registering again is refused with what to do instead.
    await page.goto(f"{system.portal_url}/invitations/{token}")
    await page.get_by_role("button", name="Create your account").click()
    await page.get_by_label("Given name").fill("Tam")
    await page.get_by_label("Family name").fill("Twoplaces")
    await page.get_by_label("Email address").fill(email)
    await page.get_by_label("Create a password").fill(NEW_PASSWORD)
    await page.get_by_role("button", name="Create account").click()
    await expect(page.locator("#email-error")).to_contain_text("You already have an account with this email address")

    await sign_in(system, page, email, NEW_PASSWORD)
    await page.goto(f"{system.portal_url}/invitations/{token}")
    await expect(page.locator("main")).to_contain_text("You’re signed in")
    await assert_accessible(page)
    await page.get_by_role("button", name="Accept invitation").click()
    await expect(page).to_have_url(re.compile(r"/home\?invitation=accepted$"))
    await expect(page.locator(".govuk-notification-banner")).to_contain_text("Invitation accepted")
    rows = page.locator("main .govuk-summary-list__row")
    await expect(rows.filter(has_text="Riverside Academy")).to_contain_text("Setting staff")
    await expect(rows.filter(has_text="Oakfield Primary School")).to_be_visible()
    await assert_accessible(page)

    assert problems == []
    await context.close()
