"""The child's voice, tried as a new user would on a phone (360 × 740): a Designated Teacher sends a young person
an invitation from the PEP; the young person opens the emailed link, enters the emailed code, answers the Secondary
questions in two sittings; the DT sees the answers in the PEP before the meeting. A revoked link shows a kind
message and nothing else. Every page is checked with axe-core (WCAG 2.2 AA) and may log no console error."""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from datetime import date
from typing import Any

from playwright.async_api import Browser, expect

from services.pep.domain.core_data import academic_year_label
from shared.demo import LA_ID, RIVERSIDE
from tests.browser.axe import assert_accessible
from tests.browser.helpers import NextCode, api_sign_in, new_page, sign_in

PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True}
LINK = re.compile(r"(/your-views/[A-Za-z0-9_\-]{20,})")


def _a_pep(system: Any) -> str:
    admin = api_sign_in(system, "admin@demo.test", "demo-pass-2026")
    status, child, _ = system.api("POST", "/api/v1/children", {
        "la_id": str(LA_ID), "given_name": "Kai", "family_name": f"Voice{secrets.token_hex(3)}",
        "date_of_birth": "2012-03-01", "setting_id": str(RIVERSIDE), "year_group": "Year 9"}, cookie=admin)
    assert status == 201, child
    status, pep, _ = system.api("POST", f"/api/v1/children/{child['id']}/peps", {
        "kind": "termly_review", "term": "autumn", "academic_year": academic_year_label(date.today())}, cookie=admin)
    assert status == 201, pep
    return str(pep["id"])


def _link_in_email(system: Any, email: str, since: float, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for msg in system.mailbox.messages(email, since):
            body = msg.get_body(preferencelist=("plain",))
            found = LINK.search(body.get_content() if body else "")
            if found:
                return found.group(1)
        time.sleep(0.1)
    raise AssertionError("no views link emailed")


async def test_a_young_person_gives_their_views_on_a_phone_in_two_sittings(system: Any, browser: Browser) -> None:
    pep_id = await asyncio.to_thread(_a_pep, system)
    email = f"kai.{secrets.token_hex(4)}@example.test"

    # The DT invites Kai from the PEP's views section.
    context, page, problems = await new_page(browser, **PHONE)
    await sign_in(system, page, "dt2@demo.test", "demo-pass-2026")
    await page.goto(f"{system.portal_url}/peps/{pep_id}/sections/views")
    await page.get_by_role("link", name=re.compile("Invite the child or young person")).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("Invite the child or young person"))
    await assert_accessible(page)
    await page.get_by_label("Their first name").fill("Kai")
    await page.get_by_label("Their email address").fill(email)
    await page.get_by_label("Secondary (Years 7 to 11)").check()
    since = time.time()
    await page.get_by_role("button", name="Send invitation").click()
    await expect(page.locator(".govuk-notification-banner")).to_contain_text("Invitation sent")
    await expect(page.locator("#invitations-sent")).to_contain_text(email)
    await assert_accessible(page)
    link = await asyncio.to_thread(_link_in_email, system, email, since)

    # Kai, on their phone, opens the link, asks for a code and enters it.
    kai_context, kai, kai_problems = await new_page(browser, **PHONE)
    for sitting, answer in ((1, ("What am I good at?", "Art and football")),
                            (2, ("What would I like to do when I leave school?", "Be a vet"))):
        await kai.goto(system.portal_url + link)
        await expect(kai.get_by_role("heading", level=1)).to_have_text("Give your views")
        await assert_accessible(kai)
        code = NextCode(system, email)
        await kai.get_by_role("button", name="Email me a code").click()
        await expect(kai.get_by_role("heading", level=1)).to_have_text("Check your email")
        await assert_accessible(kai)
        await kai.get_by_label("Code").fill(await code.wait_async())
        await kai.get_by_role("button", name="Continue").click()
        await expect(kai.get_by_role("heading", level=1)).to_have_text("What you think")
        await assert_accessible(kai)
        # Nothing about the child but their own questions: not the adult's, not their name or school.
        await expect(kai.locator("main")).not_to_contain_text("How were the views gathered")
        await expect(kai.locator("main")).not_to_contain_text("Riverside")
        box = kai.get_by_label(answer[0])
        if sitting == 2:
            await expect(kai.get_by_label("What am I good at?")).to_have_value("Art and football")
        await box.fill(answer[1])
        await box.blur()
        await expect(kai.locator("#autosave-status")).to_contain_text("Saved", timeout=15000)
        if sitting == 2:
            await kai.get_by_role("button", name="I have finished").click()
            await expect(kai.get_by_role("heading", level=1)).to_have_text("Thank you")
            await assert_accessible(kai)
        else:
            await kai_context.clear_cookies()  # the phone sleeps, the session is gone: the answers are not

    # The DT sees Kai's answers in the PEP.
    await page.goto(f"{system.portal_url}/peps/{pep_id}/sections/views/check")
    await expect(page.locator("main")).to_contain_text("Art and football")
    await expect(page.locator("main")).to_contain_text("Be a vet")
    await page.goto(f"{system.portal_url}/peps/{pep_id}/sections/meeting")
    await expect(page.locator(".app-views-panel").first).to_contain_text("Be a vet")
    await assert_accessible(page)

    # Revoked: the link shows a kind message and nothing else.
    await page.goto(f"{system.portal_url}/peps/{pep_id}/sections/views/invitations")
    await page.get_by_role("button", name=re.compile("Revoke")).click()
    await expect(page.locator(".govuk-notification-banner")).to_contain_text("Invitation revoked")
    await kai.goto(system.portal_url + link)
    await kai.get_by_role("button", name="Email me a code").click()
    await expect(kai.get_by_role("heading", level=1)).to_have_text("This link no longer works")
    await expect(kai.locator("main")).to_contain_text("Thank you for wanting to share your views")
    await assert_accessible(kai)
    # The dead link's page answers 404 on purpose (the link opens nothing); Chromium logs that status, nothing else.
    assert problems == [] and kai_problems == [
        "console error: Failed to load resource: the server responded with a status of 404 (Not Found)"]
    await context.close()
    await kai_context.close()
