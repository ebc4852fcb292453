"""Delegation in the browser: a caseworker delegates two sections of a PEP to the school, the date set by the
LA's timescale; the Designated Teacher finds the task in their tray and opens the PEP, where only they can
change those sections; the caseworker retracts it with a reason, which the DT sees. Every page is checked
with axe-core against WCAG 2.2 AA."""

from __future__ import annotations

import asyncio
import re
import secrets
from datetime import date, timedelta
from typing import Any

from playwright.async_api import Browser, expect

from services.pep.domain.core_data import academic_year_label
from shared import demo
from tests.browser.axe import assert_accessible
from tests.browser.helpers import NextCode, new_page, sign_in, submit_sign_in

PASSWORD = "demo-pass-2026"


def _pep_for_a_new_child(system: Any) -> tuple[str, str]:
    caseworker = system.sign_in("caseworker@demo.test")
    family = f"Delegate{secrets.token_hex(3)}"
    status, child, _ = system.api("POST", "/api/v1/children", {
        "la_id": str(demo.LA_ID), "given_name": "Robin", "family_name": family, "date_of_birth": "2015-06-06",
        "setting_id": str(demo.OAKFIELD), "year_group": "Year 6", "social_worker_id": str(demo.account_id("sw"))},
        cookie=caseworker)
    assert status == 201, child
    status, pep, _ = system.api("POST", f"/api/v1/children/{child['id']}/peps", {
        "kind": "termly_review", "term": "spring", "academic_year": academic_year_label(date.today()),
        "meeting_date": (date.today() + timedelta(days=21)).isoformat()}, cookie=caseworker)
    assert status == 201, pep
    system.api("POST", "/api/v1/auth/sign-out", cookie=caseworker)
    return str(pep["id"]), f"Robin {family}"


async def test_a_caseworker_delegates_to_the_school_and_takes_it_back(system: Any, browser: Browser) -> None:
    pep_id, name = await asyncio.to_thread(_pep_for_a_new_child, system)
    cw_context, cw, cw_problems = await new_page(browser)
    await sign_in(system, cw, "caseworker@demo.test", PASSWORD)
    await cw.goto(f"{system.portal_url}/peps/{pep_id}")
    await cw.get_by_role("button", name="Delegate to the school").click()
    await expect(cw.get_by_role("heading", level=1)).to_have_text("Delegate to the school")
    await assert_accessible(cw)

    # Nothing chosen is named; the school's own sections come ticked.
    sections = cw.get_by_role("group", name="Which sections should the school complete?")
    await expect(sections.get_by_label("Education", exact=True)).to_be_checked()
    for box in await sections.get_by_role("checkbox").all():
        await box.uncheck()
    await cw.get_by_role("button", name="Delegate").click()
    await expect(cw.locator(".govuk-error-summary").get_by_role(
        "link", name="Select the sections the school is to complete")).to_have_attribute("href", "#sections")
    await assert_accessible(cw)
    await cw.get_by_label("Education", exact=True).check()
    await cw.get_by_label("Attainment and progress").check()
    await cw.get_by_label("A note for the school (optional)").fill("Please bring the latest reading scores")
    await cw.get_by_role("button", name="Delegate").click()
    await expect(cw.locator(".govuk-notification-banner")).to_contain_text("Sections delegated to the school")
    panel = cw.locator(".app-task-panel")
    await expect(panel).to_contain_text("Complete sections: Education, Attainment and progress")
    await expect(panel).to_contain_text("from Cal Caseworker")
    await expect(cw.get_by_role("button", name="Delegate to the school")).to_have_count(0)  # one open at a time
    dates = cw.locator(".govuk-summary-list", has=cw.get_by_text("Designated Teacher returns the PEP"))
    await expect(dates).to_contain_text("after the meeting on")  # each date with the rule that set it
    await assert_accessible(cw)

    # The emailed link to the task leads there after signing in, not around it.
    task_href = await panel.get_by_role("link").first.get_attribute("href")
    assert task_href and re.fullmatch(r"/tasks/[0-9a-f-]{36}", task_href), task_href
    dt_context, dt, dt_problems = await new_page(browser)
    await dt.goto(system.portal_url + task_href)
    await expect(dt).to_have_url(re.compile(r"/sign-in$"))
    code = NextCode(system, "dt@demo.test")
    await submit_sign_in(dt, "dt@demo.test", PASSWORD)
    await dt.get_by_label("Code").fill(await code.wait_async())
    await dt.get_by_role("button", name="Continue").click()
    await expect(dt).to_have_url(re.compile(re.escape(task_href) + "$"))
    await expect(dt.get_by_role("heading", level=1)).to_have_text("Complete sections")

    # The DT's tray has it; the task page says what, by when and which rule set the date.
    await dt.get_by_role("link", name="Tasks", exact=True).click()
    await expect(dt.get_by_role("heading", level=1)).to_have_text("Your tasks")
    row = dt.locator("#tasks-table tbody tr", has_text=name)
    await expect(row).to_contain_text("Cal Caseworker")
    await assert_accessible(dt)
    await row.get_by_role("link", name=re.compile("^Complete sections")).click()
    await expect(dt.get_by_role("heading", level=1)).to_have_text("Complete sections")
    await expect(dt.locator("main")).to_contain_text("after the meeting on")  # the LA's rule, in words
    await expect(dt.locator("main")).to_contain_text("Please bring the latest reading scores")
    await assert_accessible(dt)
    await dt.get_by_role("button", name="Open the PEP").click()
    education = dt.locator(".govuk-task-list__item", has_text="Education")
    await expect(education).to_contain_text("With the school until they submit it")
    await expect(education.get_by_role("link", name="Education")).to_be_visible()  # the DT may change it
    await assert_accessible(dt)

    # The caseworker cannot change a delegated section now, and retracts the task with a reason.
    await cw.reload()
    await expect(cw.locator(".govuk-task-list__item", has_text="Education")).to_contain_text("you cannot change it now")
    await cw.locator(".app-task-panel").get_by_role("link", name=re.compile("^Retract")).click()
    await expect(cw.get_by_role("heading", level=1)).to_have_text("Retract the task")
    await cw.get_by_role("button", name="Retract the task").click()
    await expect(cw.locator(".govuk-error-summary").get_by_role(
        "link", name="Enter why you are taking the task back")).to_have_attribute("href", "#reason")
    await assert_accessible(cw)
    await cw.get_by_label("Why are you taking it back?").fill("The meeting has moved to next term")
    await cw.get_by_role("button", name="Retract the task").click()
    await expect(cw.locator(".govuk-notification-banner")).to_contain_text("Task retracted")
    await expect(cw.locator("main")).to_contain_text("Retracted: The meeting has moved to next term")
    await assert_accessible(cw)

    await dt.goto(f"{system.portal_url}/tasks?tray=retracted")
    await expect(dt.locator("#tasks-table tbody tr", has_text=name)).to_contain_text("Retracted")
    await assert_accessible(dt)
    assert cw_problems == [] and dt_problems == []
    await cw_context.close()
    await dt_context.close()


async def test_the_virtual_school_reads_its_caseload_by_school_and_social_worker(system: Any,
                                                                                 browser: Browser) -> None:
    pep_id, name = await asyncio.to_thread(_pep_for_a_new_child, system)  # a meeting in 3 weeks: upcoming
    context, page, problems = await new_page(browser)
    await sign_in(system, page, "caseworker@demo.test", PASSWORD)
    await page.get_by_role("link", name="Caseload", exact=True).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Caseload")
    await expect(page.get_by_role("link", name=re.compile(r"\d+ Overdue"))).to_have_attribute("aria-current", "page")
    await assert_accessible(page)
    await page.get_by_role("link", name=re.compile(r"\d+ Upcoming")).click()
    await expect(page.locator("#caseload-table tbody tr", has_text=name)).to_contain_text("Oakfield Primary School")
    # Narrowed to one school from the breakdown, and back.
    by_setting = page.locator("table", has=page.get_by_role("columnheader", name="School or setting")).last
    await by_setting.get_by_role("link", name="Oakfield Primary School").click()
    await expect(page.get_by_role("heading", level=2).first).to_have_text("Upcoming: Oakfield Primary School")
    await expect(page.locator("#caseload-table tbody tr", has_text=name)).to_be_visible()
    await assert_accessible(page)
    await page.locator("#caseload-table").get_by_role("link", name=name).click()
    await expect(page).to_have_url(re.compile(f"/peps/{pep_id}$"))
    assert problems == []
    await context.close()


async def test_a_vs_admin_sets_how_long_finished_tasks_stay_in_the_trays(system: Any, browser: Browser) -> None:
    context, page, problems = await new_page(browser)
    await sign_in(system, page, "admin@demo.test", PASSWORD)
    await page.goto(f"{system.portal_url}/organisations/{demo.LA_ID}")
    await page.get_by_role("link", name="Task trays").click()
    field = page.get_by_label("How many days do retracted and submitted tasks stay in people’s trays?")
    await expect(field).to_have_value("30")
    await assert_accessible(page)
    await field.fill("0")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator(".govuk-error-summary").get_by_role(
        "link", name="Enter a whole number of days from 1 to 365")).to_have_attribute("href", "#tray_days")
    await expect(field).to_have_value("0")
    await assert_accessible(page)
    try:
        await field.fill("45")
        await page.get_by_role("button", name="Save").click()
        await expect(page.locator(".govuk-notification-banner")).to_contain_text("Task trays saved")
        await page.get_by_role("link", name="Task trays").click()
        await expect(field).to_have_value("45")
    finally:
        await field.fill("30")
        await page.get_by_role("button", name="Save").click()
        await expect(page.locator(".govuk-notification-banner")).to_contain_text("Task trays saved")
    assert problems == []
    await context.close()
