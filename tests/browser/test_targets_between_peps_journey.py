"""A Designated Teacher raises a target between PEPs from the child's profile (issue 22, item 7): the form names
every problem at once, then the target as typed (with `<b>` and `&`, escaped exactly once) is stored by pep with its
PP+ request and listed on the page, waiting for the Virtual School. axe on every page."""

from __future__ import annotations

import asyncio
import secrets
from datetime import date, timedelta
from typing import Any

from playwright.async_api import Browser, expect

from shared import demo
from tests.browser.axe import assert_accessible
from tests.browser.helpers import new_page, sign_in
from tests.browser.test_delegation_journey import PASSWORD

WHAT = "Read <b>aloud</b> & with expression"


def _a_child(system: Any) -> dict[str, Any]:
    caseworker = system.sign_in("caseworker@demo.test")
    status, child, _ = system.api("POST", "/api/v1/children", {
        "la_id": str(demo.LA_ID), "given_name": "Kit", "family_name": f"Between{secrets.token_hex(3)}",
        "date_of_birth": "2016-02-02", "setting_id": str(demo.OAKFIELD), "year_group": "Year 5",
        "social_worker_id": str(demo.account_id("sw"))}, cookie=caseworker)
    assert status == 201, child
    return dict(child)


async def test_a_dt_raises_a_target_between_peps(system: Any, browser: Browser) -> None:
    child = await asyncio.to_thread(_a_child, system)
    context, page, problems = await new_page(browser)
    await sign_in(system, page, "dt@demo.test", PASSWORD)
    await page.goto(f"{system.portal_url}/children/{child['id']}")
    await assert_accessible(page)
    await page.get_by_role("link", name="Add a target between PEPs").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Targets between PEPs")
    await expect(page.locator("main")).to_contain_text("No targets have been raised between PEPs.")
    await assert_accessible(page)

    # Sent empty, every problem is named in the summary and beside its field.
    await page.get_by_role("button", name="Raise the target and ask for PP+").click()
    summary = page.locator(".govuk-error-summary")
    await expect(summary).to_be_visible()
    for message in ("Enter what the target is", "Enter the date it will be achieved by", "Enter how it will be "
                    "achieved", "Choose the area of focus", "Choose the intervention type",
                    "Enter the amount of PP+ asked for"):
        await expect(summary).to_contain_text(message)
    assert await page.title() == "Error: Targets between PEPs – ePEP"
    await assert_accessible(page)

    by_when = date.today() + timedelta(days=40)
    await page.get_by_label("What is the target?").fill(WHAT)
    when = page.get_by_role("group", name="When will this be achieved?")
    await when.get_by_label("Day").fill(str(by_when.day))
    await when.get_by_label("Month").fill(str(by_when.month))
    await when.get_by_label("Year").fill(str(by_when.year))
    await page.get_by_label("How will it be achieved?").fill("Reading club & 1:1 <i>sessions</i>")
    await page.get_by_label("Area of focus").select_option(label="Academic achievement")
    await page.get_by_label("Intervention type").select_option(label="Reading, phonics or literacy intervention")
    await page.get_by_label("Virtual School PP+ asked for").fill("300")
    await page.get_by_role("button", name="Raise the target and ask for PP+").click()
    await expect(page.locator(".govuk-notification-banner")).to_contain_text("Target raised and PP+ asked for")
    await assert_accessible(page)

    # The page shows it as typed, escaped once, waiting for the Virtual School.
    main = page.locator("main")
    await expect(page.get_by_role("heading", name=WHAT)).to_be_visible()
    await expect(main).to_contain_text("Reading club & 1:1 <i>sessions</i>")
    await expect(main).to_contain_text("Waiting for a decision")
    await expect(main).to_contain_text("£300.00")
    html = await main.inner_html()
    assert "Read &lt;b&gt;aloud&lt;/b&gt; &amp; with expression" in html and "&amp;lt;" not in html

    # What pep stored is what was typed.
    cookies = {c["name"]: c["value"] for c in await context.cookies(system.portal_url)}
    cookie = f"epep_session={cookies['epep_session']}"
    status, stored, _ = await asyncio.to_thread(system.api, "GET", f"/api/v1/children/{child['id']}/action-targets",
                                                None, cookie)
    assert status == 200, stored
    [target] = stored["items"]
    assert (target["what"], target["how"], target["by_when"], target["amount"], target["area_of_focus"],
            target["intervention_type"], target["funding_type"], target["decision"]) == (
        WHAT, "Reading club & 1:1 <i>sessions</i>", by_when.isoformat(), "300.00", "academic_achievement",
        "literacy_intervention", "vs_pp_plus", None)
    assert problems == []
    await context.close()
