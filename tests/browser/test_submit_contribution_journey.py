"""Submit Contribution in the browser (issue 22, item 2): under an LA whose PEPs go to QA once the social worker has
completed their part too (its VS admin chooses it on the LA's page), the DT's sign-off lists only the school's
gaps, each linked to its question; the DT posts the sign-off with the social worker's section still empty and the
PEP page says the contribution is in, from which school and when, and what the PEP waits for; the social worker's
sign-off lists only their section's gaps, and their submission sends the PEP to QA. The VS admin then chooses
Kent's rule again. Every page is checked with axe-core against WCAG 2.2 AA."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from services.portal.accounts import date_only
from shared import demo
from tests.browser.axe import assert_accessible
from tests.browser.helpers import new_page, sign_in
from tests.system.test_peps import answer_what_is_missing, owners
from tests.system.test_tasks import eventually, tray

PASSWORD = "demo-pass-2026"
LA = str(demo.LA_ID)


def _delegated_pep(system: Any) -> tuple[str, dict[str, str]]:
    """A new child at Oakfield whose PEP's school sections are delegated to its DT; the cookies used."""
    cookies = {k: system.sign_in(f"{k}@demo.test") for k in ("caseworker", "dt", "sw")}
    status, child, _ = system.api("POST", "/api/v1/children", {
        "la_id": LA, "given_name": "Kit", "family_name": "Contribution", "date_of_birth": "2015-06-06",
        "setting_id": str(demo.OAKFIELD), "year_group": "Year 6", "social_worker_id": str(demo.account_id("sw"))},
        cookie=cookies["caseworker"])
    assert status == 201, child
    status, pep, _ = system.api("POST", f"/api/v1/children/{child['id']}/peps", {
        "kind": "termly_review", "term": "spring", "academic_year": "2026/27"}, cookie=cookies["caseworker"])
    assert status == 201, pep
    status, task, _ = system.api("POST", f"/api/v1/peps/{pep['id']}/delegations", {
        "sections": ["education", "attainment", "targets", "meeting"],
        "due_date": (date.today() + timedelta(days=14)).isoformat()}, cookie=cookies["caseworker"])
    assert status == 201, task
    eventually(lambda: tray(system, cookies["dt"], "current", pep["id"]), "the DT's task")
    return str(pep["id"]), cookies


def _answer(system: Any, cookie: str, pep_id: str, owner_keys: tuple[str, ...]) -> None:
    by_owner = owners(system, cookie, pep_id)
    answer_what_is_missing(system, cookie, pep_id, set().union(*(by_owner.get(o, set()) for o in owner_keys)))


@pytest.fixture
async def kents_rule_again(system: Any) -> AsyncIterator[None]:
    """Whatever happens in the journey, the demo LA is left with Kent's rule for the tests that follow."""
    yield
    admin = await asyncio.to_thread(system.sign_in, "admin@demo.test")
    await asyncio.to_thread(system.api, "PUT", f"/api/v1/organisations/{LA}/submission-settings",
                            {"goes_to_qa": "school_submits"}, admin)


async def test_the_dt_submits_the_schools_contribution_and_the_social_worker_completes_the_pep(
        system: Any, browser: Browser, kents_rule_again: None) -> None:
    portal = system.portal_url
    # The LA's VS admin chooses ePEP Online's rule on the LA's page.
    admin_context, admin, admin_problems = await new_page(browser)
    await sign_in(system, admin, "admin@demo.test", PASSWORD)
    await admin.goto(f"{portal}/organisations/{LA}")
    await admin.get_by_role("link", name="When PEPs go to quality assurance").click()
    await expect(admin.get_by_role("heading", level=1)).to_have_text("When does a PEP go to quality assurance?")
    await expect(admin.get_by_label("When the school submits its contribution")).to_be_checked()  # Kent's default
    await assert_accessible(admin)
    await admin.get_by_label("When the school has submitted its contribution and the social worker").check()
    await admin.get_by_role("button", name="Save").click()
    await expect(admin.locator(".govuk-notification-banner")).to_contain_text("Submission saved")
    await assert_accessible(admin)

    pep_id, cookies = await asyncio.to_thread(_delegated_pep, system)
    dt_context, dt, dt_problems = await new_page(browser)
    await sign_in(system, dt, "dt@demo.test", PASSWORD)
    await dt.goto(f"{portal}/peps/{pep_id}")
    await dt.get_by_role("button", name="Submit contribution").click()
    # Only what the school can fix: its own sections' questions, never the social worker's.
    await expect(dt.get_by_role("heading", level=1)).to_have_text("Submit your contribution")
    await expect(dt.locator("main")).to_contain_text("answers are missing")
    await expect(dt.locator("main h3", has_text="Personal, care and health information")).to_have_count(0)
    education = dt.locator("main a[href*='/sections/education#']").first
    await expect(education).to_be_visible()
    await expect(dt.get_by_role("button", name="Submit contribution")).to_have_count(0)
    await assert_accessible(dt)
    await education.click()
    await expect(dt.get_by_role("heading", level=1)).to_have_text("Education")
    await assert_accessible(dt)

    # The school's sections answered, the social worker's still empty: the DT posts the sign-off.
    await asyncio.to_thread(_answer, system, cookies["dt"], pep_id, ("designated_teacher", "young_person", "carer"))
    await dt.goto(f"{portal}/peps/{pep_id}/sign-off")
    await expect(dt.locator("main")).to_contain_text("Every question the school needs to answer has been answered")
    await assert_accessible(dt)
    await dt.get_by_role("button", name="Submit contribution").click()
    await expect(dt.get_by_role("heading", level=1)).to_have_text("Personal Education Plan")
    await expect(dt.locator(".govuk-notification-banner--success")).to_contain_text("Contribution submitted")
    today = date_only(datetime.now(UTC))  # in UK time, as the page says it
    waiting = dt.locator("#parts-submitted")
    await expect(waiting).to_contain_text(f"Contribution submitted by Oakfield Primary School on {today}")
    await expect(waiting).to_contain_text("The PEP goes to quality assurance once this is in: Social worker’s part.")
    await expect(dt.locator(".govuk-summary-list").first).to_contain_text("In progress")
    await assert_accessible(dt)
    submitted = await asyncio.to_thread(
        eventually, lambda: tray(system, cookies["dt"], "submitted", pep_id), "the school's task submitted")
    assert [t["status"] for t in submitted] == ["submitted"]

    # The social worker's sign-off lists only their section; their submission sends the PEP to QA.
    sw_context, sw, sw_problems = await new_page(browser)
    await sign_in(system, sw, "sw@demo.test", PASSWORD)
    await sw.goto(f"{portal}/peps/{pep_id}/sign-off")
    await expect(sw.get_by_role("heading", level=1)).to_have_text("Submit your part of the PEP")
    await expect(sw.locator("main h3")).to_have_text(["Personal, care and health information"])
    await expect(sw.locator("main")).to_contain_text(f"Contribution submitted by Oakfield Primary School on {today}")
    await assert_accessible(sw)
    await asyncio.to_thread(_answer, system, cookies["sw"], pep_id, ("social_worker",))
    await sw.reload()
    await sw.get_by_role("button", name="Submit your part").click()
    await expect(sw.locator(".govuk-notification-banner--success")).to_contain_text("PEP submitted")
    await expect(sw.locator(".govuk-summary-list").first).to_contain_text("Submitted")
    await assert_accessible(sw)

    # The VS admin chooses Kent's rule again.
    await admin.goto(f"{portal}/organisations/{LA}/submission-settings")
    await admin.get_by_label("When the school submits its contribution").check()
    await admin.get_by_role("button", name="Save").click()
    await expect(admin.locator(".govuk-notification-banner")).to_contain_text("Submission saved")
    await assert_accessible(admin)
    for context, problems in ((admin_context, admin_problems), (dt_context, dt_problems), (sw_context, sw_problems)):
        assert problems == []
        await context.close()
