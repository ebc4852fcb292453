"""No approval without QA, in the browser (issue 22, item 1): a caseworker opens a submitted PEP and finds no approve
or return there, only the way to its review (the old action address leads there too); on the review page an
approval with some areas unrated is refused saying why, and so is an Amber one under Redcar & Cleveland's framework;
a PEP rated Green throughout is approved. Every page is checked with axe-core against WCAG 2.2 AA."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from playwright.async_api import Browser, expect

from tests.browser.axe import assert_accessible
from tests.browser.helpers import new_page, sign_in
from tests.browser.test_qa_journey import PASSWORD, _submitted


async def test_a_caseworker_approves_only_from_a_rated_review(system: Any, browser: Browser) -> None:
    pep_id, name, _ = await asyncio.to_thread(_submitted, system)
    context, cw, problems = await new_page(browser)
    await sign_in(system, cw, "caseworker@demo.test", PASSWORD)

    # The PEP page: no approve or return, only the review.
    await cw.goto(f"{system.portal_url}/peps/{pep_id}")
    main = cw.locator("main")
    await expect(main.get_by_role("link", name="Review this PEP")).to_be_visible()
    for words in ("Approve", "Approve the PEP", "Return for changes"):
        await expect(main.get_by_role("button", name=words, exact=True)).to_have_count(0)
        await expect(main.get_by_role("link", name=words, exact=True)).to_have_count(0)
    await expect(main.locator(f'a[href$="/peps/{pep_id}/actions/approve"]')).to_have_count(0)
    await assert_accessible(cw)
    # An old link to the PEP's approve action leads to the review.
    await cw.goto(f"{system.portal_url}/peps/{pep_id}/actions/approve")
    await expect(cw).to_have_url(f"{system.portal_url}/peps/{pep_id}/review")
    await expect(cw.get_by_role("heading", level=1)).to_have_text("Quality assurance")

    # Some areas rated, not all: the approval is refused, saying why, and the PEP stays submitted.
    await cw.get_by_role("group", name="Setting SMART targets").get_by_label("Green", exact=True).check()
    await cw.get_by_role("button", name="Save ratings").click()
    await expect(cw.locator(".govuk-notification-banner")).to_contain_text("Ratings saved")
    await expect(cw.locator("main")).to_contain_text("a PEP is approved only when every area and the PEP overall are "
                                                     "rated, and only with an overall rating of Green")
    await cw.get_by_role("button", name="Approve the PEP").click()
    summary = cw.locator(".govuk-error-summary")
    await expect(summary).to_contain_text("Rate the PEP before approving it")
    await expect(summary.get_by_role("link", name="Rate “Statutory timeframes”")).to_be_visible()
    await expect(summary.get_by_role("link", name="Give the overall rating")).to_be_visible()
    await expect(cw).to_have_title(re.compile("^Error: Quality assurance"))
    await assert_accessible(cw)

    # Every area and overall Amber: Redcar & Cleveland sends it back to the school, it is not approved.
    ambers = cw.get_by_label("Amber", exact=True)
    for i in range(await ambers.count()):
        await ambers.nth(i).check()
    await cw.get_by_role("button", name="Save ratings").click()
    await expect(cw.locator(".govuk-notification-banner")).to_contain_text("Ratings saved")
    await cw.get_by_role("button", name="Approve the PEP").click()
    summary = cw.locator(".govuk-error-summary")
    await expect(summary).to_contain_text("A PEP rated “Amber” cannot be approved")
    await expect(summary.get_by_role("link", name="A PEP rated “Amber” goes back to the school: only Green can be "
                                                   "approved")).to_be_visible()
    await assert_accessible(cw)
    await cw.goto(f"{system.portal_url}/peps/{pep_id}")
    await expect(main.locator(".govuk-tag").first).to_have_text("Submitted")

    # Green throughout: approved from the review.
    await main.get_by_role("link", name="Review this PEP").click()
    # count() does not wait: it must not run before the review page (its last button) has arrived, or it counts
    # the radios of a page still loading and the ratings saved are short of some areas.
    await expect(cw.get_by_role("button", name="Save ratings")).to_be_visible()
    greens = cw.get_by_label("Green", exact=True)
    for i in range(await greens.count()):
        await greens.nth(i).check()
    await cw.get_by_role("button", name="Save ratings").click()
    await expect(cw.locator(".govuk-notification-banner")).to_contain_text("Ratings saved")
    await cw.get_by_role("button", name="Approve the PEP").click()
    await expect(cw.locator(".govuk-notification-banner")).to_contain_text("PEP approved")
    await assert_accessible(cw)
    await cw.goto(f"{system.portal_url}/peps/{pep_id}")
    await expect(main).to_contain_text("Approved")
    await assert_accessible(cw)

    assert problems == [], name
    await context.close()
