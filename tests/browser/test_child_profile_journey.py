"""A child's profile in the browser: the attendance chart with its figures, case notes (an empty one refused by
name and nothing lost; carers never see them) and the record's recent activity. Every page is checked with
axe-core against WCAG 2.2 AA."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from datetime import date
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, expect
from pypdf import PdfReader

from services.pep.domain.core_data import academic_year_of
from shared import demo
from tests.browser.axe import assert_accessible
from tests.browser.helpers import new_page, sign_in

PASSWORD = "demo-pass-2026"
TERM_START = academic_year_of(date.today())[0]
PERIODS = [(TERM_START.replace(month=9, day=1), TERM_START.replace(month=9, day=30), 40, 38),
           (TERM_START.replace(month=10, day=1), TERM_START.replace(month=10, day=31), 40, 32),
           (TERM_START.replace(month=11, day=1), TERM_START.replace(month=11, day=30), 40, 40)]


def _child_with_attendance(system: Any) -> tuple[str, str]:
    """A new child at Oakfield with Cara as carer and three months of attendance, through the API."""
    caseworker = system.sign_in("caseworker@demo.test")
    family = f"Profile{secrets.token_hex(3)}"
    status, child, _ = system.api("POST", "/api/v1/children", {
        "la_id": str(demo.LA_ID), "given_name": "Quinn", "family_name": family, "date_of_birth": "2016-02-02",
        "setting_id": str(demo.OAKFIELD), "year_group": "Year 5", "carer_ids": [str(demo.account_id("carer"))]},
        cookie=caseworker)
    assert status == 201, child
    for start, end, possible, attended in PERIODS:
        status, body, _ = system.api("POST", f"/api/v1/children/{child['id']}/attendance", {
            "period_start": start.isoformat(), "period_end": end.isoformat(), "possible_sessions": possible,
            "attended_sessions": attended}, cookie=caseworker)
        assert status == 201, body
    system.api("POST", "/api/v1/auth/sign-out", cookie=caseworker)
    return str(child["id"]), f"Quinn {family}"


async def test_a_teacher_reads_attendance_and_keeps_a_note_the_carer_does_not_see(system: Any,
                                                                                 browser: Browser) -> None:
    child_id, name = await asyncio.to_thread(_child_with_attendance, system)
    context, page, problems = await new_page(browser)
    await sign_in(system, page, "dt@demo.test", PASSWORD)
    await page.goto(f"{system.portal_url}/children/{child_id}")
    await expect(page.get_by_role("heading", level=1)).to_have_text(name)

    # The chart is an image with a name and a summary; the figures are in a table too, newest first.
    chart = page.get_by_role("img", name="Attendance by period")
    await expect(chart).to_be_visible()
    await expect(page.locator("figcaption")).to_contain_text("from 80% to 100%; 1 below 90%")
    await page.get_by_text("Attendance figures").click()
    rows = page.locator(".govuk-details table tbody tr")
    await expect(rows).to_have_count(3)
    await expect(rows.first).to_contain_text("40 of 40")
    await expect(rows.nth(1)).to_contain_text("80%")
    # The list after the "Key indicators" heading (the PEP deadlines card comes before it).
    indicators = page.locator("h2:has-text('Key indicators') + .govuk-summary-list")
    await expect(indicators).to_contain_text("91.7%")  # 110 of 120 sessions this year
    await expect(indicators.locator(".govuk-summary-list__row", has_text="PP+ agreed")).to_contain_text("£0.00")
    await assert_accessible(page)

    # An empty note is refused by name; the page keeps everything else.
    await page.get_by_role("button", name="Add note").click()
    summary = page.locator(".govuk-error-summary")
    await expect(summary.get_by_role("link", name="Enter the note")).to_have_attribute("href", "#note")
    await expect(page.get_by_role("img", name="Attendance by period")).to_be_visible()
    await assert_accessible(page)

    words = "Quinn settled well after half term.\nReading with a Year 6 buddy."
    await page.get_by_label("Add a note").fill(words)
    await page.get_by_role("button", name="Add note").click()
    await expect(page.locator(".govuk-notification-banner")).to_contain_text("Note added")
    await expect(page.locator(".app-notes__item").first).to_contain_text("Reading with a Year 6 buddy.")
    await expect(page.locator(".app-notes__item").first).to_contain_text("Dana Teacher")
    activity = page.locator("#activity-table tbody tr")
    await expect(activity.first).to_contain_text("Added a note")
    await expect(activity.first).to_contain_text("Dana Teacher")
    await expect(page.locator("#activity-table")).to_contain_text(
        re.compile(r"Recorded attendance for 1 November \d{4} to 30 November \d{4}"))
    await assert_accessible(page)
    assert problems == []
    await context.close()

    # The carer sees the child and the activity, but neither the notes nor that one was added.
    context, page, problems = await new_page(browser)
    await sign_in(system, page, "carer@demo.test", PASSWORD)
    await page.goto(f"{system.portal_url}/children/{child_id}")
    await expect(page.get_by_role("heading", level=1)).to_have_text(name)
    await expect(page.locator("#activity-table")).to_contain_text("Recorded attendance")
    await expect(page.get_by_role("heading", name="Notes")).to_have_count(0)
    await expect(page.locator("main")).not_to_contain_text("Quinn settled well")
    await expect(page.locator("#activity-table")).not_to_contain_text("Added a note")
    await expect(page.locator("main")).not_to_contain_text("PP+ agreed")  # funding decisions are QA's
    await assert_accessible(page)
    assert problems == []
    await context.close()


async def test_a_virtual_school_admin_sees_who_looked_at_a_record_this_month(system: Any, browser: Browser) -> None:
    child_id, name = await asyncio.to_thread(_child_with_attendance, system)
    context, page, problems = await new_page(browser)
    await sign_in(system, page, "dt@demo.test", PASSWORD)
    await page.goto(f"{system.portal_url}/children/{child_id}")
    await expect(page.get_by_role("heading", level=1)).to_have_text(name)
    await expect(page.get_by_role("link", name="Who has looked at this record")).to_have_count(0)  # VS only
    assert (await page.goto(f"{system.portal_url}/children/{child_id}/access-log")).status == 404
    await context.close()

    context, page, problems = await new_page(browser)
    await sign_in(system, page, "admin@demo.test", PASSWORD)
    await page.goto(f"{system.portal_url}/children/{child_id}")
    await page.get_by_role("link", name="Who has looked at this record").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Who has looked at this record")
    rows = page.locator("#access-table tbody tr")
    dana = rows.filter(has_text="Dana Teacher")
    await expect(dana.filter(has_text="Viewed the child's record").first).to_be_visible()
    await expect(rows.filter(has_text="Dana Teacher").first).to_contain_text("Designated Teacher")
    await expect(rows.filter(has_text="Recorded attendance").first).to_contain_text("Cal Caseworker")
    await assert_accessible(page)
    # Everything held about the child, as a file, for a subject access request; the download is itself logged.
    await page.get_by_role("link", name="Back to").click()
    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="as JSON").click()
    download = await download_info.value
    held = json.loads(Path(await download.path()).read_text())
    assert held["child"]["family_name"] == name.split(" ", 1)[1] and len(held["attendance"]) == 3
    assert set(held["held_by_others"]) == {"delegation", "qa", "notify"}  # each service's part, asked of it
    assert download.suggested_filename.startswith("subject-access-") and "Quinn" not in download.suggested_filename
    async with page.expect_download() as download_info:  # the same, as PDF, to send to whoever asked
        await page.get_by_role("link", name="download as PDF").click()
    pdf = await download_info.value
    text = "".join(p.extract_text() for p in PdfReader(await pdf.path()).pages)
    assert "Subject access export" in text and name.split(" ", 1)[1] in text and "Held by others" in text
    assert pdf.suggested_filename.endswith(".pdf") and "Quinn" not in pdf.suggested_filename
    await page.get_by_role("link", name="Who has looked at this record").click()
    await expect(rows.filter(has_text="Exported everything held (subject access)").first).to_be_visible()
    await page.get_by_label("Only what was looked at, not changed").check()
    await page.get_by_role("button", name="Show").click()
    await expect(rows.filter(has_text="Recorded attendance")).to_have_count(0)
    await expect(rows.filter(has_text="Dana Teacher").first).to_be_visible()
    await assert_accessible(page)
    assert [p for p in problems if "404 (Not Found)" not in p] == []
    await context.close()


async def test_the_privacy_notice_says_who_sees_what_and_for_how_long(system: Any, browser: Browser) -> None:
    context, page, problems = await new_page(browser)
    await page.goto(f"{system.portal_url}/sign-in")
    await page.get_by_role("link", name="Privacy notice").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Privacy notice")
    await expect(page.locator("main")).to_contain_text("75th birthday")
    await assert_accessible(page)
    assert problems == []
    await context.close()
