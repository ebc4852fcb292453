"""A child's change of school in the browser (issue 18's done-when): a caseworker records that the child entered care
by emergency placement, then picks the new school by name, with the start date and the reason (every problem named
first, nothing typed lost); then the new school's Designated Teacher has the child and the old school's gets "Page
not found". The reason, with `<b>` and `&`, is shown escaped once on the record and its activity, and stored as
typed. axe on every page."""

from __future__ import annotations

import asyncio
import secrets
from datetime import date, timedelta
from typing import Any

from playwright.async_api import Browser, expect

from services.portal.pep_forms import long_date
from shared import demo
from tests.browser.axe import assert_accessible
from tests.browser.helpers import new_page, sign_in

PASSWORD = "demo-pass-2026"
REASON = "Nearer the new carers <b>Smith</b> & family"
SHOWN = "Nearer the new carers &lt;b&gt;Smith&lt;/b&gt; &amp; family"


def _a_child(system: Any) -> dict[str, Any]:
    """A child at Oakfield (Dana's school), and pep knowing the LA's settings by name."""
    caseworker = system.sign_in("caseworker@demo.test")
    status, child, _ = system.api("POST", "/api/v1/children", {
        "la_id": str(demo.LA_ID), "given_name": "Robin", "family_name": f"Mover{secrets.token_hex(3)}",
        "date_of_birth": "2015-06-06", "setting_id": str(demo.OAKFIELD), "year_group": "Year 6"}, cookie=caseworker)
    assert status == 201, child
    system.api("POST", "/api/v1/auth/sign-out", cookie=caseworker)
    return dict(child)


async def test_a_caseworker_changes_a_childs_school_and_the_dts_follow(system: Any, browser: Browser) -> None:
    child = await asyncio.to_thread(_a_child, system)
    url, name = f"{system.portal_url}/children/{child['id']}", f"Robin {child['family_name']}"

    # Before: Oakfield's DT has the child, Riverside's does not.
    dana, dana_page, dana_problems = await new_page(browser)
    await sign_in(system, dana_page, "dt@demo.test", PASSWORD)
    assert (await dana_page.goto(url)).status == 200

    context, page, problems = await new_page(browser)
    await sign_in(system, page, "caseworker@demo.test", PASSWORD)
    await page.goto(url)
    await expect(page.get_by_role("heading", level=1)).to_have_text(name)
    # Entering care, by emergency placement: core data on the child's edit page (the initial PEP's clock).
    entered = date.today() - timedelta(days=30)
    await page.get_by_role("link", name=f"Change {name}’s details").click()
    care = page.get_by_role("group", name="Date entered care (optional)")
    await care.get_by_label("Day").fill(str(entered.day))
    await care.get_by_label("Month").fill(str(entered.month))
    await care.get_by_label("Year").fill(str(entered.year))
    await page.get_by_role("group", name="Did they enter care by emergency placement?").get_by_label("Yes").check()
    await assert_accessible(page)
    await page.get_by_role("button", name="Save changes").click()
    await expect(page.locator(".govuk-notification-banner")).to_contain_text("Details saved")
    await expect(page.locator(".govuk-summary-list__row", has_text="Date entered care")).to_contain_text(
        f"{long_date(entered.isoformat())}, by emergency placement")

    await page.get_by_role("link", name=f"Change school for {name}").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Change school or setting")
    await expect(page.locator("main")).to_contain_text("Now at: Oakfield Primary School")
    picker = page.get_by_label("New school or setting")
    # The picker names the LA's other settings, never another LA's or the school the child is at.
    options = await picker.locator("option").all_text_contents()
    assert "Riverside Academy" in options and "Hillside School" not in options \
        and "Oakfield Primary School" not in options, options
    await assert_accessible(page)

    # Sent with only the reason typed, every problem is named and the reason is kept.
    await page.get_by_label("Reason for the change").fill(REASON)
    await page.get_by_role("button", name="Change school").click()
    summary = page.locator(".govuk-error-summary")
    for message, target in (("Select the new school or setting", "#setting_id"),
                            ("Enter the start date at the new school", "#starts_on")):
        await expect(summary.get_by_role("link", name=message)).to_have_attribute("href", target)
    await expect(page.get_by_label("Reason for the change")).to_have_value(REASON)
    assert await page.title() == f"Error: Change {name}’s school – ePEP"
    await assert_accessible(page)

    # A start date in the future is pep's to refuse: named beside the date, nothing lost.
    starts = date.today() - timedelta(days=2)
    when = page.get_by_role("group", name="Start date at the new school")
    await picker.select_option(label="Riverside Academy")
    await when.get_by_label("Day").fill("1")
    await when.get_by_label("Month").fill("1")
    await when.get_by_label("Year").fill(str(date.today().year + 1))
    await page.get_by_role("button", name="Change school").click()
    await expect(summary.get_by_role("link", name="The start date must be today or in the past")).to_be_visible()
    await expect(page.get_by_label("New school or setting")).to_have_value(str(demo.RIVERSIDE))
    await expect(page.get_by_label("Reason for the change")).to_have_value(REASON)

    await when.get_by_label("Day").fill(str(starts.day))
    await when.get_by_label("Month").fill(str(starts.month))
    await when.get_by_label("Year").fill(str(starts.year))
    await page.get_by_role("button", name="Change school").click()
    await expect(page.locator(".govuk-notification-banner")).to_contain_text("School changed")
    await assert_accessible(page)

    # The record says where the child is now, since when and why, escaped once; so does its activity.
    main = page.locator("main")
    details = main.locator(".govuk-summary-list__row", has_text="Education setting")
    await expect(details).to_contain_text("Riverside Academy")
    latest = main.locator(".govuk-summary-list__row", has_text="Latest change of school or placement")
    await expect(latest).to_contain_text(f"Change of school from {long_date(starts.isoformat())}: {REASON}")
    await expect(main).to_contain_text(f"Changed school from {long_date(starts.isoformat())}: {REASON}")
    html = await main.inner_html()
    assert SHOWN in html and "&amp;lt;" not in html and "<b>Smith" not in html

    # What pep stored is what was typed, with who made the change.
    cookies = {c["name"]: c["value"] for c in await context.cookies(system.portal_url)}
    status, stored, _ = await asyncio.to_thread(system.api, "GET", f"/api/v1/children/{child['id']}", None,
                                                f"epep_session={cookies['epep_session']}")
    assert status == 200, stored
    assert (stored["setting_id"], stored["moved_on"], stored["move_kind"], stored["move_reason"],
            stored["date_entered_care"], stored["entered_care_emergency"]) == (
        str(demo.RIVERSIDE), starts.isoformat(), "school", REASON, entered.isoformat(), True)
    [moved] = [h for h in stored["setting_history"] if h["version"] == stored["version"]]
    assert (moved["from_value"], moved["to_value"], moved["changed_by_name"]) == (
        str(demo.OAKFIELD), str(demo.RIVERSIDE), "Cal Caseworker")

    # After: Riverside's DT has the child (and reads why); Oakfield's DT gets "Page not found".
    rory, rory_page, rory_problems = await new_page(browser)
    await sign_in(system, rory_page, "dt2@demo.test", PASSWORD)
    assert (await rory_page.goto(url)).status == 200
    await expect(rory_page.get_by_role("heading", level=1)).to_have_text(name)
    await expect(rory_page.locator("main")).to_contain_text(REASON)
    await expect(rory_page.get_by_role("link", name=f"Change school for {name}")).to_have_count(0)
    await assert_accessible(rory_page)
    response = await dana_page.goto(url)
    assert response is not None and response.status == 404
    await expect(dana_page.get_by_role("heading", level=1)).to_have_text("Page not found")
    # A DT cannot reach the change pages either.
    assert (await rory_page.goto(f"{url}/school")).status == 404

    assert problems == []
    assert [p for p in dana_problems + rory_problems if "404 (Not Found)" not in p] == []
    for c in (context, dana, rory):
        await c.close()
