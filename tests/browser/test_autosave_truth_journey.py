"""Autosave tells the truth (issue 22, item 8), in Chromium with the page's script.

A Designated Teacher working alone types (an autosave sets off) and at once presses Save and continue, again and
again: never the conflict page, never "saved with theirs", and what pep keeps (read through the API) is the last
thing they typed. The page holds its form until the autosave on its way has answered, and posts the version that
save made; some rounds slow the autosave's answer down so that it is surely still in flight when the button is
pressed (pep has saved it; the page does not know yet). Then a colleague (Sol Staff, through the API) saves
another question in between: now the DT's save says "saved with theirs", and both answers are kept. Every page
is checked with axe-core against WCAG 2.2 AA.

Jordan Example (the demo's first child, at Oakfield) is the child; the PEP started here is cancelled at the end.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Browser, Page, Request, Response, Route, expect

from shared import demo
from tests.browser.axe import assert_accessible
from tests.browser.helpers import new_page, sign_in

JORDAN = str(demo.CHILDREN[0]["id"])
OPEN = ("created", "in_progress", "submitted", "returned", "approved")
ROUNDS = 6
# The only console message allowed: the DT's autosave finding that Sol saved first (409), in the last part.
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
    """No PEP in progress for Jordan before the test, nor after it."""
    await asyncio.to_thread(_cancel_open_peps, system)
    await asyncio.to_thread(_let_staff_write_every_section, system)
    yield
    await asyncio.to_thread(_cancel_open_peps, system)


def _education(system: Any, cookie: str, pep_id: str) -> dict[str, Any]:
    status, section, _ = system.api("GET", f"/api/v1/peps/{pep_id}/sections/education", cookie=cookie)
    assert status == 200, section
    return dict(section)


async def _open_education(page: Page, pep_url: str) -> None:
    await page.goto(pep_url + "/sections/education")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Education")


class Traffic:
    """The order in which the page's saves leave and answer: autosaves and the form's own post."""

    def __init__(self, page: Page, section_path: str) -> None:
        self.events: list[str] = []
        self.path = section_path
        page.on("request", self._request)
        page.on("response", self._response)

    def _kind(self, url: str, method: str) -> str | None:
        if method != "POST":
            return None
        if url.endswith(self.path + "/autosave"):
            return "autosave"
        return "form" if url.endswith(self.path) else None

    def _request(self, request: Request) -> None:
        if kind := self._kind(request.url, request.method):
            self.events.append(f"{kind} sent")

    def _response(self, response: Response) -> None:
        if kind := self._kind(response.url, response.request.method):
            self.events.append(f"{kind} answered")

    def never_two_in_flight(self) -> None:
        in_flight = 0
        for event in self.events:
            in_flight += 1 if event.endswith("sent") else -1
            assert in_flight <= 1, self.events


async def test_own_autosave_never_conflicts_with_own_save_and_theirs_is_said_only_for_theirs(
        system: Any, browser: Browser, jordan_is_free: None) -> None:
    portal = system.portal_url
    sw = await asyncio.to_thread(system.sign_in, "sw@demo.test")
    status, pep, _ = await asyncio.to_thread(system.api, "POST", f"/api/v1/children/{JORDAN}/peps", {
        "kind": "termly_review", "term": "spring", "academic_year": "2026/27"}, sw)
    assert status == 201, pep
    pep_id = pep["id"]
    pep_url = f"{portal}/peps/{pep_id}"
    dt_api = await asyncio.to_thread(system.sign_in, "dt@demo.test")

    context, dt, problems = await new_page(browser)
    await sign_in(system, dt, "dt@demo.test", demo.DEMO_PASSWORD)
    traffic = Traffic(dt, f"/peps/{pep_id}/sections/education")

    async def slowly(route: Route) -> None:
        # pep has saved the autosave, but its answer is slow to come back: the page is still waiting for it (and
        # holds the version before it) when the button is pressed.
        response = await route.fetch()
        await asyncio.sleep(0.6)
        await route.fulfill(response=response)

    strengths = dt.get_by_label("Strengths and interests")
    banner = dt.locator(".govuk-notification-banner--success")
    for round_ in range(1, ROUNDS + 1):
        slow = round_ % 2 == 1
        if slow:
            await dt.route("**/sections/education/autosave", slowly)
        await _open_education(dt, pep_url)
        if round_ == 1:
            await assert_accessible(dt)
        before = len(traffic.events)
        first, final = f"Round {round_}: building", f"Round {round_}: building models & <b>bridges</b>"
        await strengths.fill(first)
        async with dt.expect_request(lambda r: r.url.endswith("/sections/education/autosave")):
            await strengths.press("Tab")  # leaving the box sends the autosave at once
        await strengths.fill(final)  # typing on while it is on its way
        await dt.get_by_role("button", name="Save and continue").click()
        await expect(dt.get_by_role("heading", level=1)).to_have_text("Personal Education Plan")
        await expect(banner).to_contain_text("Your answers have been saved")
        await expect(banner).not_to_contain_text("with theirs")
        if round_ == 1:
            await assert_accessible(dt)
        if slow:
            # The form went only after the autosave had answered, with the version that autosave made.
            mine = traffic.events[before:]
            assert mine.index("form sent") > mine.index("autosave answered"), mine
            await dt.unroute("**/sections/education/autosave", slowly)
        section = await asyncio.to_thread(_education, system, dt_api, pep_id)
        assert section["answers"]["strengths"] == final, (round_, section["answers"])
    traffic.never_two_in_flight()
    assert "Someone else saved this section" not in await dt.content()

    # ---- someone else saves another question in between: now, and only now, "saved with theirs" -----------------
    await _open_education(dt, pep_url)
    version = int(await dt.locator("[data-section-version]").input_value())
    staff = await asyncio.to_thread(system.sign_in, "staff@demo.test")
    status, saved, _ = await asyncio.to_thread(
        system.api, "PUT", f"/api/v1/peps/{pep_id}/sections/education",
        {"answers": {"profile_behaviour": "Settled well after the holidays"}, "version": version}, staff)
    assert status == 200, saved
    await strengths.fill("Chess club & drawing")
    await dt.get_by_role("button", name="Save and continue").click()
    await expect(dt.get_by_role("heading", level=1)).to_have_text("Personal Education Plan")
    await expect(banner).to_contain_text("Your answers have been saved with theirs")
    await assert_accessible(dt)
    answers = (await asyncio.to_thread(_education, system, dt_api, pep_id))["answers"]
    assert answers["strengths"] == "Chess club & drawing"
    assert answers["profile_behaviour"] == "Settled well after the holidays"
    # The section page shows both, the text escaped once.
    await _open_education(dt, pep_url)
    await expect(strengths).to_have_value("Chess club & drawing")
    await expect(dt.get_by_label("Behaviour")).to_have_value("Settled well after the holidays")
    await assert_accessible(dt)

    assert [p for p in problems if not EXPECTED_CONSOLE.search(p)] == []
    await context.close()
    for cookie in (sw, dt_api, staff):
        await asyncio.to_thread(system.api, "POST", "/api/v1/auth/sign-out", None, cookie)
