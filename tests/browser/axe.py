"""Accessibility checks with axe-core (from node_modules) in the page Playwright has open."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from playwright.async_api import Page, Route

AXE_SOURCE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

_RUN_AXE = """async (tags) => {
  const results = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
  return results.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map(n => ({target: n.target.join(' '), summary: n.failureSummary, html: n.html})),
  }));
}"""


async def assert_accessible(page: Page, tags: list[str] = WCAG_22_AA) -> None:
    """Fail, listing every violation readably, unless axe finds none against WCAG 2.2 AA on this page.

    axe is evaluated through the DevTools protocol, which the portal's Content-Security-Policy
    (no inline scripts) does not block, so the page is tested exactly as people get it."""
    if not AXE_SOURCE.exists():
        raise AssertionError(f"{AXE_SOURCE} is missing: run `npm ci`")
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        await page.evaluate(AXE_SOURCE.read_text())
    violations: list[dict[str, Any]] = await asyncio.wait_for(page.evaluate(_RUN_AXE, tags), timeout=60)
    if violations:
        raise AssertionError(f"{len(violations)} accessibility violation(s) on {page.url}:\n"
                             + "\n".join(_describe(v) for v in violations))


async def assert_accessible_without_javascript(page: Page, tags: list[str] = WCAG_22_AA) -> None:
    """The same check for a page open with JavaScript disabled, where axe itself cannot run.

    The page's HTML, scripts removed, is served at the same address to a fresh page in a context with
    JavaScript on (axe needs it); stylesheets and images load from the server as before."""
    assert page.context.browser is not None
    html = re.sub(r"<script\b.*?</script>", "", await page.content(), flags=re.S | re.I)
    context = await page.context.browser.new_context()
    try:
        copy = await context.new_page()

        async def serve_copy(route: Route) -> None:
            await route.fulfill(status=200, content_type="text/html; charset=utf-8", body=html)

        await copy.route(page.url, serve_copy)
        await copy.goto(page.url)
        await assert_accessible(copy, tags)
    finally:
        await context.close()


def _describe(violation: dict[str, Any]) -> str:
    lines = [f"- {violation['id']} ({violation['impact']}): {violation['help']} <{violation['helpUrl']}>"]
    for node in violation["nodes"]:
        lines.append(f"    at {node['target']}: {node['html'][:200]}")
        lines.extend(f"      {line}" for line in str(node["summary"]).splitlines())
    return "\n".join(lines)
