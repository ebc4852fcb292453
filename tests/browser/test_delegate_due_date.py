"""The due date a caseworker types on the delegate form is the task's due date: in the API, on the task page, in
the trays and in the Designated Teacher's email (it was once silently dropped for the LA rule's date: the form's
boxes were named `due-day`, the handler read `due.day`)."""

from __future__ import annotations

import asyncio
import time
from datetime import date, timedelta
from typing import Any

from playwright.async_api import Browser, expect

from services.portal.pep_forms import long_date
from tests.browser.helpers import new_page, sign_in
from tests.browser.test_delegation_journey import PASSWORD, _pep_for_a_new_child


async def test_the_due_date_typed_is_the_tasks_due_date(system: Any, browser: Browser) -> None:
    pep_id, name = await asyncio.to_thread(_pep_for_a_new_child, system)
    due = date.today() + timedelta(days=47)  # not what the LA's timescale gives from a meeting in 3 weeks
    context, page, problems = await new_page(browser)
    await sign_in(system, page, "caseworker@demo.test", PASSWORD)
    await page.goto(f"{system.portal_url}/peps/{pep_id}/delegate")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Delegate to the school")
    when = page.get_by_role("group", name="When should they submit it? (optional)")
    await when.get_by_label("Day").fill(str(due.day))
    await when.get_by_label("Month").fill(str(due.month))
    await when.get_by_label("Year").fill(str(due.year))
    since = time.time()
    await page.get_by_role("button", name="Delegate").click()
    await expect(page.locator(".govuk-notification-banner")).to_contain_text("Sections delegated to the school")

    # The task the API holds is due that day.
    cookies = {c["name"]: c["value"] for c in await context.cookies(system.portal_url)}
    cookie = f"epep_session={cookies['epep_session']}"
    status, tasks, _ = await asyncio.to_thread(system.api, "GET", f"/api/v1/peps/{pep_id}/tasks", None, cookie)
    assert status == 200, tasks
    items = tasks if isinstance(tasks, list) else tasks["items"]
    assert [t["due_date"] for t in items if t["status"] == "assigned"] == [due.isoformat()]

    # The task page and the caseworker's "Delegated by you" tray say so.
    panel = page.locator(".app-task-panel")
    await panel.get_by_role("link").first.click()
    await expect(page.locator("main")).to_contain_text(long_date(due.isoformat()))
    await page.goto(f"{system.portal_url}/tasks?tray=sent")
    await expect(page.locator("#tasks-table tbody tr", has_text=name)).to_contain_text(long_date(due.isoformat()))

    # And the Designated Teacher's email gives the same day.
    words = f"{due:%A} {due.day} {due:%B} {due.year}"

    def task_email() -> str:
        for _ in range(100):
            for msg in system.mailbox.messages("dt@demo.test", since):
                body = msg.get_body(preferencelist=("plain",))
                text = body.get_content() if body else ""
                if name in text or name.split()[0] in text:
                    return str(text)
            time.sleep(0.2)
        raise AssertionError("no task email reached the Designated Teacher")

    assert f"by {words}" in await asyncio.to_thread(task_email)
    assert problems == []
    await context.close()
