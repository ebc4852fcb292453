"""Quality assurance in the browser, issue 7's "Done when" as a new user would try it: a caseworker finds a submitted
PEP in the QA queue from their home page, rates it by the LA's framework (each area with its descriptors) Amber with
feedback, is told a return needs a reason, and returns it to the school; the DT reads the ratings beside the PEP and
finds the amend task showing the feedback, and resubmits; the caseworker rates it Green within 5 working days of the
meeting and it shows Gold; the dashboard, filtered to that caseworker by name, counts one more Gold; an approver
approves part of a PP+ request and the child's PP+ total follows. Every page is checked with axe-core against
WCAG 2.2 AA."""

from __future__ import annotations

import asyncio
import re
from datetime import date
from typing import Any

from playwright.async_api import Browser, Page, expect

from shared import demo
from tests.browser.axe import assert_accessible
from tests.browser.helpers import api_sign_in, new_page, sign_in
from tests.system.test_qa import last_working_day_before, submitted_pep
from tests.system.test_tasks import eventually, tray

PASSWORD = "demo-pass-2026"


def _submitted(system: Any) -> tuple[str, str, str]:
    cookies = {key: api_sign_in(system, f"{key}@demo.test", PASSWORD) for key in ("caseworker", "sw", "dt")}
    child, pep_id = submitted_pep(system, cookies, last_working_day_before(date.today()))
    return pep_id, f"{child['given_name']} {child['family_name']}", child["id"]


def _amend_task(system: Any, pep_id: str) -> str:
    dt = api_sign_in(system, "dt@demo.test", PASSWORD)
    return str(eventually(lambda: [t for t in tray(system, dt, "current", pep_id) if t["kind"] == "amend"],
                          "the DT's amend task")[0]["id"])


async def _gold(page: Page) -> int:
    """The Gold count in the dashboard's "as shown on each PEP" table (0 when no row)."""
    table = page.get_by_role("table", name="Latest ratings, as shown on each PEP")
    # count() does not wait: the URL changes before the page has arrived, so wait for the table itself first.
    await expect(table).to_be_visible()
    row = table.locator("tr", has=page.locator("th", has_text=re.compile(r"^Gold$")))
    return int((await row.locator("td").inner_text()).strip()) if await row.count() else 0


async def test_a_caseworker_rates_and_returns_a_pep_and_an_approver_decides_its_funding(system: Any,
                                                                                      browser: Browser) -> None:
    pep_id, name, child_id = await asyncio.to_thread(_submitted, system)
    cw_context, cw, cw_problems = await new_page(browser)
    await sign_in(system, cw, "caseworker@demo.test", PASSWORD)
    # Quality assurance is in the Virtual School's navigation; the dashboard counts this caseworker's Gold PEPs.
    await expect(cw.get_by_role("link", name="Quality assurance", exact=True)).to_be_visible()
    caseworker = str(demo.account_id("caseworker"))
    await cw.goto(f"{system.portal_url}/dashboard?caseworker_id={caseworker}")
    gold_before = await _gold(cw)
    await cw.goto(f"{system.portal_url}/home")
    await cw.get_by_role("link", name="PEPs awaiting quality assurance").click()
    await expect(cw.get_by_role("heading", level=1)).to_have_text("PEPs awaiting quality assurance")
    row = cw.locator("tbody tr", has_text=name)
    await expect(row).to_contain_text("Not started", timeout=20_000)  # once qa hears of the submission
    await assert_accessible(cw)
    await row.get_by_role("link").click()
    await expect(cw.get_by_role("heading", level=1)).to_have_text("Quality assurance")
    targets = cw.get_by_role("group", name="Setting SMART targets")
    await expect(targets).to_contain_text("All targets are SMART")  # each grade with its descriptor
    await assert_accessible(cw)

    await targets.get_by_label("Amber", exact=True).check()
    await cw.get_by_label("Feedback on Setting SMART targets (optional)").fill("Make target 1 measurable")
    await cw.get_by_role("group", name="Overall rating").get_by_label("Amber", exact=True).check()
    await cw.get_by_role("button", name="Save ratings").click()
    await expect(cw.locator(".govuk-notification-banner")).to_contain_text("Ratings saved")
    targets = cw.get_by_role("group", name="Setting SMART targets")
    await expect(targets.get_by_label("Amber", exact=True)).to_be_checked()
    await assert_accessible(cw)
    # A return needs a reason; the error links to its box.
    await cw.get_by_role("button", name="Return to the school").click()
    await expect(cw.locator(".govuk-error-summary").get_by_role(
        "link", name="Say what the school needs to change")).to_have_attribute("href", "#reason")
    await assert_accessible(cw)
    await cw.get_by_label("What does the school need to change?").fill("Please make the targets measurable")
    await cw.get_by_role("button", name="Return to the school").click()
    await expect(cw.locator(".govuk-notification-banner")).to_contain_text("PEP returned to the school")
    await expect(cw.locator("main")).to_contain_text("Returned to the school")
    await assert_accessible(cw)

    # The DT reaches the review from the PEP page and reads the ratings and feedback.
    dt_context, dt, dt_problems = await new_page(browser)
    await sign_in(system, dt, "dt@demo.test", PASSWORD)
    await dt.goto(f"{system.portal_url}/peps/{pep_id}")
    await dt.get_by_role("link", name="See the Virtual School’s review").click()
    await expect(dt.locator("main")).to_contain_text("Make target 1 measurable")
    await expect(dt.get_by_role("button", name="Save ratings")).to_have_count(0)
    await assert_accessible(dt)

    # The DT's amend task, from their tasks, shows what QA asked for; the DT resubmits the PEP.
    task_id = await asyncio.to_thread(_amend_task, system, pep_id)
    await dt.get_by_role("link", name="Tasks", exact=True).click()
    await dt.locator(f'a[href="/tasks/{task_id}"]').first.click()
    await expect(dt.locator("main")).to_contain_text("What QA asked for:")
    await expect(dt.locator("main")).to_contain_text("Make target 1 measurable")
    await assert_accessible(dt)
    await dt.goto(f"{system.portal_url}/peps/{pep_id}/sign-off")
    await dt.get_by_role("button", name="Submit contribution").click()
    await expect(dt.locator(".govuk-notification-banner")).to_contain_text("PEP submitted")

    # The caseworker rates the resubmission Green in every area and overall, and approves it: Gold.
    await cw.get_by_role("link", name="Quality assurance", exact=True).click()
    row = cw.locator("tbody tr", has_text=name)
    await expect(row).to_contain_text("Not started", timeout=20_000)  # once qa hears of the resubmission
    await row.get_by_role("link").click()
    # count() does not wait: it must not run before the review page (its last button) has arrived, or it counts
    # the radios of a page still loading and the ratings saved are short of some areas.
    await expect(cw.get_by_role("button", name="Save ratings")).to_be_visible()
    greens = cw.get_by_label("Green", exact=True)
    for i in range(await greens.count()):
        await greens.nth(i).check()
    await cw.get_by_role("button", name="Save ratings").click()
    await expect(cw.locator(".govuk-notification-banner")).to_contain_text("Ratings saved")
    await cw.get_by_role("button", name="Approve the PEP").click()
    # The banner and the grade's tag, not just the word "Gold" (the page always explains when a PEP is rated
    # Gold): the approval has landed before the dashboard is opened, which could otherwise overtake it.
    await expect(cw.locator(".govuk-notification-banner")).to_contain_text("PEP approved")
    await expect(cw.locator("main .govuk-tag--yellow").first).to_have_text("Gold")
    await assert_accessible(cw)
    # The dashboard, filtered to this caseworker by name, counts one more Gold.
    await cw.goto(f"{system.portal_url}/dashboard")
    await cw.get_by_label("QA caseworker", exact=True).select_option(label="Cal Caseworker")
    await cw.get_by_role("button", name="Show figures").click()
    await expect(cw).to_have_url(re.compile(f"caseworker_id={caseworker}"))
    assert await _gold(cw) == gold_before + 1
    await expect(cw.get_by_role("img", name="Latest ratings, as shown on each PEP")).to_be_visible()
    await assert_accessible(cw)

    # An approver approves part of the PEP's PP+ request.
    ap_context, ap, ap_problems = await new_page(browser)
    await sign_in(system, ap, "approver@demo.test", PASSWORD)
    await ap.get_by_role("link", name="PP+ funding requests").click()
    await expect(ap.get_by_role("heading", level=1)).to_have_text("PP+ funding requests")
    form = ap.locator("form", has=ap.get_by_role("group", name=re.compile(f"^Decision on {re.escape(name)}"))).first
    await expect(form).to_be_visible(timeout=20_000)
    await assert_accessible(ap)
    await form.get_by_label("Approve", exact=True).check()
    await form.get_by_label("Amount approved").fill("99.00")
    await form.get_by_role("button", name="Record the decision").click()
    await expect(ap.locator(".govuk-error-summary")).to_contain_text("at most")  # more than was asked
    await assert_accessible(ap)
    form = ap.locator("form", has=ap.get_by_role("group", name=re.compile(f"^Decision on {re.escape(name)}"))).first
    await form.get_by_label("Approve", exact=True).check()
    await form.get_by_label("Amount approved").fill("15.00")
    await form.get_by_role("button", name="Record the decision").click()
    await expect(ap.locator(".govuk-notification-banner")).to_contain_text("Decision recorded")
    await ap.get_by_role("link", name=re.compile("^Approved")).click()
    await expect(ap.locator("main")).to_contain_text("£15.00")
    await assert_accessible(ap)
    # The child's profile shows the PP+ agreed (once pep hears qa's decision).
    for _ in range(40):
        await ap.goto(f"{system.portal_url}/children/{child_id}")
        if "£15.00" in await ap.locator("main").inner_text():
            break
        await asyncio.sleep(0.5)
    await expect(ap.locator("main")).to_contain_text("£15.00")

    assert cw_problems == [] and dt_problems == [] and ap_problems == []
    for context in (cw_context, dt_context, ap_context):
        await context.close()


async def test_the_vs_admin_finds_the_pp_plus_allocation_and_termly_payment(system: Any, browser: Browser) -> None:
    context, page, problems = await new_page(browser)
    await sign_in(system, page, "admin@demo.test", PASSWORD)
    await page.get_by_role("link", name="PP+ funding requests").click()
    await page.get_by_role("link", name="PP+ allocation and termly payments").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("PP+ allocation and termly payments")
    allocation = await page.get_by_label("PP+ allocation per child per financial year").input_value()
    await assert_accessible(page)
    # Not money: the error links to the box; nothing changes.
    await page.get_by_label("Automatic termly payment per child (optional)").fill("lots")
    await page.get_by_role("button", name="Save PP+ settings").click()
    await expect(page.locator(".govuk-error-summary").get_by_role("link")).to_have_attribute("href",
                                                                                           "#termly-payment")
    await assert_accessible(page)
    # Saved as it was (no termly payment, so the demo LA pays nothing automatically).
    await page.get_by_label("Automatic termly payment per child (optional)").fill("")
    await page.get_by_role("button", name="Save PP+ settings").click()
    await expect(page.locator(".govuk-notification-banner")).to_contain_text("PP+ settings saved")
    await expect(page.get_by_label("PP+ allocation per child per financial year")).to_have_value(allocation)
    await assert_accessible(page)
    assert problems == []
    await context.close()
