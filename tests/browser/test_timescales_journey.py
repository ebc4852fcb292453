"""Timescales in the browser: the Demo Virtual School's admin gives the DT 5 working days instead of 10 and sets
term dates (a line that is not a term period is named, and nothing typed is lost), saves, sees the new version
and what changed, and works out the deadlines for a meeting (dates worked out by hand below). Northshire's admin
cannot see Demo's timescales. Every page is checked with axe-core against WCAG 2.2 AA.

The system tests (tests/system/test_timescales.py) read the configuration before changing it, so they do not
depend on what this test leaves.
"""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import Browser, expect

from shared import demo
from tests.browser.axe import assert_accessible
from tests.browser.helpers import new_page, sign_in

PASSWORD = demo.DEMO_PASSWORD
EXPECTED_CONSOLE = re.compile(r"status of 404 \(Not Found\)")  # the "Page not found" page's own status
TERM_DATES = ("Autumn 2027, 2 September 2027, 22 October 2027\n"
              "Autumn 2027, 1/11/2027, 17/12/2027\n"
              "Spring 2028, 2028-01-05, 2028-02-11\n"
              "Spring 2028, 21 Feb 2028, 31 March 2028")


async def test_an_admin_changes_the_timescales_and_works_out_deadlines(system: Any, browser: Browser) -> None:
    url = f"{system.portal_url}/organisations/{demo.LA_ID}/timescales"
    context, page, problems = await new_page(browser)
    await sign_in(system, page, "admin@demo.test", PASSWORD)
    await page.goto(url)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Timescales")
    await expect(page.locator("main")).to_contain_text("Designated Teacher returns the PEP")
    await assert_accessible(page)

    # ---- change: a bad line is named, what was typed is kept ----------------------------------------------
    await page.get_by_role("button", name="Change timescales").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Change timescales")
    await assert_accessible(page)
    rule = page.get_by_role("group", name=re.compile("^Designated Teacher returns the PEP"))
    await rule.get_by_label("Number").fill("5")
    await rule.get_by_label("Counted in").select_option("working_days")
    await page.get_by_label("Term periods").fill("Autumn 2027, 2 September 2027\n" + TERM_DATES)
    await page.get_by_label("Termly deadline dates (optional)").fill("Autumn 2027, 10 December 2027")
    await page.get_by_label("Why are you changing them? (optional)").fill("Schools asked for a week")
    await page.get_by_role("button", name="Save timescales").click()
    summary = page.locator(".govuk-error-summary")
    await expect(summary).to_contain_text("Line 1: enter the term’s name, its first day and its last day")
    await assert_accessible(page)
    await summary.get_by_role("link").first.click()
    await expect(page.get_by_label("Term periods")).to_be_focused()
    await expect(rule.get_by_label("Number")).to_have_value("5")  # kept from the refused save
    await page.get_by_label("Term periods").fill(TERM_DATES)
    await page.get_by_role("button", name="Save timescales").click()

    # ---- the new version and what changed ------------------------------------------------------------------
    await expect(page.locator(".govuk-notification-banner")).to_contain_text(re.compile(r"saved as version \d+"))
    await expect(page.locator(".govuk-summary-list").first).to_contain_text("5 working days after the meeting")
    changes = page.locator("tbody tr").filter(has_text="Schools asked for a week")
    await expect(changes).to_contain_text("Designated Teacher returns the PEP: from 10 working days to 5 working days")
    await expect(changes).to_contain_text("Term dates: added Autumn 2027: 2 September 2027 to 22 October 2027")
    await assert_accessible(page)

    # ---- deadlines for a meeting on Wed 3 November 2027 ------------------------------------------------------
    await page.get_by_role("group", name="PEP meeting date").get_by_label("Day").fill("3")
    await page.get_by_role("group", name="PEP meeting date").get_by_label("Month").fill("11")
    await page.get_by_role("group", name="PEP meeting date").get_by_label("Year").fill("2027")
    await page.get_by_role("button", name="Work out deadlines").click()
    deadlines = page.locator("table", has=page.locator("caption", has_text="Deadlines by version"))
    # 5 working days after Wed 3 Nov 2027: Thu 4 (1), Fri 5 (2), Mon 8 (3), Tue 9 (4), Wed 10 Nov 2027 (5).
    await expect(deadlines.locator("tr", has_text="Designated Teacher returns the PEP")).to_contain_text(
        "10 November 2027")
    await expect(deadlines.locator("tr", has_text="The LA's termly deadline")).to_contain_text("10 December 2027")
    # The meeting is in week 9 of Autumn 2027 (weeks of 30 Aug - the term starts Thu 2 Sep -, 6, 13, 20, 27 Sep,
    # 4, 11, 18 Oct, [half-term] 1 Nov). Spring 2028 starts Wed 5 Jan (Mon 3 Jan is New Year's substitute bank
    # holiday): weeks of 3, 10, 17, 24, 31 Jan, 7 Feb, [half-term] 21 Feb, 28 Feb, 6 Mar: Wed 8 March 2028.
    await expect(deadlines.locator("tr", has_text="Next PEP meeting")).to_contain_text("8 March 2028")
    await assert_accessible(page)

    # ---- a date that is not a date is named --------------------------------------------------------------------
    await page.get_by_role("group", name="PEP meeting date").get_by_label("Month").fill("13")
    await page.get_by_role("button", name="Work out deadlines").click()
    await expect(page.locator(".govuk-error-summary")).to_contain_text("The meeting must be a real date")
    await assert_accessible(page)

    # ---- Northshire's admin cannot see them ------------------------------------------------------------------
    nadia_context, nadia, nadia_problems = await new_page(browser)
    await sign_in(system, nadia, "admin@northshire.test", PASSWORD)
    for path in ("", "/change"):
        response = await nadia.goto(url + path)
        assert response is not None and response.status == 404
        await expect(nadia.get_by_role("heading", level=1)).to_have_text("Page not found")
    await assert_accessible(nadia)

    assert [p for p in problems + nadia_problems if not EXPECTED_CONSOLE.search(p)] == []
    await nadia_context.close()
    await context.close()
