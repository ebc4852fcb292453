"""A child's PEP deadlines in the browser: the caseworker opens a child who entered care by emergency placement on
Mon 2 November 2026 and has had no PEP meeting; the "PEP deadlines" card shows the initial PEP due by Mon 16
November 2026 (10 working days: Tue 3, Wed 4, Thu 5, Fri 6, Mon 9, Tue 10, Wed 11, Thu 12, Fri 13, Mon 16), overdue,
with the rule that set it. The carer, who sees the child's page but not their caseload, has no card. Every page is
checked with axe-core against WCAG 2.2 AA."""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

from playwright.async_api import Browser, expect

from shared import demo
from tests.browser.axe import assert_accessible
from tests.browser.helpers import new_page, sign_in

PASSWORD = demo.DEMO_PASSWORD


def _child_in_care_by_emergency(system: Any) -> tuple[str, str]:
    caseworker = system.sign_in("caseworker@demo.test")
    family = f"Clocks{secrets.token_hex(3)}"
    status, child, _ = system.api("POST", "/api/v1/children", {
        "la_id": str(demo.LA_ID), "given_name": "Robin", "family_name": family, "date_of_birth": "2016-02-02",
        "setting_id": str(demo.OAKFIELD), "year_group": "Year 5", "date_entered_care": "2026-11-02",
        "entered_care_emergency": True, "carer_ids": [str(demo.account_id("carer"))]}, cookie=caseworker)
    assert status == 201, child
    # Wait for delegation to hear of the child, so the page has its clocks to show.
    for _ in range(100):
        status, body, _ = system.api("GET", f"/api/v1/children/{child['id']}/clocks", cookie=caseworker)
        if status == 200 and any(c["key"] == "initial_pep" for c in body["clocks"]):
            break
        time.sleep(0.2)
    else:
        raise AssertionError("delegation never heard of the child's date entered care")
    system.api("POST", "/api/v1/auth/sign-out", cookie=caseworker)
    return str(child["id"]), f"Robin {family}"


async def test_the_child_page_shows_pep_deadlines_to_those_who_work_with_the_child(system: Any,
                                                                                  browser: Browser) -> None:
    child_id, name = await asyncio.to_thread(_child_in_care_by_emergency, system)
    context, page, problems = await new_page(browser)
    await sign_in(system, page, "caseworker@demo.test", PASSWORD)
    await page.goto(f"{system.portal_url}/children/{child_id}")
    await expect(page.get_by_role("heading", level=1)).to_have_text(name)
    card = page.locator("#pep-deadlines")
    await expect(card.get_by_role("heading", name="PEP deadlines")).to_be_visible()
    initial = card.locator(".govuk-summary-list__row", has_text="Initial PEP")
    await expect(initial).to_contain_text("Due by 16 November 2026")
    await expect(initial.locator(".govuk-tag")).to_have_text("Overdue")
    await expect(initial).to_contain_text("10 working days after entering care on 2 November 2026 by emergency "
                                          "placement")
    await assert_accessible(page)
    await context.close()
    assert not problems, problems

    context, page, problems = await new_page(browser)
    await sign_in(system, page, "carer@demo.test", PASSWORD)
    await page.goto(f"{system.portal_url}/children/{child_id}")
    await expect(page.get_by_role("heading", level=1)).to_have_text(name)
    await expect(page.locator("#pep-deadlines")).to_have_count(0)
    await assert_accessible(page)
    await context.close()
    assert not problems, problems
