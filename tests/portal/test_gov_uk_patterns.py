"""GOV.UK Design System patterns in the portal: a cookies page listing every cookie the portal sets, linked from
every page's footer; the character count on every free-text answer with a maximum; the table macro; and long
downloads that say they are being prepared. (tests/browser/test_gov_uk_patterns_journey.py: the same in
Chromium, with axe.)"""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp.test_utils import TestClient

from services.portal import text_limits
from shared.api.children import NoteIn
from tests.portal.fake_gateway import FakeGateway
from tests.portal.test_pep_pages import PEP, SECTION_URL, signed_in  # noqa: F401  (a fixture)

PORTAL = Path(__file__).resolve().parents[2] / "services" / "portal"


async def test_the_cookies_page_lists_every_cookie_the_portal_sets(portal: TestClient) -> None:  # noqa: F811
    html = await (await portal.get("/cookies")).text()
    assert "<h1 class=\"govuk-heading-l\">Cookies</h1>" in html
    table = html.split('<table class="govuk-table"')[1].split("</table>")[0]
    # Every cookie name in the portal's code, each a row header in the table.
    names = {name for path in PORTAL.glob("*.py") for name in re.findall(r'"(epep_[a-z_]+)"', path.read_text())}
    assert {"epep_session", "epep_csrf", "epep_sign_in", "epep_return", "epep_views"} <= names
    for name in names:
        assert f'<th scope="row" class="govuk-table__header">{name}</th>' in table, name
    assert "20 minutes without using the service" in table


async def test_every_page_links_to_the_cookies_page_from_its_footer(portal: TestClient) -> None:  # noqa: F811
    for path in ("/", "/sign-in", "/accessibility", "/privacy", "/cookies"):
        html = await (await portal.get(path)).text()
        footer = html.split('<div class="govuk-footer">')[1]
        assert '<a class="govuk-footer__link" href="/cookies">Cookies</a>' in footer, path


async def test_a_long_answer_counts_down_to_the_most_pep_accepts(portal: TestClient,  # noqa: F811
                                                                  signed_in: FakeGateway) -> None:  # noqa: F811
    html = await (await portal.get(SECTION_URL)).text()
    strengths = html.split('id="answers-strengths"')[0].rsplit('<div class="govuk-form-group', 1)[1]
    assert 'govuk-character-count" data-module="govuk-character-count" data-maxlength="10000"' in strengths
    # Without JavaScript the limit is said in words, under the box.
    assert "You can enter up to 10000 characters" in html.split('id="answers-strengths"')[1]


def test_each_forms_limit_is_the_one_its_api_model_enforces() -> None:
    assert text_limits.LIMITS["child_note"] == NoteIn.model_json_schema()["properties"]["body"]["maxLength"]
    assert set(text_limits.LIMITS.values()) <= {500, 2000, 4000, 5000}


def test_every_textarea_with_a_maximum_is_a_character_count() -> None:
    """The only plain textareas left are those with no maximum of their own: lists a line each, a template's help
    text, and a pasted CSV file (up to 900 KB: a count of characters says nothing useful there)."""
    plain = {(path.name, name) for path in (PORTAL / "templates").glob("*.html")
             for name in re.findall(r'govukTextarea\(\{.*?"name": "?([\w.~ "-]+?)"?[,}]', path.read_text(), re.S)}
    assert plain == {("timescales_change.html", "term_periods"), ("timescales_change.html", "inset_days"),
                     ("timescales_change.html", "termly_deadlines"), ("template_section.html", "hint_id"),
                     ("children_import.html", "csv")}, plain
    counted = [path.name for path in (PORTAL / "templates").glob("*.html")
               if "govukCharacterCount({" in path.read_text()]
    assert len(counted) >= 10


async def test_a_pdf_link_is_marked_for_the_preparing_status(portal: TestClient,  # noqa: F811
                                                             signed_in: FakeGateway) -> None:  # noqa: F811
    html = await (await portal.get(f"/peps/{PEP}")).text()
    for link in ("termly.pdf", "full.pdf"):
        assert re.search(rf'href="/peps/{PEP}/download/{link}" download data-download-status>', html), link
