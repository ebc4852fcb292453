"""Two-level QA in the browser (issue 22, items 6 and 4): with the LA's second level on, the caseworker's approval
leaves the PEP waiting; the approver finds "Second QA review" in their tray, opens the task, makes the second
review from it (the first reviewer's rating already chosen, an error when returning without a reason) and approves
the PEP. The DT then sees the rating on their home page and on the child's profile, and reads what each rating
means on the review. Every page is checked with axe-core against WCAG 2.2 AA."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from playwright.async_api import Browser, expect

from tests.browser.axe import assert_accessible
from tests.browser.helpers import api_sign_in, new_page, sign_in
from tests.system.qa_steps import rate_fully
from tests.system.test_qa import LA, last_working_day_before, queued, submitted_pep
from tests.system.test_tasks import eventually

PASSWORD = "demo-pass-2026"


def _two_level(system: Any, on: bool) -> None:
    admin = api_sign_in(system, "admin@demo.test", PASSWORD)
    status, body, _ = system.api("PUT", f"/api/v1/organisations/{LA}/qa-framework", {"two_level": on}, cookie=admin)
    assert status == 200 and body["two_level"] is on, body


def _first_review_done(system: Any) -> tuple[str, str, str]:
    """A submitted PEP the caseworker rated Green throughout and approved at the first review."""
    cookies = {key: api_sign_in(system, f"{key}@demo.test", PASSWORD) for key in ("caseworker", "sw", "dt")}
    child, pep_id = submitted_pep(system, cookies, last_working_day_before(date.today()))
    cw = cookies["caseworker"]
    eventually(lambda: queued(system, cw, pep_id), "the PEP reaches the QA queue")
    rate_fully(system, cw, pep_id)
    status, body, _ = system.api("POST", f"/api/v1/peps/{pep_id}/review/decide", {"outcome": "approve"}, cookie=cw)
    assert status == 200 and body["waiting_for"] == "second_review", body
    return pep_id, f"{child['given_name']} {child['family_name']}", child["id"]


async def test_the_approver_makes_the_second_review_from_their_tray(system: Any, browser: Browser) -> None:
    await asyncio.to_thread(_two_level, system, True)
    try:
        await _journey(system, browser)
    finally:
        await asyncio.to_thread(_two_level, system, False)


async def _journey(system: Any, browser: Browser) -> None:
    pep_id, name, child_id = await asyncio.to_thread(_first_review_done, system)

    # The caseworker's queue says the PEP waits for the second review.
    cw_context, cw, cw_problems = await new_page(browser)
    await sign_in(system, cw, "caseworker@demo.test", PASSWORD)
    await cw.goto(f"{system.portal_url}/qa")
    row = cw.locator("tbody tr", has_text=name)
    await expect(row).to_contain_text("Second review (a Virtual School approver)")
    await assert_accessible(cw)

    # The approver's tray has the task (once delegation hears of the first review).
    ap_context, ap, ap_problems = await new_page(browser)
    await sign_in(system, ap, "approver@demo.test", PASSWORD)
    task = ap.locator("tbody tr", has_text=name).get_by_role("link", name="Second QA review")
    for _ in range(40):
        await ap.goto(f"{system.portal_url}/tasks")
        if await task.count():
            break
        await asyncio.sleep(0.5)
    await expect(task).to_be_visible()
    await assert_accessible(ap)
    await task.click()
    await expect(ap.get_by_role("heading", level=1)).to_have_text("Second QA review")
    await expect(ap.locator("main")).to_contain_text("Cal Caseworker")  # from the first reviewer
    await assert_accessible(ap)
    await ap.get_by_role("button", name="Make the second review").click()
    await expect(ap.get_by_role("heading", name="Second review")).to_be_visible()
    await expect(ap.locator("main")).to_contain_text("Approved by Cal Caseworker")
    second = ap.locator("form", has=ap.locator("input[name='level'][value='second']"))
    rating = ap.get_by_role("group", name="Overall rating")
    await expect(rating.get_by_label("Green", exact=True)).to_be_checked()  # the first reviewer's rating
    await assert_accessible(ap)

    # Returning needs a reason: the error links to its box, and nothing is decided.
    await second.get_by_role("button", name="Return to the school").click()
    await expect(ap.locator(".govuk-error-summary").get_by_role(
        "link", name="Say what the school needs to change")).to_have_attribute("href", "#second-reason")
    await assert_accessible(ap)

    await ap.get_by_label("Note (optional)").fill("Agreed <b>&</b> well evidenced")
    await ap.get_by_role("button", name="Approve the PEP").click()
    await expect(ap.locator(".govuk-notification-banner")).to_contain_text("PEP approved")
    await expect(ap.locator("main .govuk-tag--yellow").first).to_have_text("Gold")
    await expect(ap.locator("main")).to_contain_text("Agreed <b>&</b> well evidenced")
    await expect(ap.get_by_role("heading", name="Second review")).to_have_count(0)
    await assert_accessible(ap)

    # The DT sees the rating on their home page and the child's profile, and what each rating means.
    dt_context, dt, dt_problems = await new_page(browser)
    await sign_in(system, dt, "dt@demo.test", PASSWORD)
    rated = dt.locator("#ratings ~ table tbody tr", has_text=name)
    for _ in range(40):
        await dt.goto(f"{system.portal_url}/home")
        if await rated.count():
            break
        await asyncio.sleep(0.5)
    await expect(rated).to_contain_text("Gold")
    await assert_accessible(dt)
    await dt.goto(f"{system.portal_url}/children/{child_id}")
    await expect(dt.locator("main table").first.locator("tbody tr").first).to_contain_text("Gold")
    await assert_accessible(dt)
    await dt.goto(f"{system.portal_url}/peps/{pep_id}/review")
    await dt.locator("summary", has_text="What each rating means").click()
    await expect(dt.locator("details", has_text="What each rating means")).to_contain_text("All targets are SMART")
    await expect(dt.get_by_role("button", name="Approve the PEP")).to_have_count(0)
    await assert_accessible(dt)

    assert cw_problems == [] and ap_problems == [] and dt_problems == []
    for context in (cw_context, ap_context, dt_context):
        await context.close()
