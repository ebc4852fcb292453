"""Looking after your own account: forgotten password, the account page, sessions, and the timeout warning.

Each test that changes an account makes its own (through the API), so the demo accounts stay as they were.
Every page is checked with axe-core against WCAG 2.2 AA, and no page may log a console error.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from playwright.async_api import Browser, Page, Route, expect

from shared.demo import LA_ID, OAKFIELD
from tests.browser.axe import assert_accessible
from tests.browser.helpers import NextCode, new_account, new_page, sign_in, submit_sign_in

FIRST_PASSWORD = "lantern-meadow-copper-41"
SECOND_PASSWORD = "harbour-velvet-quartz-73"


async def _signed_out_banner(page: Page) -> None:
    await expect(page).to_have_url(re.compile(r"/sign-in\?reason=session-ended$"))
    await expect(page.locator(".govuk-notification-banner")).to_contain_text("You have been signed out")


async def test_a_forgotten_password_is_reset_with_an_emailed_code(system: Any, browser: Browser) -> None:
    email = await new_account(system, str(OAKFIELD), "setting_staff", "Farah", "Forgetful", FIRST_PASSWORD)
    context, page, problems = await new_page(browser)

    await page.goto(system.portal_url + "/sign-in")
    await page.get_by_role("link", name="Forgotten your password?").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Reset your password")
    await assert_accessible(page)
    await page.get_by_role("button", name="Continue").click()
    await expect(page.locator("#email-error")).to_contain_text("Enter your email address")
    await assert_accessible(page)

    reset_code = NextCode(system, email)
    await page.get_by_label("Email address").fill(email)
    await page.get_by_role("button", name="Continue").click()
    await expect(page).to_have_url(re.compile(r"/forgotten-password/code$"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    await assert_accessible(page)
    code = await reset_code.wait_async()

    # The password policy's answer is shown against the new password, and the code is kept.
    await page.get_by_label("Code").fill(code)
    await page.get_by_label("New password").fill("short")
    await page.get_by_role("button", name="Change password").click()
    await expect(page.locator("#new_password-error")).to_contain_text("at least 10 characters")
    await expect(page.get_by_label("Code")).to_have_value(code)
    await assert_accessible(page)

    await page.get_by_label("New password").fill(SECOND_PASSWORD)
    await page.get_by_role("button", name="Change password").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Your password has been changed")
    await assert_accessible(page)

    await page.get_by_role("button", name="Sign in").click()
    sign_in_code = NextCode(system, email)
    await submit_sign_in(page, email, SECOND_PASSWORD)
    await page.get_by_label("Code").fill(await sign_in_code.wait_async())
    await page.get_by_role("button", name="Continue").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Signed in as Farah Forgetful")

    assert problems == []
    await context.close()


async def test_the_account_page_lists_sessions_and_signs_out_of_them(system: Any, browser: Browser) -> None:
    email = await new_account(system, str(LA_ID), "social_worker", "Sasha", "Sessions", FIRST_PASSWORD)
    context_a, a, problems_a = await new_page(browser)
    context_b, b, problems_b = await new_page(browser)
    await sign_in(system, a, email, FIRST_PASSWORD)
    await sign_in(system, b, email, FIRST_PASSWORD)

    await a.get_by_role("link", name="Your account").click()
    await expect(a.get_by_role("heading", level=1)).to_have_text("Your account")
    main = a.locator("main")
    await expect(main).to_contain_text("Sasha Sessions")
    await expect(main).to_contain_text(email)
    await expect(main.locator(".govuk-summary-list__row", has_text="Demo Virtual School")).to_contain_text(
        "Social worker")
    await expect(a.get_by_role("link", name="Your account")).to_have_attribute("aria-current", "page")
    await assert_accessible(a)

    await a.get_by_role("link", name="Your sessions").click()
    await expect(a.get_by_role("heading", level=1)).to_have_text("Your sessions")
    rows = a.locator("main tbody tr")
    await expect(rows).to_have_count(2)
    await expect(rows.filter(has_text="This browser")).to_have_count(1)
    await assert_accessible(a)

    # Sign the other browser out from here: its next page is the sign-in page, saying why.
    await rows.filter(has_text="Another browser or device").get_by_role("button", name=re.compile("^Sign out")).click()
    await expect(a.locator(".govuk-notification-banner")).to_contain_text("You signed out of that session")
    await expect(rows).to_have_count(1)
    await assert_accessible(a)
    await b.goto(system.portal_url + "/home")
    await _signed_out_banner(b)
    await assert_accessible(b)

    # Changing the password signs out the other sessions too.
    await sign_in(system, b, email, FIRST_PASSWORD)
    await a.goto(system.portal_url + "/account")
    await a.get_by_role("link", name="Change password").click()
    await expect(a.get_by_role("heading", level=1)).to_have_text("Change your password")
    await assert_accessible(a)
    await a.get_by_label("Current password").fill("not-my-password-at-all")
    await a.get_by_label("New password").fill(SECOND_PASSWORD)
    await a.get_by_role("button", name="Change password").click()
    await expect(a.locator("#current_password-error")).to_contain_text("Your current password is not right")
    await assert_accessible(a)
    await a.get_by_label("Current password").fill(FIRST_PASSWORD)
    await a.get_by_label("New password").fill(SECOND_PASSWORD)
    await a.get_by_role("button", name="Change password").click()
    await expect(a.get_by_role("heading", level=1)).to_have_text("Your account")
    await expect(a.locator(".govuk-notification-banner")).to_contain_text("Your password has been changed")
    await assert_accessible(a)
    await b.goto(system.portal_url + "/home")
    await _signed_out_banner(b)

    # Sign out everywhere ends this browser's session as well as the others.
    await sign_in(system, b, email, SECOND_PASSWORD)
    await a.goto(system.portal_url + "/account/sessions")
    await a.get_by_role("button", name="Sign out everywhere").click()
    await expect(a.get_by_role("heading", level=1)).to_have_text("You have signed out everywhere")
    await assert_accessible(a)
    assert "epep_session" not in {c["name"] for c in await context_a.cookies()}
    await b.goto(system.portal_url + "/home")
    await _signed_out_banner(b)

    assert problems_a == [] and problems_b == []
    await context_a.close()
    await context_b.close()


async def test_an_email_address_is_changed_after_a_code_sent_to_it(system: Any, browser: Browser) -> None:
    email = await new_account(system, str(OAKFIELD), "setting_staff", "Eli", "Email", FIRST_PASSWORD)
    new_email = email.replace("eli.", "eli.new.")
    context, page, problems = await new_page(browser)
    await sign_in(system, page, email, FIRST_PASSWORD)

    await page.goto(system.portal_url + "/account")
    await page.get_by_role("link", name="Change email address").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Change your email address")
    await assert_accessible(page)
    address_code = NextCode(system, new_email)
    await page.get_by_label("New email address").fill(new_email)
    await page.get_by_label("Your password").fill(FIRST_PASSWORD)
    await page.get_by_role("button", name="Continue").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    await expect(page.locator("main")).to_contain_text(new_email)
    await assert_accessible(page)
    await page.get_by_label("Code").fill(await address_code.wait_async())
    await page.get_by_role("button", name="Confirm email address").click()
    await expect(page.locator(".govuk-notification-banner")).to_contain_text("Your email address has been changed")
    await expect(page.locator("main .govuk-summary-list__row", has_text="Email address")).to_contain_text(new_email)
    await assert_accessible(page)

    assert problems == []
    await context.close()


async def test_the_timeout_warning_keeps_people_signed_in_or_signs_them_out(system: Any, browser: Browser) -> None:
    context, page, problems = await new_page(browser)
    await sign_in(system, page, "dt@demo.test", "demo-pass-2026")
    dialog = page.get_by_role("dialog", name="You’re about to be signed out")
    await expect(dialog).to_be_hidden()

    # The server's idle timeout is 20 minutes: pretend it ends in 125 seconds, inside the warning's window.
    await page.evaluate("""() => {
        document.body.dataset.idleExpiresAt = new Date(Date.now() + 125000).toISOString()
        document.body.dataset.warnSeconds = '130'
    }""")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("For your security, we will sign you out in 2 minutes")
    await expect(dialog.get_by_role("heading", name="You’re about to be signed out")).to_be_focused()
    await assert_accessible(page)

    async with page.expect_response(lambda r: r.url.endswith("/session/extend")) as extended:
        await dialog.get_by_role("button", name="Stay signed in").click()
    response = await extended.value
    assert response.status == 200
    clock = await response.json()
    await expect(dialog).to_be_hidden()
    idle_expires_at = await page.evaluate("() => document.body.dataset.idleExpiresAt")
    assert idle_expires_at == clock["idle_expires_at"]
    assert (datetime.fromisoformat(idle_expires_at) - datetime.now(UTC)).total_seconds() > 15 * 60

    # When the time is up and the server agrees the session has ended, we sign out and say why.
    async def session_ended(route: Route) -> None:
        await route.fulfill(status=401, content_type="application/json", body=json.dumps({"signed_in": False}))

    await page.route(re.compile(r"/session$"), session_ended)
    await page.evaluate("() => { document.body.dataset.idleExpiresAt = new Date(Date.now() - 1000).toISOString() }")
    # The signed-out page is told the person's own idle timeout (the demo LA has no rule of its own: 20 minutes).
    await expect(page).to_have_url(re.compile(r"/signed-out\?reason=timeout&after=1200$"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("You have been signed out")
    await expect(page.locator("main")).to_contain_text(
        "We signed you out because you did not do anything for 20 minutes. We did this to keep your information "
        "secure.")
    await assert_accessible(page)
    assert "epep_session" not in {c["name"] for c in await context.cookies()}

    # The browser logs the 401 we made /session answer; nothing else.
    assert [p for p in problems if "401 (Unauthorized)" not in p] == []
    await context.close()


async def test_someone_chooses_their_reminders_once_a_day(system: Any, browser: Browser) -> None:
    email = await new_account(system, str(OAKFIELD), "setting_staff", "Dee", "Digest", FIRST_PASSWORD)
    context, page, problems = await new_page(browser)
    await sign_in(system, page, email, FIRST_PASSWORD)
    await page.goto(f"{system.portal_url}/account")
    row = page.locator(".govuk-summary-list__row", has_text="Reminders by email")
    await expect(row).to_contain_text("As they happen")
    await row.get_by_role("link", name=re.compile("Change")).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("How do you want reminders about your tasks?")
    await assert_accessible(page)
    await page.get_by_label("In one email a day, from 7am").check()
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator(".govuk-notification-banner")).to_contain_text("Your choice of reminders has been saved")
    await expect(row).to_contain_text("In one email a day, from 7am")
    await assert_accessible(page)
    assert problems == []
    await context.close()
