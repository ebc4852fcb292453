"""Signing in through the portal in a real browser, against the whole running system.

Every page on the way is checked with axe-core against WCAG 2.2 AA; no page may log a console error
(a Content-Security-Policy that blocked GOV.UK Frontend's scripts would show up here).
"""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import Browser, expect

from tests.browser.axe import assert_accessible, assert_accessible_without_javascript
from tests.browser.helpers import NextCode, new_page, submit_sign_in

DT_EMAIL, DT_PASSWORD = "dt@demo.test", "demo-pass-2026"


async def test_a_designated_teacher_signs_in_with_an_emailed_code_and_signs_out(system: Any, browser: Browser) -> None:
    context, page, problems = await new_page(browser)

    await page.goto(system.portal_url + "/")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Personal Education Plans")
    await assert_accessible(page)

    await page.get_by_role("button", name="Start now").click()
    await expect(page).to_have_url(re.compile(r"/sign-in$"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    await assert_accessible(page)

    next_code = NextCode(system, DT_EMAIL)
    await submit_sign_in(page, DT_EMAIL, DT_PASSWORD)
    await expect(page).to_have_url(re.compile(r"/sign-in/code$"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    await expect(page.get_by_text(f"we’ve sent a code to {DT_EMAIL}")).to_be_visible()
    code_box = page.get_by_label("Code")
    await expect(code_box).to_have_attribute("inputmode", "numeric")
    await expect(code_box).to_have_attribute("autocomplete", "one-time-code")
    await assert_accessible(page)

    code = await next_code.wait_async()
    await code_box.fill(code)  # as emailed, "1234 5678", with its space
    await page.get_by_role("button", name="Continue").click()

    await expect(page).to_have_url(re.compile(r"/home$"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Signed in as Dana Teacher")
    main = page.locator("main")
    await expect(main).to_contain_text(DT_EMAIL)
    setting = main.locator(".govuk-summary-list__row", has_text="Oakfield Primary School")
    await expect(setting).to_contain_text("Designated Teacher")
    await assert_accessible(page)

    cookies = {c["name"]: c for c in await context.cookies()}
    assert cookies["epep_session"]["httpOnly"] and cookies["epep_session"]["sameSite"] == "Lax"
    assert "epep_sign_in" not in cookies, "the sign-in attempt is forgotten once signed in"

    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("You have signed out")
    await assert_accessible(page)
    assert "epep_session" not in {c["name"] for c in await context.cookies()}

    await page.goto(system.portal_url + "/home")
    await expect(page).to_have_url(re.compile(r"/sign-in$"))

    assert problems == []
    await context.close()


async def test_a_wrong_code_is_shown_in_an_error_summary_linked_to_the_field(system: Any, browser: Browser) -> None:
    context, page, problems = await new_page(browser)
    await page.goto(system.portal_url + "/sign-in")
    next_code = NextCode(system, DT_EMAIL)
    await submit_sign_in(page, DT_EMAIL, DT_PASSWORD)
    await expect(page).to_have_url(re.compile(r"/sign-in/code$"))
    right = await next_code.wait_async()
    wrong = f"{(int(right.replace(' ', '')) + 1) % 10**8:08d}"

    await page.get_by_label("Code").fill(wrong)
    await page.get_by_role("button", name="Continue").click()

    summary = page.locator(".govuk-error-summary")
    await expect(summary).to_be_visible()
    await expect(summary).to_be_focused()  # GOV.UK Frontend moves focus to the summary
    link = summary.get_by_role("link", name=re.compile("The code is not right"))
    await expect(link).to_have_attribute("href", "#code")
    await expect(page.locator("#code-error")).to_contain_text("The code is not right")
    await expect(page).to_have_title(re.compile(r"^Error: "))
    await assert_accessible(page)

    await link.click()
    await expect(page.get_by_label("Code")).to_be_focused()

    # The right code still works after a wrong one.
    await page.get_by_label("Code").fill(right)
    await page.get_by_role("button", name="Continue").click()
    await expect(page).to_have_url(re.compile(r"/home$"))

    assert problems == []
    await context.close()


async def test_signing_in_works_without_javascript(system: Any, browser: Browser) -> None:
    context, page, _ = await new_page(browser, java_script_enabled=False)
    await page.goto(system.portal_url + "/sign-in")

    await page.get_by_role("button", name="Continue").click()
    summary = page.locator(".govuk-error-summary")
    await expect(summary.get_by_role("link", name="Enter your email address")).to_have_attribute("href", "#email")
    await expect(summary.get_by_role("link", name="Enter your password")).to_have_attribute("href", "#password")
    await assert_accessible_without_javascript(page)

    # Kept: the email. Never sent back: the password.
    await page.get_by_label("Email address").fill("nobody@demo.test")
    await page.get_by_role("button", name="Continue").click()
    await expect(page.get_by_label("Email address")).to_have_value("nobody@demo.test")
    await expect(page.locator("#password-error")).to_contain_text("Enter your password")
    await expect(page.get_by_label("Password", exact=True)).to_have_value("")

    # An unknown account gets the same answer as a real one: the code page, worded "if".
    await submit_sign_in(page, "nobody@demo.test", "not-the-password")
    await expect(page).to_have_url(re.compile(r"/sign-in/code$"))
    await expect(page.get_by_text("If your email address and password are right")).to_be_visible()
    await assert_accessible_without_javascript(page)
    await context.close()
