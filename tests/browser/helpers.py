"""What the browser tests share: a page that records console errors, the emailed codes and links, signing in."""

from __future__ import annotations

import asyncio
import re
import secrets
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


class NextCode:
    """The code in the next email to this address, however soon after an earlier one it comes.

    Taken before the action that sends it: codes already there (even within the half second of slack
    `since` allows for) are counted, so an earlier code is never mistaken for the new one."""

    def __init__(self, system: Any, email: str) -> None:
        self.system, self.email, self.since = system, email, time.time() - 0.5
        self.before = len(system.mailbox.codes(email, self.since))

    def wait(self) -> str:
        return str(self.system.mailbox.wait_for_code(self.email, self.since, count=self.before + 1))

    async def wait_async(self) -> str:
        # The mailbox polls the sink's Maildir with time.sleep: keep it off the event loop Playwright needs.
        return await asyncio.to_thread(self.wait)


async def invitation_token(system: Any, email: str, since: float, timeout: float = 20.0) -> str:
    """The token in the link of the invitation emailed to this address after `since`."""
    return await asyncio.to_thread(_invitation_token_now, system, email, since, frozenset(), timeout)


async def submit_sign_in(page: Page, email: str, password: str) -> None:
    await page.get_by_label("Email address").fill(email)
    await page.get_by_label("Password", exact=True).fill(password)
    await page.get_by_role("button", name="Continue").click()


async def sign_in(system: Any, page: Page, email: str, password: str) -> None:
    """Sign in from the sign-in page through the emailed code, ending on the home page."""
    await page.goto(system.portal_url + "/sign-in")
    code = NextCode(system, email)
    await submit_sign_in(page, email, password)
    await expect(page).to_have_url(re.compile(r"/sign-in/code$"))
    await page.get_by_label("Code").fill(await code.wait_async())
    await page.get_by_role("button", name="Continue").click()
    await expect(page).to_have_url(re.compile(r"/home$"))


# ---- people made for a test through the gateway's API, so tests do not change the demo accounts ----------


def api_sign_in(system: Any, email: str, password: str) -> str:
    """The session cookie ("epep_session=...") of a new session for this account."""
    code = NextCode(system, email)
    status, body, _ = system.api("POST", "/api/v1/auth/sign-in", {"email": email, "password": password})
    assert status == 202, body
    status, body, headers = system.api("POST", "/api/v1/auth/sign-in/verify",
                                       {"attempt_id": body["attempt_id"], "code": code.wait()})
    assert status == 200, body
    cookie = re.search(r"epep_session=([^;]+)", headers.get("Set-Cookie", ""))
    assert cookie, headers
    return f"epep_session={cookie.group(1)}"


def _invitation_tokens(system: Any, email: str, since: float) -> list[str]:
    """The invitation tokens in the emails to this address after `since`, newest last."""
    tokens = []
    for msg in system.mailbox.messages(email, since):
        body = msg.get_body(preferencelist=("plain",))
        match = INVITATION_LINK.search(body.get_content() if body else "")
        if match:
            tokens.append(match.group(1))
    return tokens


def _invitation_token_now(system: Any, email: str, since: float, seen: frozenset[str] = frozenset(),
                          timeout: float = 20.0) -> str:
    """The newest invitation token emailed after `since` that is not in `seen` (an earlier invitation
    to the same address can land within the clock margin of `since`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fresh = [t for t in _invitation_tokens(system, email, since) if t not in seen]
        if fresh:
            return fresh[-1]
        time.sleep(0.05)
    raise TimeoutError(f"no invitation for {email} within {timeout}s")


def invite(system: Any, inviter: tuple[str, str], organisation_id: str, role: str, given: str, family: str,
           email: str) -> str:
    """Invite someone as `inviter` (email, password): the token from the emailed link."""
    cookie = api_sign_in(system, *inviter)
    since = time.time() - 0.5
    seen = frozenset(_invitation_tokens(system, email, since - 60))
    status, body, _ = system.api("POST", f"/api/v1/organisations/{organisation_id}/invitations",
                                 {"given_name": given, "family_name": family, "email": email, "role": role},
                                 cookie=cookie)
    assert status == 201, body
    system.api("POST", "/api/v1/auth/sign-out", cookie=cookie)
    return _invitation_token_now(system, email, since, seen)


def create_account(system: Any, inviter: tuple[str, str], organisation_id: str, role: str, given: str,
                   family: str, email: str, password: str) -> None:
    """Invite someone as `inviter` (email, password) and register them from the emailed link."""
    token = invite(system, inviter, organisation_id, role, given, family, email)
    code = NextCode(system, email)
    status, body, _ = system.api("POST", "/api/v1/registrations", {"token": token, "given_name": given,
                                                                   "family_name": family, "email": email,
                                                                   "password": password})
    assert status == 202, body
    status, body, _ = system.api("POST", "/api/v1/registrations/verify",
                                 {"registration_id": body["registration_id"], "code": code.wait()})
    assert status == 204, body


async def new_account(system: Any, organisation_id: str, role: str, given: str, family: str,
                      password: str, inviter: tuple[str, str] = ("admin@demo.test", "demo-pass-2026")) -> str:
    """A fresh account (its email address is returned), made off the event loop Playwright needs."""
    email = f"{given.lower()}.{secrets.token_hex(4)}@demo.test"
    await asyncio.to_thread(create_account, system, inviter, organisation_id, role, given, family, email, password)
    return email
