"""A PEP in the browser: the social worker starts one; the Designated Teacher writes the education section, where a
bad date is named and nothing typed is lost; answers survive a reload; autosave saves as people type; two people
saving the same question get the conflict view, not a silent overwrite; the sign-off page lists what is missing.

Jordan Example (the demo's first child, at Oakfield; Sam is the allocated social worker) is the child, as in the
API's system test, so the PEP started here is cancelled at the end (by the Virtual School caseworker, through the
API) and the child is free again. Every page is checked with axe-core against WCAG 2.2 AA.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from shared import demo
from tests.browser.axe import assert_accessible, assert_accessible_without_javascript
from tests.browser.helpers import new_page, sign_in

PASSWORD = demo.DEMO_PASSWORD
JORDAN = str(demo.CHILDREN[0]["id"])
OPEN = ("created", "in_progress", "submitted", "returned", "approved")
# The browser logs the status of pages and calls that answer with one: the conflict page (409) and an
# autosave that finds someone else saved first (409). Nothing else may appear.
EXPECTED_CONSOLE = re.compile(r"status of 409 \(Conflict\)")


def _cancel_open_peps(system: Any) -> None:
    caseworker = system.sign_in("caseworker@demo.test")
    status, peps, _ = system.api("GET", f"/api/v1/children/{JORDAN}/peps", cookie=caseworker)
    assert status == 200, peps
    for pep in peps:
        if pep["status"] in OPEN:
            status, body, _ = system.api("POST", f"/api/v1/peps/{pep['id']}/actions/cancel",
                                         {"reason": "Browser test finished with it"}, cookie=caseworker)
            assert status == 200, body
    system.api("POST", "/api/v1/auth/sign-out", cookie=caseworker)


def _let_staff_write_every_section(system: Any) -> None:
    dt = system.sign_in("dt@demo.test")
    status, body, _ = system.api("PUT", f"/api/v1/organisations/{demo.OAKFIELD}/staff/{demo.account_id('staff')}"
                                        "/access", {"children": None, "sections": None}, cookie=dt)
    assert status == 204, body
    system.api("POST", "/api/v1/auth/sign-out", cookie=dt)


@pytest.fixture
async def jordan_is_free(system: Any) -> AsyncIterator[None]:
    """No PEP in progress for Jordan before the test, nor after it (whatever happens in between)."""
    await asyncio.to_thread(_cancel_open_peps, system)
    await asyncio.to_thread(_let_staff_write_every_section, system)
    yield
    await asyncio.to_thread(_cancel_open_peps, system)


def _unexpected(problems: list[str]) -> list[str]:
    return [p for p in problems if not EXPECTED_CONSOLE.search(p)]


async def _open_education(page: Page, portal_url: str, pep_url: str) -> None:
    await page.goto(pep_url)
    await page.get_by_role("link", name="Education", exact=True).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Education")


def _started(page: Page) -> Any:
    return page.get_by_role("group", name="Date the child started at this school")


async def test_a_pep_from_start_to_the_sign_off_list_with_safe_saving(system: Any, browser: Browser,
                                                                      jordan_is_free: None) -> None:
    portal = system.portal_url

    # ---- the social worker starts an initial PEP with a meeting date -----------------------------------------
    sw_context, sw, sw_problems = await new_page(browser)
    await sign_in(system, sw, "sw@demo.test", PASSWORD)
    await sw.get_by_role("link", name="Children").click()
    await expect(sw.get_by_role("heading", level=1)).to_have_text("Children")
    await assert_accessible(sw)
    await sw.get_by_role("link", name="Jordan Example").click()
    await expect(sw.get_by_role("heading", level=1)).to_have_text("Jordan Example")
    await expect(sw.locator("main")).to_contain_text("Oakfield Primary School")
    await assert_accessible(sw)
    await sw.get_by_role("button", name="Start a PEP").click()
    await expect(sw.get_by_role("heading", level=1)).to_have_text("Start a PEP")
    await assert_accessible(sw)
    await sw.get_by_role("button", name="Start PEP").click()
    await expect(sw.locator(".govuk-error-summary")).to_contain_text("Select what kind of PEP this is")
    await assert_accessible(sw)
    await sw.get_by_label("Initial PEP").check()
    await sw.get_by_label("Autumn").check()
    await sw.get_by_label("Academic year").fill("2026/27")
    meeting = sw.get_by_role("group", name="Date of the PEP meeting (optional)")
    await meeting.get_by_label("Day").fill("1")
    await meeting.get_by_label("Month").fill("12")
    await meeting.get_by_label("Year").fill("2026")
    await sw.get_by_role("button", name="Start PEP").click()
    await expect(sw.get_by_role("heading", level=1)).to_have_text("Personal Education Plan")
    pep_url = sw.url
    assert re.search(r"/peps/[0-9a-f-]{36}$", pep_url), pep_url
    await expect(sw.locator("main")).to_contain_text("Initial PEP, Autumn 2026/27")
    await expect(sw.locator("main")).to_contain_text("1 December 2026")
    tasks = sw.locator(".govuk-task-list")
    await expect(tasks.get_by_role("link", name="Personal, care and health information")).to_be_visible()
    await expect(tasks.get_by_role("link", name="Education", exact=True)).to_have_count(0)  # the DT's to write
    await expect(tasks).to_contain_text("Written by Designated Teacher")
    await assert_accessible(sw)
    # Only one PEP at a time: a second start names the one in progress.
    await sw.goto(f"{portal}/children/{JORDAN}/peps/new")
    await sw.get_by_label("Termly review").check()
    await sw.get_by_role("button", name="Start PEP").click()
    await expect(sw.locator(".govuk-error-summary")).to_contain_text("This child already has a PEP in progress")
    await expect(sw.get_by_role("link", name=re.compile("Go to the PEP in progress"))).to_have_attribute(
        "href", pep_url.removeprefix(portal))
    await assert_accessible(sw)
    assert _unexpected(sw_problems) == []
    await sw_context.close()

    # ---- the DT (without JavaScript): a bad date is named, nothing typed is lost, and a reload keeps it all -----
    dt_context, dt, dt_problems = await new_page(browser, java_script_enabled=False)
    await sign_in(system, dt, "dt@demo.test", PASSWORD)
    await dt.goto(f"{portal}/children/{JORDAN}")
    await dt.get_by_role("link", name="Initial PEP, Autumn 2026/27").click()
    await expect(dt.locator(".govuk-task-list").get_by_role("link", name="Education", exact=True)).to_be_visible()
    await assert_accessible_without_javascript(dt)
    await _open_education(dt, portal, pep_url)
    # Without JavaScript every question shows; a conditional one says when to answer it.
    await expect(dt.get_by_label(re.compile("Reasons for absence or falling attendance"))).to_be_visible()
    await expect(dt.locator("main")).to_contain_text(
        "Answer if ‘Is the child's attendance satisfactory?’ is ‘No’")
    await assert_accessible_without_javascript(dt)
    await _started(dt).get_by_label("Day").fill("31")
    await _started(dt).get_by_label("Month").fill("2")
    await _started(dt).get_by_label("Year").fill("2026")
    await dt.get_by_label("Literacy and numeracy skills").fill("Reading at the expected standard")
    await dt.get_by_label("Attendance this academic year (%)").fill("96.5")
    await dt.get_by_role("button", name="Save", exact=True).click()
    summary = dt.locator(".govuk-error-summary")
    await expect(summary.get_by_role("link", name="Date the child started at this school must be a real date")) \
        .to_have_attribute("href", "#answers-setting_start_date")
    await expect(dt.locator("#answers-setting_start_date-date-error")).to_contain_text("must be a real date")
    await expect(dt.get_by_label("Literacy and numeracy skills")).to_have_value("Reading at the expected standard")
    await expect(dt.get_by_label("Attendance this academic year (%)")).to_have_value("96.5")
    await expect(_started(dt).get_by_label("Day")).to_have_value("31")
    await assert_accessible_without_javascript(dt)
    await _started(dt).get_by_label("Day").fill("28")
    await dt.get_by_role("button", name="Save", exact=True).click()
    await expect(dt.locator(".govuk-notification-banner--success")).to_contain_text("Your answers have been saved")
    await dt.reload()
    await expect(_started(dt).get_by_label("Day")).to_have_value("28")
    await expect(_started(dt).get_by_label("Month")).to_have_value("2")
    await expect(dt.get_by_label("Literacy and numeracy skills")).to_have_value("Reading at the expected standard")
    await expect(dt.get_by_label("Attendance this academic year (%)")).to_have_value("96.5")

    # ---- two people, one question: the second gets the conflict view ---------------------------------------
    staff_context, staff, staff_problems = await new_page(browser, java_script_enabled=False)
    await sign_in(system, staff, "staff@demo.test", PASSWORD)
    await _open_education(staff, portal, pep_url)
    await dt.reload()  # both pages now hold the same version
    await dt.get_by_label("Behaviour").fill("Calm in class; finds lunchtimes hard")
    await dt.get_by_role("button", name="Save", exact=True).click()
    await expect(dt.locator(".govuk-notification-banner--success")).to_contain_text("Your answers have been saved")
    await staff.get_by_label("Behaviour").fill("Needs support at lunchtime")
    await staff.get_by_label("Strengths and interests").fill("Drawing and football")
    await staff.get_by_role("button", name="Save", exact=True).click()
    await expect(staff.get_by_role("heading", level=1)).to_have_text("Someone else saved this section")
    await expect(staff.locator("main")).to_contain_text("Dana Teacher saved Education on")
    await expect(staff.locator("[data-theirs]")).to_have_text("Calm in class; finds lunchtimes hard")
    await expect(staff.locator("[data-mine]")).to_have_text("Needs support at lunchtime")
    await expect(staff.locator("main")).to_contain_text("Your other change will be saved as well: Strengths and "
                                                        "interests")
    await assert_accessible_without_javascript(staff)
    await staff.get_by_role("button", name="Save these choices").click()
    await expect(staff.locator(".govuk-error-summary")).to_contain_text("Select whose answer to keep for ‘Behaviour’")
    await assert_accessible_without_javascript(staff)
    await staff.get_by_label("Keep their answer").check()
    await staff.get_by_role("button", name="Save these choices").click()
    await expect(staff.locator(".govuk-notification-banner--success")).to_contain_text("Your answers have been saved")
    await expect(staff.get_by_label("Behaviour")).to_have_value("Calm in class; finds lunchtimes hard")
    await expect(staff.get_by_label("Strengths and interests")).to_have_value("Drawing and football")

    # The history says who changed what, and any two versions can be compared.
    await staff.get_by_role("link", name="History of changes").click()
    rows = staff.locator("main tbody tr")
    await expect(rows.first).to_contain_text("Sol Staff")
    await expect(rows.first).to_contain_text("Strengths and interests")
    await expect(rows.nth(1)).to_contain_text("Dana Teacher")
    await assert_accessible_without_javascript(staff)
    await rows.nth(1).get_by_role("link", name=re.compile("^Compare")).click()
    changed = staff.locator("main tbody tr.app-compare__row--changed")
    await expect(changed).to_have_count(1)
    await expect(changed).to_contain_text("Calm in class; finds lunchtimes hard")
    await assert_accessible_without_javascript(staff)
    await staff_context.close()

    # ---- the sign-off page lists what is missing, each linked to its question -----------------------------
    await dt.goto(pep_url)
    await dt.get_by_role("link", name="See what is needed before the PEP can be submitted").click()
    await expect(dt.get_by_role("heading", level=1)).to_have_text("Submit your contribution")
    await expect(dt.locator("main")).to_contain_text("answers are missing")
    key_stage = dt.get_by_role("link", name="Answer ‘Key stage’")
    await expect(key_stage).to_have_attribute("href", re.compile(r"/sections/education#answers-key_stage$"))
    await expect(dt.get_by_role("button", name="Submit contribution")).to_have_count(0)
    await assert_accessible_without_javascript(dt)
    await key_stage.click()
    await expect(dt.get_by_role("heading", level=1)).to_have_text("Education")
    # Check your answers: marking complete lists the missing answers, linked to their questions.
    await dt.get_by_role("link", name="Check your answers and mark as complete").click()
    await expect(dt.get_by_role("heading", level=1)).to_have_text("Check your answers")
    await assert_accessible_without_javascript(dt)
    await dt.get_by_role("button", name="Mark as complete").click()
    await expect(dt.locator(".govuk-error-summary").get_by_role("link", name="Answer ‘Key stage’")) \
        .to_have_attribute("href", re.compile(r"/sections/education#answers-key_stage$"))
    await assert_accessible_without_javascript(dt)
    assert _unexpected(dt_problems) == []
    await dt_context.close()


async def test_with_javascript_questions_follow_answers_and_autosave_keeps_what_is_typed(
        system: Any, browser: Browser, jordan_is_free: None) -> None:
    portal = system.portal_url
    sw = await asyncio.to_thread(system.sign_in, "sw@demo.test")
    status, pep, _ = await asyncio.to_thread(system.api, "POST", f"/api/v1/children/{JORDAN}/peps", {
        "kind": "termly_review", "term": "spring", "academic_year": "2026/27"}, sw)
    assert status == 201, pep
    pep_url = f"{portal}/peps/{pep['id']}"

    dt_context, dt, problems = await new_page(browser)
    await sign_in(system, dt, "dt@demo.test", PASSWORD)
    await _open_education(dt, portal, pep_url)
    await assert_accessible(dt)

    # A question shows only when the answer before it calls for it (no aria-expanded on any input).
    reasons = dt.get_by_label(re.compile("Reasons for absence or falling attendance"))
    await expect(reasons).to_be_hidden()
    await expect(dt.get_by_text("Answer if ‘Is the child's attendance satisfactory?’ is ‘No’").first).to_be_hidden()
    satisfactory = dt.get_by_role("group", name=re.compile("^Is the child's attendance satisfactory"))
    await satisfactory.get_by_label("No").check()
    await expect(reasons).to_be_visible()
    await assert_accessible(dt)
    await satisfactory.get_by_label("Yes").check()
    await expect(reasons).to_be_hidden()
    assert await dt.locator("#section-form [aria-expanded]").count() == 0

    # Autosave: type, stop, and it is saved; a reload shows it.
    status_line = dt.locator("#autosave-status")
    async with dt.expect_response(lambda r: r.url.endswith("/autosave") and "Loves+building+things" in (
            r.request.post_data or "")) as autosaved:
        await dt.get_by_label("Strengths and interests").fill("Loves building things")
    assert (await autosaved.value).status == 200
    await expect(status_line).to_contain_text(re.compile(r"Saved at \d{1,2}:\d\d[ap]m"))
    await dt.reload()
    await expect(dt.get_by_label("Strengths and interests")).to_have_value("Loves building things")
    satisfactory = dt.get_by_role("group", name=re.compile("^Is the child's attendance satisfactory"))
    await expect(satisfactory.get_by_label("Yes")).to_be_checked()

    # Someone else saves the same question meanwhile: autosave stops and says so; nothing typed is lost.
    staff = await asyncio.to_thread(system.sign_in, "staff@demo.test")
    _, section, _ = await asyncio.to_thread(system.api, "GET", f"/api/v1/peps/{pep['id']}/sections/education",
                                            None, staff)
    status, body, _ = await asyncio.to_thread(system.api, "PUT", f"/api/v1/peps/{pep['id']}/sections/education", {
        "answers": {"strengths": "Chess club"}, "version": section["version"]}, staff)
    assert status == 200, body
    await dt.get_by_label("Strengths and interests").fill("Loves building things and Lego")
    await expect(status_line).to_contain_text("Not saved: Sol Staff saved this section", timeout=15_000)
    banner = dt.locator("#conflict-banner")
    await expect(banner).to_be_visible()
    await expect(banner).to_contain_text("Sol Staff saved it")
    await assert_accessible(dt)
    await expect(dt.get_by_label("Strengths and interests")).to_have_value("Loves building things and Lego")
    await banner.get_by_role("button", name="Compare your answers with theirs").click()
    await expect(dt.get_by_role("heading", level=1)).to_have_text("Someone else saved this section")
    await expect(dt.locator("[data-theirs]")).to_have_text("Chess club")
    await expect(dt.locator("[data-mine]")).to_have_text("Loves building things and Lego")
    await assert_accessible(dt)
    await dt.get_by_role("button", name="Use all my answers").click()
    await expect(dt.get_by_label("Strengths and interests")).to_have_value("Loves building things and Lego")

    # Add another: a row for another previous school, without losing anything.
    await dt.get_by_role("group", name="Previous schools and settings: entry 1").get_by_label(
        re.compile("Name")).fill("Little Acorns Nursery")
    await dt.get_by_role("button", name="Add another entry to Previous schools and settings").click()
    second = dt.get_by_role("group", name="Previous schools and settings: entry 2")
    await expect(second).to_be_visible()
    await expect(dt.get_by_role("group", name="Previous schools and settings: entry 1").get_by_label(
        re.compile("Name"))).to_have_value("Little Acorns Nursery")
    await assert_accessible(dt)

    assert _unexpected(problems) == []
    await dt_context.close()
