"""Children with a PEP in date, in the browser: the VS admin reads the figure at the top of the dashboard, opens the
children behind it (those not in date first, each with why), narrows them to those not in date and downloads
them as CSV, and opens a setting's children from its row in the breakdown. A child who entered care long ago with
no PEP makes sure one is not in date. Every page is checked with axe-core against WCAG 2.2 AA."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, expect

from shared import demo
from tests.browser.axe import assert_accessible
from tests.browser.helpers import api_sign_in, new_page, sign_in

PASSWORD = "demo-pass-2026"


def _a_child_not_in_date(system: Any) -> str:
    """A child at Oakfield who entered care on 4 January 2021 and has no PEP: their initial PEP is long overdue."""
    cookie = api_sign_in(system, "caseworker@demo.test", PASSWORD)
    status, child, _ = system.api("POST", "/api/v1/children", {
        "la_id": str(demo.LA_ID), "given_name": "Robin", "family_name": "Overdue <b> & Co",
        "date_of_birth": "2014-05-01", "setting_id": str(demo.OAKFIELD), "year_group": "Year 7",
        "date_entered_care": "2021-01-04"}, cookie=cookie)
    assert status == 201, child
    return str(child["id"])


async def test_the_virtual_school_opens_the_children_behind_the_in_date_figure(system: Any,
                                                                               browser: Browser) -> None:
    child_id = await asyncio.to_thread(_a_child_not_in_date, system)
    context, page, problems = await new_page(browser)
    await sign_in(system, page, "admin@demo.test", PASSWORD)
    await page.goto(f"{system.portal_url}/dashboard?la_id={demo.LA_ID}")
    await expect(page.get_by_role("heading", name="Children with a PEP in date")).to_be_visible()
    await expect(page.locator("main")).to_contain_text(re.compile(r"\d+ of \d+ children in care have a PEP in date"))
    await assert_accessible(page)

    # The children behind the LA's figure: once delegation has heard of the new child, listed as not in date.
    for _ in range(40):
        await page.goto(f"{system.portal_url}/dashboard?la_id={demo.LA_ID}")
        await page.get_by_role("link", name="See the children behind this figure").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Children with a PEP in date")
        if await page.get_by_role("link", name="Robin Overdue <b> & Co").count():
            break
        await asyncio.sleep(0.5)
    row = page.get_by_role("row", name=re.compile(r"Robin Overdue <b> & Co"))
    await expect(row).to_contain_text("Not in date")
    await expect(row).to_contain_text("Initial PEP, due")
    await expect(row).to_contain_text("after entering care on 4 January 2021")
    await assert_accessible(page)

    # Only those not in date.
    await page.get_by_role("link", name="Show only those not in date").click()
    await expect(page).to_have_url(re.compile(r"not_in_date=yes"))
    await expect(page.get_by_role("row", name=re.compile(r"Robin Overdue"))).to_be_visible()
    assert await page.locator(".govuk-tag--green").count() == 0
    await assert_accessible(page)
    # The same list as CSV: the child's row names the clock, its date and its rule.
    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="Download this list (CSV)").click()
    path = await (await download_info.value).path()
    rows = list(csv.reader(io.StringIO(Path(path).read_bytes().decode("utf-8-sig"))))
    assert rows[0] == ["child", "in_date", "setting", "social_worker", "qa_caseworker", "overdue", "due", "why"]
    mine = [r for r in rows if r[0] == "Robin Overdue <b> & Co"]
    assert mine and mine[0][1] == "no" and mine[0][5] == "Initial PEP" and "4 January 2021" in mine[0][7]
    assert all(r[1] == "no" for r in rows[1:])

    # A setting's children, from its row in the breakdown; the child's name leads to their record.
    await page.get_by_role("link", name="Back to the dashboard").click()
    await page.get_by_text("In date by setting", exact=True).click()
    await page.get_by_role("table", name=re.compile("^In date by setting")).get_by_role(
        "link", name="Oakfield Primary School").click()
    await expect(page).to_have_url(re.compile(rf"group=setting&id={demo.OAKFIELD}"))
    await expect(page.locator(".govuk-caption-l")).to_contain_text("Setting Oakfield Primary School")
    await page.get_by_role("link", name="Robin Overdue <b> & Co").click()
    await expect(page).to_have_url(re.compile(f"/children/{child_id}$"))

    assert problems == []
    await context.close()
