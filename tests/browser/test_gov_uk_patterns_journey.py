"""GOV.UK patterns in Chromium: the cookies page, reached from the footer, lists the essential cookies and passes
axe; a free-text answer with a maximum counts down as someone types (GOV.UK Frontend's character count) and says
when there are too many, still passing axe."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import Browser, expect

from shared.demo import OAKFIELD
from tests.browser.axe import assert_accessible, assert_accessible_without_javascript
from tests.browser.helpers import new_page, sign_in


async def test_the_cookies_page_is_in_every_footer_and_lists_the_essential_cookies(system: Any,
                                                                                   browser: Browser) -> None:
    context, page, problems = await new_page(browser)
    await page.goto(system.portal_url + "/")
    await page.get_by_role("contentinfo").get_by_role("link", name="Cookies").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Cookies")
    table = page.get_by_role("table", name="Cookies this service sets")
    for name in ("epep_session", "epep_csrf", "epep_sign_in"):
        await expect(table.get_by_role("rowheader", name=name)).to_be_visible()
    await assert_accessible(page)
    assert problems == []
    await context.close()

    context, page, _ = await new_page(browser, java_script_enabled=False)
    await page.goto(system.portal_url + "/cookies")
    await expect(page.get_by_role("rowheader", name="epep_session")).to_be_visible()
    await assert_accessible_without_javascript(page)
    await context.close()


async def test_a_free_text_answer_counts_down_to_its_maximum(system: Any, browser: Browser) -> None:
    context, page, problems = await new_page(browser)
    await sign_in(system, page, "admin@demo.test", "demo-pass-2026")
    await page.goto(f"{system.portal_url}/organisations/{OAKFIELD}/edit")
    address = page.get_by_label("Address (optional)")
    count = page.locator("#address-info + .govuk-character-count__status")
    await address.fill("1 School Lane, Oakfield " + "x" * 466)  # 490 of 500
    await expect(count).to_have_text("You have 10 characters remaining")
    await assert_accessible(page)
    await address.fill("y" * 505)
    await expect(count).to_have_text("You have 5 characters too many")
    await expect(address).to_have_class(re.compile(r"\bgovuk-textarea--error\b"))
    await assert_accessible(page)
    assert problems == []
    await context.close()
