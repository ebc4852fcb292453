"""The delivery log in the browser: a Virtual School admin finds an email the mail server refused and sends it
again; a Designated Teacher cannot open the log. Every page is checked with axe-core against WCAG 2.2 AA."""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from typing import Any

from playwright.async_api import Browser, expect

from shared.demo import LA_ID
from tests.browser.axe import assert_accessible
from tests.browser.helpers import new_page, sign_in
from tests.system.test_notifications import new_child_with_a_pep, save_meeting, wait_for_mail

DEMO_PASSWORD = "demo-pass-2026"


def _a_refused_meeting_invitation(system: Any) -> str:
    people = {who: system.sign_in(f"{who}@demo.test") for who in ("sw", "dt", "caseworker")}
    _, pep_id, _ = new_child_with_a_pep(system, people)
    carer = f"robin.{secrets.token_hex(3)}@example.test"
    since = time.time()
    save_meeting(system, people["dt"], pep_id, {"meeting_date": "2026-12-03", "meeting_time": "13:00",
                                                "attendees": [{"name": "Robin", "role": "carer", "email": carer}]})
    assert wait_for_mail(system, carer, since, f"pep-{pep_id}@epep")
    # As if the carer's mail server had refused it for good.
    system.admin_sql("UPDATE notify.deliveries SET status = 'permanent_failure', last_error = 'SMTP 550' "
                     "WHERE recipient = $1", carer)
    return carer


async def test_an_admin_finds_a_refused_email_and_sends_it_again(system: Any, browser: Browser) -> None:
    carer = await asyncio.to_thread(_a_refused_meeting_invitation, system)
    context, page, problems = await new_page(browser)
    await sign_in(system, page, "admin@demo.test", DEMO_PASSWORD)
    await page.goto(f"{system.portal_url}/organisations/{LA_ID}")
    await page.get_by_role("link", name="Emails sent").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Emails sent")
    await assert_accessible(page)

    await page.get_by_label("Email address (or part of it)").fill(carer)
    await page.get_by_label("Status").select_option(label="Failed")
    await page.get_by_role("button", name="Search").click()
    rows = page.locator("tbody tr")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("PEP meeting invitation")
    await expect(rows.first).to_contain_text("Failed")
    await expect(rows.first).to_contain_text("SMTP 550")
    await assert_accessible(page)

    since = time.time()
    await page.get_by_role("button", name=f"Send again the PEP meeting invitation to {carer}").click()
    await expect(page.locator(".govuk-notification-banner")).to_contain_text("Email sent again")
    await expect(page.get_by_label("Email address (or part of it)")).to_have_value(carer)  # the same search
    await expect(page.get_by_role("button", name=re.compile("^Send again"))).to_have_count(0)
    await assert_accessible(page)
    assert await asyncio.to_thread(wait_for_mail, system, carer, since, "Invitation: PEP meeting")
    await page.goto(f"{system.portal_url}/organisations/{LA_ID}/deliveries?recipient={carer}")
    await expect(page.locator("tbody tr").first).to_contain_text("Sent")
    assert problems == []
    await context.close()

    context, page, _ = await new_page(browser)
    await sign_in(system, page, "dt@demo.test", DEMO_PASSWORD)
    response = await page.goto(f"{system.portal_url}/organisations/{LA_ID}/deliveries")
    assert response is not None and response.status == 404
    await expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    await context.close()
