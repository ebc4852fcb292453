"""The Virtual School's dashboard in the browser: the VS admin opens it from the home page, filters it by term and
status, and sees its count of submitted PEPs go up when a school submits one; another LA's admin finds no page.
Every page is checked with axe-core against WCAG 2.2 AA."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from datetime import date
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Page, expect

from shared import demo
from tests.browser.axe import assert_accessible
from tests.browser.helpers import api_sign_in, new_page, sign_in
from tests.system.test_qa import last_working_day_before, submitted_pep

PASSWORD = "demo-pass-2026"


def _submit_one(system: Any) -> None:
    cookies = {key: api_sign_in(system, f"{key}@demo.test", PASSWORD) for key in ("caseworker", "sw", "dt")}
    submitted_pep(system, cookies, last_working_day_before(date.today()))


async def _submitted(page: Page) -> int:
    table = page.get_by_role("table", name="PEPs by status")
    cell = table.locator("tr", has=page.locator("th", has_text=re.compile(r"^Submitted$"))).locator("td")
    return int((await cell.inner_text()).strip())


async def test_the_virtual_school_reads_and_filters_its_dashboard_and_it_follows_a_submission(
        system: Any, browser: Browser) -> None:
    # At least one PEP with a status, a setting and a social worker, whichever tests ran before this one.
    await asyncio.to_thread(_submit_one, system)
    context, page, problems = await new_page(browser)
    await sign_in(system, page, "admin@demo.test", PASSWORD)
    await page.get_by_role("link", name="Virtual School dashboard").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Virtual School dashboard")
    for caption in ("PEPs by status", "PP+ approved by area of focus", "Quality assurance turnaround",
                    "PP+ approved per setting by financial year"):
        await expect(page.get_by_role("table", name=re.compile(f"^{re.escape(caption)}"))).to_be_visible()
    # The ratings by term: a chart with its name and summary, and the table beside it.
    chart = page.get_by_role("img", name="Latest ratings by term")
    if await page.get_by_text("No PEPs rated yet.").count() == 0:
        await expect(chart).to_be_visible()
        await expect(page.get_by_role("table", name="Latest ratings by term, oldest first")).to_be_visible()
    # Each table with figures has its chart beside it; the setting, social worker and caseworker pickers list names.
    await expect(page.get_by_role("img", name="PEPs by status")).to_be_visible()
    await expect(page.get_by_role("table", name=re.compile("^PEPs due, overdue and completed"))).to_be_visible()
    await expect(page.get_by_role("table", name="PEPs by the child's attendance this academic year")).to_be_visible()
    for label in ("Setting", "Social worker", "QA caseworker"):
        texts = await page.get_by_label(label, exact=True).locator("option").all_inner_texts()
        assert texts[0].startswith("Any"), texts
        assert not any(re.fullmatch(r"(Setting|Account) [0-9a-f-]{36}", t.strip()) for t in texts), texts
    assert len(await page.get_by_label("Setting", exact=True).locator("option").all_inner_texts()) > 1
    await expect(page.get_by_role("link", name="Quality assurance", exact=True)).to_be_visible()
    await assert_accessible(page)
    before = await _submitted(page)

    # Each table downloads as CSV, through the portal, with the same figures.
    async with page.expect_download() as download_info:
        await page.get_by_role("link", name=re.compile(r"^Download as CSV\W+PEPs by status$")).click()
    download = await download_info.value
    path = await download.path()
    raw = Path(path).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the byte order mark spreadsheets need to read UTF-8
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == ["status", "label", "peps"]
    assert next(int(r[2]) for r in rows if r[0] == "submitted") == before

    # The filters narrow what is counted and stay chosen.
    await page.get_by_label("Term", exact=True).select_option("autumn")
    await page.get_by_label("PEP status", exact=True).select_option("submitted")
    await page.get_by_role("button", name="Show figures").click()
    await expect(page).to_have_url(re.compile(r"term=autumn.*status=submitted"))
    await expect(page.locator("main")).to_contain_text("match these filters")
    await expect(page.get_by_label("Term", exact=True)).to_have_value("autumn")
    await assert_accessible(page)

    # Key stage and latest rating narrow it too, and stay chosen.
    await page.get_by_label("Key stage", exact=True).select_option("KS2")
    await page.get_by_label("Latest rating", exact=True).select_option("gold")
    await page.get_by_role("button", name="Show figures").click()
    await expect(page).to_have_url(re.compile(r"key_stage=KS2.*rating=gold"))
    await expect(page.get_by_label("Latest rating", exact=True)).to_have_value("gold")
    await expect(page.locator("main")).to_contain_text(re.compile(r"\d+ PEPs match these filters"))
    await expect(page.get_by_label("Key stage", exact=True)).to_have_value("KS2")
    await assert_accessible(page)

    # A school submits a PEP: once qa has heard, the dashboard counts it.
    await asyncio.to_thread(_submit_one, system)
    await page.goto(f"{system.portal_url}/dashboard?la_id={demo.LA_ID}")
    for _ in range(40):
        if await _submitted(page) == before + 1:
            break
        await asyncio.sleep(0.5)
        await page.reload()
    assert await _submitted(page) == before + 1

    # Northshire's Virtual School has no page for Demo's dashboard.
    other_context, other, _ = await new_page(browser)
    await sign_in(system, other, "admin@northshire.test", PASSWORD)
    await other.goto(f"{system.portal_url}/dashboard?la_id={demo.LA_ID}")
    await expect(other.get_by_role("heading", level=1)).to_have_text("Page not found")
    await assert_accessible(other)

    assert problems == []
    for c in (context, other_context):
        await c.close()
