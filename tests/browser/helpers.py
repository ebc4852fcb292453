"""What the browser tests share: a page that records console errors, the emailed codes and links, signing in."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from playwright.async_api import Browser, BrowserContext, Page, expect

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
INVITATION_LINK = re.compile(r"https?://\S+?/invitations/([A-Za-z0-9_-]+)")


async def new_page(browser: Browser, **options: Any) -> tuple[BrowserContext, Page, list[str]]:
    """A fresh context and page, and the list its console errors and uncaught exceptions go to."""
    context = await browser.new_context(**options)
    page = await context.new_page()
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    return context, page, problems


async def emailed_code(system: Any, email: str, since: float) -> str:
    # The mailbox polls the sink's Maildir with time.sleep: keep it off the event loop Playwright needs.
    return await asyncio.to_thread(system.mailbox.wait_for_code, email, since)


async def invitation_token(system: Any, email: str, since: float, timeout: float = 20.0) -> str:
    """The token in the link of the invitation emailed to this address after `since`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for msg in reversed(await asyncio.to_thread(system.mailbox.messages, email, since)):
            body = msg.get_body(preferencelist=("plain",))
            match = INVITATION_LINK.search(body.get_content() if body else "")
            if match:
                return match.group(1)
        await asyncio.sleep(0.1)
    raise TimeoutError(f"no invitation for {email} within {timeout}s")


async def submit_sign_in(page: Page, email: str, password: str) -> None:
    await page.get_by_label("Email address").fill(email)
    await page.get_by_label("Password", exact=True).fill(password)
    await page.get_by_role("button", name="Continue").click()


async def sign_in(system: Any, page: Page, email: str, password: str) -> None:
    """Sign in from the sign-in page through the emailed code, ending on the home page."""
    await page.goto(system.portal_url + "/sign-in")
    since = time.time() - 0.5
    await submit_sign_in(page, email, password)
    await expect(page).to_have_url(re.compile(r"/sign-in/code$"))
    await page.get_by_label("Code").fill(await emailed_code(system, email, since))
    await page.get_by_role("button", name="Continue").click()
    await expect(page).to_have_url(re.compile(r"/home$"))
