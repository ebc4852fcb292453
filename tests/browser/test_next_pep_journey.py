"""Finalising rolls into the next PEP, in the browser (issue 22, item 5): the social worker finalises an approved
PEP whose meeting section agreed the next meeting; the finalised PEP reads as finished (every section Completed,
nothing "In progress", "Check carried answers" or "Not started", on the task list and on a section's page); the
child's page says when the next PEP is due and the next PEP shows the agreed date, time and venue without anyone
typing them again. The PEP is written and approved through the API first (tests/system/test_next_pep.py); every
page visited is checked with axe-core against WCAG 2.2 AA."""

from __future__ import annotations

import asyncio
import re
from datetime import date, timedelta
from typing import Any

from playwright.async_api import Browser, expect

from services.portal.pep_forms import long_date
from shared import demo
from tests.browser.axe import assert_accessible
from tests.browser.helpers import new_page, sign_in
from tests.system.test_next_pep import approved_with

VENUE = "Oakfield <b>Library</b> & Hall"  # shown as typed: escaped once, never bold


def _approved(system: Any, when: date) -> tuple[dict[str, Any], str]:
    cookies = {who: system.sign_in(f"{who}@demo.test") for who in ("caseworker", "sw", "dt")}
    return approved_with(system, cookies, {"next_meeting_date": when.isoformat(), "next_meeting_time": "14:00",
                                           "next_meeting_venue": VENUE})


async def test_a_finalised_pep_reads_as_finished_and_the_next_one_has_the_agreed_meeting(
        system: Any, browser: Browser) -> None:
    when = date.today() + timedelta(days=21)
    child, pep_id = await asyncio.to_thread(_approved, system, when)
    portal = system.portal_url
    context, page, problems = await new_page(browser)
    try:
        await sign_in(system, page, "sw@demo.test", demo.DEMO_PASSWORD)

        # The social worker finalises the approved PEP from its page.
        await page.goto(f"{portal}/peps/{pep_id}")
        await assert_accessible(page)
        await page.get_by_role("button", name="Finalise").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Finalise the PEP")
        await assert_accessible(page)
        await page.get_by_role("button", name="Finalise").click()
        await expect(page).to_have_url(re.compile(rf"/peps/{pep_id}\?done=finalise$"))
        await expect(page.get_by_text("PEP finalised")).to_be_visible()

        # Finished: every section Completed, none in progress, to check or not started.
        sections = page.locator(".govuk-task-list__item")
        statuses = page.locator(".govuk-task-list__status")
        await expect(statuses).to_have_count(await sections.count())
        assert await sections.count() > 0
        assert set(await statuses.all_inner_texts()) == {"Completed"}
        tasks = page.locator(".govuk-task-list")
        for unfinished in ("In progress", "Check carried answers", "Not started"):
            await expect(tasks).not_to_contain_text(unfinished)
        await assert_accessible(page)
        await page.get_by_role("link", name="View Personal, care and health information").click()
        await expect(page.locator("main")).not_to_contain_text("carried forward from the last PEP")
        await assert_accessible(page)

        # The child's page: the next PEP is due on the agreed date, and listed with it.
        await page.goto(f"{portal}/children/{child['id']}")
        due = long_date(when.isoformat())
        await expect(page.locator(".govuk-summary-list__row", has_text="Next PEP due")).to_contain_text(due)
        row = page.locator("tr", has=page.get_by_role("link", name=re.compile("^Termly review")))
        await expect(row).to_contain_text(due)
        await expect(row).to_contain_text("Not started")
        await assert_accessible(page)

        # The next PEP: its meeting is the agreed one, date, time and venue.
        await row.get_by_role("link").click()
        meeting_row = page.locator(".govuk-summary-list__row").filter(
            has=page.locator(".govuk-summary-list__key", has_text=re.compile(r"^\s*Meeting\s*$")))
        await expect(meeting_row).to_contain_text(due)
        # and the LA's deadlines count from it: the school's return date, for one.
        await expect(page.locator(".govuk-summary-list__row", has_text="Designated Teacher returns the PEP")
                     ).to_contain_text(f"after the meeting on {due}")
        await assert_accessible(page)
        await page.get_by_role("link", name="View The PEP meeting").click()
        main = page.locator("main")
        await expect(main).to_contain_text(due)
        await expect(main).to_contain_text("14:00")
        await expect(main.get_by_text(VENUE, exact=True)).to_be_visible()
        assert await main.locator("b", has_text="Library").count() == 0
        await assert_accessible(page)
        assert problems == []
    finally:
        await context.close()
