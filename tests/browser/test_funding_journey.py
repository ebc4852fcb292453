"""Funding by type in the browser (issue 22, items 3 and 10, Kent's guide): a PEP submitted with a Virtual School PP+
target and a School-funded one. The approver finds the "Approve funding" task in their tray, naming the child, the
target and the amount; "Decide the funding" opens that PEP's request only, in the template's words with its funding
type, its decision's fieldset naming the child, the target and the amount; they approve less than was asked and the
task is done. The PEP page shows each target's funding: the approval, amount and date, and the school funding
recorded. What the school wrote (`<b>` and `&`) shows as written, escaped once. Every page is checked with axe-core
against WCAG 2.2 AA."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from playwright.async_api import Browser, Page, expect

from tests.browser.axe import assert_accessible
from tests.browser.helpers import api_sign_in, new_page, sign_in
from tests.system.test_funding_routes import PP_PLUS, TUTORING, _pep_with_two_funded_targets
from tests.system.test_tasks import eventually, tray

PASSWORD = "demo-pass-2026"
ESCAPED = "&lt;b&gt;Tutoring&lt;/b&gt; &amp; reading"


def _submitted(system: Any) -> tuple[str, str]:
    cookies = {key: api_sign_in(system, f"{key}@demo.test", PASSWORD) for key in ("caseworker", "sw", "dt")}
    child, pep_id = _pep_with_two_funded_targets(system, cookies)
    approver = api_sign_in(system, "approver@demo.test", PASSWORD)
    eventually(lambda: [t for t in tray(system, approver, "current", pep_id) if t["kind"] == "approve_funding"],
               "the approver's task")
    return pep_id, f"{child['given_name']} {child['family_name']}"


async def _escaped_once(page: Page) -> None:
    html = await page.locator("main").inner_html()
    assert ESCAPED in html and "&amp;lt;" not in html and "<b>Tutoring" not in html


async def test_the_approver_decides_pp_plus_from_their_tray_and_the_pep_shows_it(system: Any,
                                                                                browser: Browser) -> None:
    pep_id, name = await asyncio.to_thread(_submitted, system)
    context, page, problems = await new_page(browser)
    await sign_in(system, page, "approver@demo.test", PASSWORD)

    # The tray: the task names the child, the target and the amount.
    await page.get_by_role("link", name="Tasks", exact=True).click()
    row = page.locator("tbody tr", has_text=name)
    await expect(row).to_contain_text(f"Approve funding: Target 1, {TUTORING}: £400.00 asked")
    await expect(row).not_to_contain_text("Homework club")  # school funding is not the Virtual School's to decide
    await _escaped_once(page)
    await assert_accessible(page)
    await row.get_by_role("link", name=re.compile("^Approve funding")).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Approve funding")
    await expect(page.locator("main")).to_contain_text(f"Target 1, {TUTORING}: £400.00 asked")
    await _escaped_once(page)
    await assert_accessible(page)

    # Deciding: that PEP's request only, in the template's words, its fieldset naming whose request it is.
    await page.get_by_role("button", name="Decide the funding").click()  # a link drawn as a button
    await expect(page.get_by_role("heading", level=1)).to_have_text("PP+ funding requests")
    legend = f"Decision on {name}’s target 1, {TUTORING}: £400.00 asked for"
    group = page.get_by_role("group", name=legend, exact=True)
    await expect(group).to_be_visible()
    main = page.locator("main")
    for words in (PP_PLUS, "Academic achievement", "Reading, phonics or literacy intervention"):
        await expect(main).to_contain_text(words)
    for key in ("vs_pp_plus", "academic_achievement", "literacy_intervention"):
        await expect(main).not_to_contain_text(key)
    assert await page.locator("form", has=page.get_by_role("group", name=re.compile("^Decision on"))).count() == 1
    await _escaped_once(page)
    await assert_accessible(page)
    form = page.locator("form", has=group)
    await group.get_by_label("Approve", exact=True).check()
    await form.get_by_label(f"Amount approved for {name}’s target 1").fill("250.00")
    await form.get_by_role("button", name="Record the decision").click()
    await expect(page.locator(".govuk-notification-banner")).to_contain_text("Decision recorded")
    await assert_accessible(page)

    # The task is done (once delegation hears qa's decision): it has left the current tray.
    for _ in range(60):
        await page.goto(f"{system.portal_url}/tasks?tray=submitted")
        if await page.locator("tbody tr", has_text=name).count():
            break
        await asyncio.sleep(0.5)
    await expect(page.locator("tbody tr", has_text=name)).to_contain_text("(approved)")
    await assert_accessible(page)

    # The PEP shows each target's funding: the approval, amount and date; the school funding recorded.
    for _ in range(60):
        await page.goto(f"{system.portal_url}/peps/{pep_id}")
        if "£250.00" in await page.locator("main").inner_text():
            break
        await asyncio.sleep(0.5)
    funding = page.locator("main")
    await expect(page.get_by_role("heading", name="Funding for targets")).to_be_visible()
    await expect(funding).to_contain_text(re.compile(r"Approved\s+£250\.00 on \d{1,2} \w+ \d{4}"))
    await expect(funding).to_contain_text("Recorded in the plan: the Virtual School does not decide it")
    await expect(funding).to_contain_text("School funding")
    await _escaped_once(page)
    await assert_accessible(page)

    assert problems == []
    await context.close()
