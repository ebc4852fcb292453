"""Caseload alerts in the browser: a caseworker opens "Initial PEP late", finds a child who entered care by
emergency placement six weeks ago with no PEP, with the date it was due and why; narrows the list to the child's
social worker; and downloads that list as CSV. Every page is checked with axe-core against WCAG 2.2 AA."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import secrets
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, expect

from shared import demo
from shared.workdays import is_working_day
from tests.browser.axe import assert_accessible
from tests.browser.helpers import new_page, sign_in
from tests.support.clock import UK

PASSWORD = "demo-pass-2026"


def _long(day: Any) -> str:
    return f"{day.day} {day:%B %Y}"


def _child_with_a_late_initial_pep(system: Any) -> tuple[str, str, Any]:
    """A child at Oakfield who entered care by emergency placement 6 weeks ago and has no PEP; once delegation
    counts them late: their name and the initial PEP's due date (10 working days on)."""
    caseworker = system.sign_in("caseworker@demo.test")
    entered = datetime.now(UK).date() - timedelta(weeks=6)
    due = entered
    for _ in range(10):
        due += timedelta(days=1)
        while not is_working_day(due):
            due += timedelta(days=1)
    family = f"Latecomer{secrets.token_hex(3)}"
    status, child, _ = system.api("POST", "/api/v1/children", {
        "la_id": str(demo.LA_ID), "given_name": "Jordan", "family_name": family, "date_of_birth": "2014-02-02",
        "setting_id": str(demo.OAKFIELD), "year_group": "Year 7", "social_worker_id": str(demo.account_id("sw")),
        "date_entered_care": entered.isoformat(), "entered_care_emergency": True}, cookie=caseworker)
    assert status == 201, child
    deadline = time.monotonic() + 20
    while True:
        body = system.api("GET", "/api/v1/caseload?category=initial_pep_late", cookie=caseworker)[1]
        if child["id"] in {i["child_id"] for i in body["items"]}:
            break
        assert time.monotonic() < deadline, "delegation never counted the initial PEP late"
        time.sleep(0.2)
    system.api("POST", "/api/v1/auth/sign-out", cookie=caseworker)
    return str(child["id"]), f"Jordan {family}", due


async def test_a_caseworker_lists_late_initial_peps_for_a_social_worker_and_downloads_them(
        system: Any, browser: Browser) -> None:
    child_id, name, due = await asyncio.to_thread(_child_with_a_late_initial_pep, system)
    context, page, problems = await new_page(browser, accept_downloads=True)
    await sign_in(system, page, "caseworker@demo.test", PASSWORD)
    await page.get_by_role("link", name="Caseload", exact=True).click()
    await page.get_by_role("link", name=re.compile(r"\d+ Initial PEP late")).click()
    await expect(page.get_by_role("heading", level=2).first).to_have_text("Initial PEP late")
    row = page.locator("#caseload-table tbody tr", has_text=name)
    await expect(row).to_contain_text(_long(due))
    await expect(row).to_contain_text(f"Initial PEP was due by {_long(due)}: 10 working days after entering care")
    await expect(row).to_contain_text("by emergency placement")
    await assert_accessible(page)

    # Narrowed to the child's social worker from the breakdown: the filter stays on the alert chosen.
    by_worker = page.locator("table", has=page.get_by_role("columnheader", name="Social worker")).last
    await by_worker.get_by_role("link", name="Sam Social-Worker").click()
    await expect(page.get_by_role("heading", level=2).first).to_have_text("Initial PEP late: Sam Social-Worker")
    await expect(page).to_have_url(re.compile(r"category=initial_pep_late.*social_worker_id="))
    await expect(page.locator("#caseload-table tbody tr", has_text=name)).to_be_visible()
    await assert_accessible(page)

    async with page.expect_download() as downloading:
        await page.get_by_role("link", name="Download this list (CSV)").click()
    download = await downloading.value
    assert download.suggested_filename.startswith("caseload-initial_pep_late-")
    raw = Path(await download.path()).read_bytes()
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == ["Child", "School or setting", "Social worker", "PEP meeting", "Alert", "Due", "Reason"]
    [mine] = [r for r in rows[1:] if r[0] == name]
    assert mine[1:6] == ["Oakfield Primary School", "Sam Social-Worker", "", "Initial PEP late", due.isoformat()]
    assert mine[6].startswith(f"Initial PEP was due by {_long(due)}")
    assert all(r[2] == "Sam Social-Worker" and r[4] == "Initial PEP late" for r in rows[1:])
    await expect(page.locator("#caseload-table").get_by_role("link", name=name)).to_have_attribute(
        "href", f"/children/{child_id}")
    assert problems == []
    await context.close()
