"""The child's voice, tried as a new user would on a phone (360 × 740): the last PEP's Primary question set is
carried forward and a Designated Teacher invites a young person with the Secondary questions; the young person
opens the emailed link, enters the emailed code, answers in two sittings with the saved state in view, and finishes
(the session ends on the server: its cookie replayed is refused); the DT sees every answer, the Secondary one too,
in My views, on the Check page and beside the meeting's minutes, with who gave them. Revoked under an open form, the
page says the invitation has ended and who to talk to; a revoked, made-up or cut-short link answers at once with the
kind page. The invitee's pages link only to what an invitee can use. Every page is checked with axe-core (WCAG 2.2
AA) and may log no console error but the refusals' own statuses."""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from datetime import date
from typing import Any

from playwright.async_api import Browser, Page, expect

from services.pep.domain.core_data import academic_year_label
from shared.demo import LA_ID, RIVERSIDE
from tests.browser.axe import assert_accessible
from tests.browser.helpers import NextCode, api_sign_in, new_page, sign_in

PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True}
LINK = re.compile(r"(/your-views/[A-Za-z0-9_\-]{20,})")


INVITEE_LINKS = {"#main-content", "/accessibility", "/privacy", "/cookies"}
REFUSED = re.compile(r"^console error: Failed to load resource: the server responded with a status of 40[14] ")


def _a_pep(system: Any) -> str:
    admin = api_sign_in(system, "admin@demo.test", "demo-pass-2026")
    status, child, _ = system.api("POST", "/api/v1/children", {
        "la_id": str(LA_ID), "given_name": "Kai", "family_name": f"Voice{secrets.token_hex(3)}",
        "date_of_birth": "2012-03-01", "setting_id": str(RIVERSIDE), "year_group": "Year 9"}, cookie=admin)
    assert status == 201, child
    status, pep, _ = system.api("POST", f"/api/v1/children/{child['id']}/peps", {
        "kind": "termly_review", "term": "autumn", "academic_year": academic_year_label(date.today())}, cookie=admin)
    assert status == 201, pep
    # As the last PEP's views carry forward: its question set (Primary), waiting to be checked.
    system.admin_sql("UPDATE pep.pep_sections SET answers = answers || '{\"question_set\": \"primary\"}'::jsonb, "
                     "to_check = '{question_set}' WHERE pep_id = $1 AND section_key = 'views'", pep["id"])
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


async def _invitee_page_checked(page: Page) -> None:
    """axe, and no link to anything an invitee cannot use (no staff start page, no sign-in)."""
    await assert_accessible(page)
    links = await page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
    assert set(links) <= INVITEE_LINKS, links


async def _sit_down(system: Any, kai: Page, link: str, email: str) -> None:
    await kai.goto(system.portal_url + link)
    await expect(kai.get_by_role("heading", level=1)).to_have_text("Give your views")
    await _invitee_page_checked(kai)
    code = NextCode(system, email)
    await kai.get_by_role("button", name="Email me a code").click()
    await expect(kai.get_by_role("heading", level=1)).to_have_text("Check your email")
    await _invitee_page_checked(kai)
    await kai.get_by_label("Code").fill(await code.wait_async())
    await kai.get_by_role("button", name="Continue").click()
    await expect(kai.get_by_role("heading", level=1)).to_have_text("What you think")
    await _invitee_page_checked(kai)


async def test_a_young_person_gives_their_views_on_a_phone_in_two_sittings(system: Any, browser: Browser) -> None:
    pep_id = await asyncio.to_thread(_a_pep, system)
    email = f"kai.{secrets.token_hex(4)}@example.test"

    # The DT invites Kai from the PEP's views section, with the Secondary questions.
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

    # Kai, on their phone, opens the link, asks for a code and enters it; twice.
    kai_context, kai, kai_problems = await new_page(browser, **PHONE)
    for sitting, answer in ((1, ("What am I good at?", "Art and football")),
                            (2, ("What would I like to do when I leave school?", "Be a vet"))):
        await _sit_down(system, kai, link, email)
        # Nothing about the child but their own questions: not the adult's, not their name or school.
        await expect(kai.locator("main")).not_to_contain_text("How were the views gathered")
        await expect(kai.locator("main")).not_to_contain_text("Riverside")
        box = kai.get_by_label(answer[0])
        if sitting == 2:
            await expect(kai.get_by_label("What am I good at?")).to_have_value("Art and football")
        await box.fill(answer[1])
        await box.blur()
        # Saved, where Kai is: the status line stays in view beside what they typed, in the portal's time.
        status_line = kai.locator("#autosave-status")
        await expect(status_line).to_have_text(re.compile(r"^Saved at \d{1,2}:\d\d[ap]m$"), timeout=15000)
        await expect(status_line).to_be_in_viewport()
        await expect(box).to_be_in_viewport()
        await _invitee_page_checked(kai)
        if sitting == 2:
            cookie = next(c for c in await kai_context.cookies() if c["name"] == "epep_views")
            await kai.get_by_role("button", name="I have finished").click()
            await expect(kai.get_by_role("heading", level=1)).to_have_text("Thank you")
            await _invitee_page_checked(kai)
            # Finishing ended the session on the server: the cookie put back opens nothing.
            await kai_context.add_cookies([cookie])
            await kai.goto(f"{system.portal_url}/your-views/answers")
            await expect(kai.get_by_role("heading", level=1)).to_have_text("Open the link in your email again")
            await expect(kai.locator("main")).not_to_contain_text("Art and football")
            await _invitee_page_checked(kai)
        else:
            await kai_context.clear_cookies()  # the phone sleeps, the session is gone: the answers are not

    # The DT sees every answer Kai gave, the Secondary one too, with who gave them: in My views, on the Check
    # page and beside the meeting's minutes; the section's carried check has moved on.
    given = re.compile(r"Given by Kai \(young person, by invitation\) on \d{1,2} \w+ \d{4}, "
                       r"with the Secondary questions")
    await page.goto(f"{system.portal_url}/peps/{pep_id}")
    views_row = page.locator(".govuk-task-list__item", has_text="My views")
    await expect(views_row).not_to_contain_text("Check carried answers")
    await assert_accessible(page)
    await page.goto(f"{system.portal_url}/peps/{pep_id}/sections/views")
    await expect(page.locator("main")).to_contain_text(given)
    await expect(page.get_by_label("What would I like to do when I leave school?")).to_have_value("Be a vet")
    await assert_accessible(page)
    await page.goto(f"{system.portal_url}/peps/{pep_id}/sections/views/check")
    await expect(page.locator("main")).to_contain_text("Art and football")
    await expect(page.locator("main")).to_contain_text("Be a vet")
    await expect(page.locator("main")).to_contain_text(given)
    await assert_accessible(page)
    await page.goto(f"{system.portal_url}/peps/{pep_id}/sections/meeting")
    await expect(page.locator(".app-views-panel").first).to_contain_text("Be a vet")
    await expect(page.locator(".app-views-panel").first).to_contain_text(given)
    await assert_accessible(page)

    # A third sitting; the DT revokes while Kai's form is open. Kai is told plainly, and who to talk to.
    await _sit_down(system, kai, link, email)
    await page.goto(f"{system.portal_url}/peps/{pep_id}/sections/views/invitations")
    await page.get_by_role("button", name=re.compile("Revoke")).click()
    await expect(page.locator(".govuk-notification-banner")).to_contain_text("Invitation revoked")
    box = kai.get_by_label("Tell us about my friends")
    await box.fill("Sam and Alex")
    await box.blur()
    await expect(kai.locator("#autosave-status")).to_contain_text("This invitation has ended", timeout=15000)
    await kai.get_by_role("button", name="Save", exact=True).click()
    await expect(kai.get_by_role("heading", level=1)).to_have_text("This invitation has ended")
    await expect(kai.locator("main")).to_contain_text("talk to Rory Teacher, who sent you the link")
    await expect(kai.locator("main")).not_to_contain_text("new code")
    await _invitee_page_checked(kai)

    # The revoked link, a made-up one and one cut short in the email: the kind page at once, with no button.
    for dead in (link, "/your-views/" + secrets.token_urlsafe(32), link[:30]):
        response = await kai.goto(system.portal_url + dead)
        assert response is not None and response.status == 404, dead
        await expect(kai.get_by_role("heading", level=1)).to_have_text("This link no longer works")
        await expect(kai.locator("main")).to_contain_text("Thank you for wanting to share your views")
        await expect(kai.get_by_role("button", name="Email me a code")).to_have_count(0)
        await _invitee_page_checked(kai)
    # The refusals answer 401 and 404 on purpose; Chromium logs those statuses, and nothing else may appear.
    assert problems == [] and kai_problems and all(REFUSED.match(p) for p in kai_problems), kai_problems
    await context.close()
    await kai_context.close()
