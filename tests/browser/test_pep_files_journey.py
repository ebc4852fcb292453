"""Files in the browser: a PEP signed off by the Designated Teacher once nothing is missing, its Termly PDF downloaded
through the portal with the answers in it, a file uploaded to the child's profile, listed, downloaded and deleted,
and a CSV import with a bad row that shows its report and saves nothing.

Jordan Example is the child, as in test_pep_journey (whose fixture cancels any PEP started here at the end). Every
new page is checked with axe-core against WCAG 2.2 AA.
"""

from __future__ import annotations

import asyncio
import io
import re
import secrets
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, expect
from pypdf import PdfReader

from tests.browser.axe import assert_accessible
from tests.browser.helpers import new_page, sign_in
from tests.browser.test_pep_journey import JORDAN, PASSWORD, jordan_is_free  # noqa: F401  (a fixture)
from tests.pep import samples
from tests.system.test_peps import answer_what_is_missing, owners

STRENGTHS = "Loves building Lego rockets"


def _pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF-"), data[:20]
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).split())


def _pep_with_every_answer(system: Any) -> str:
    """A PEP for Jordan with every mandatory answer given (one of them ours), through the API."""
    sw, dt = system.sign_in("sw@demo.test"), system.sign_in("dt@demo.test")
    status, pep, _ = system.api("POST", f"/api/v1/children/{JORDAN}/peps", {
        "kind": "termly_review", "term": "summer", "academic_year": "2026/27"}, cookie=sw)
    assert status == 201, pep
    section = system.api("GET", f"/api/v1/peps/{pep['id']}/sections/education", cookie=dt)[1]
    status, body, _ = system.api("PUT", f"/api/v1/peps/{pep['id']}/sections/education", {
        "answers": {"strengths": STRENGTHS}, "version": section["version"]}, cookie=dt)
    assert status == 200, body
    by_owner = owners(system, dt, pep["id"])
    answer_what_is_missing(system, sw, pep["id"], by_owner.get("social_worker", set()))
    answer_what_is_missing(system, dt, pep["id"], by_owner.get("designated_teacher", set())
                           | by_owner.get("young_person", set()) | by_owner.get("carer", set()))
    assert system.api("GET", f"/api/v1/peps/{pep['id']}/missing", cookie=dt)[1] == []
    for cookie in (sw, dt):
        system.api("POST", "/api/v1/auth/sign-out", cookie=cookie)
    return str(pep["id"])


async def test_the_pep_is_signed_off_and_its_pdf_holds_the_answers(system: Any, browser: Browser,
                                                                   jordan_is_free: None) -> None:  # noqa: F811
    portal = system.portal_url
    pep_id = await asyncio.to_thread(_pep_with_every_answer, system)
    context, dt, problems = await new_page(browser)
    await sign_in(system, dt, "dt@demo.test", PASSWORD)

    await dt.goto(f"{portal}/peps/{pep_id}/sign-off")
    await expect(dt.get_by_role("heading", level=1)).to_have_text("Submit your contribution")
    await expect(dt.locator("main")).to_contain_text("Every question the school needs to answer has been answered")
    await expect(dt.locator("main")).not_to_contain_text("missing")
    await assert_accessible(dt)
    await dt.get_by_role("button", name="Submit contribution").click()
    await expect(dt.get_by_role("heading", level=1)).to_have_text("Personal Education Plan")
    await expect(dt.locator(".govuk-notification-banner--success")).to_contain_text("PEP submitted")
    await expect(dt.locator(".govuk-summary-list").first).to_contain_text("Submitted")
    await assert_accessible(dt)

    # The Termly PEP, downloaded from its link as the browser saves it. It is made when asked for: the page says
    # so in a status region under the link while it is prepared, then that it has been downloaded.
    termly = dt.get_by_role("link", name="Download the Termly PEP (PDF)")
    status = dt.get_by_role("listitem").filter(has=termly).get_by_role("status")
    await status.evaluate("""(region) => {
        window.statuses = []
        new MutationObserver(() => window.statuses.push(region.textContent)).observe(region, {childList: true})
    }""")
    async with dt.expect_download() as downloading:
        await termly.click()
    download = await downloading.value
    assert re.fullmatch(r"pep-2026-27-summer-termly\.pdf", download.suggested_filename)
    await expect(status).to_have_text(f"Downloaded: {download.suggested_filename}")
    assert (await dt.evaluate("window.statuses"))[0] == "Preparing your download…"
    saved = await download.path()
    assert saved is not None
    text = _pdf_text(Path(saved).read_bytes())
    assert STRENGTHS in text and "Jordan" in text

    # JSON and the blank form come through the portal too, never sniffed nor cached.
    answer = await dt.request.get(f"{portal}/peps/{pep_id}/download/pep.json")
    assert answer.status == 200 and STRENGTHS in await answer.text()
    assert answer.headers["x-content-type-options"] == "nosniff" and answer.headers["cache-control"] == "no-store"
    blank_href = await dt.get_by_role("link", name="Blank form (PDF)").get_attribute("href")
    blank = await dt.request.get(portal + str(blank_href))
    assert blank.status == 200 and (await blank.body()).startswith(b"%PDF-")
    assert blank.headers["content-disposition"].startswith("attachment")
    assert problems == []
    await context.close()


async def test_a_file_is_uploaded_listed_downloaded_and_deleted(system: Any, browser: Browser,
                                                                 jordan_is_free: None) -> None:  # noqa: F811
    portal = system.portal_url
    name = f"Support plan {secrets.token_hex(3)}.pdf"
    plan = samples.pdf("Jordan's support plan")
    context, dt, problems = await new_page(browser)
    await sign_in(system, dt, "dt@demo.test", PASSWORD)
    await dt.goto(f"{portal}/children/{JORDAN}")
    await dt.get_by_role("button", name="Upload a file").click()
    await expect(dt.get_by_role("heading", level=1)).to_have_text("Upload a file")
    await assert_accessible(dt)

    # Nothing chosen: both are named in the error summary.
    await dt.get_by_role("button", name="Upload file").click()
    summary = dt.locator(".govuk-error-summary")
    await expect(summary).to_contain_text("Select a file")
    await expect(summary).to_contain_text("Select what kind of file this is")
    await assert_accessible(dt)

    # Not what it says it is: the gateway's refusal is named on the file.
    await dt.get_by_label("File", exact=True).set_input_files(
        files=[{"name": "plan.pdf", "mimeType": "application/pdf", "buffer": samples.HTML}])
    await dt.get_by_label("Support plan").check()
    await dt.get_by_role("button", name="Upload file").click()
    await expect(summary.get_by_role("link")).to_have_attribute("href", "#file")
    await assert_accessible(dt)

    await dt.get_by_label("File", exact=True).set_input_files(
        files=[{"name": name, "mimeType": "application/pdf", "buffer": plan}])
    await dt.get_by_label("Support plan").check()
    await dt.get_by_role("button", name="Upload file").click()
    await expect(dt.locator(".govuk-notification-banner--success")).to_contain_text("File uploaded")
    row = dt.locator("#files-table tr", has_text=name)
    await expect(row).to_contain_text("Support plan")
    await expect(row).to_contain_text("Dana Teacher")
    await assert_accessible(dt)

    async with dt.expect_download() as downloading:
        await row.get_by_role("link", name=re.compile("^Download")).click()
    download = await downloading.value
    assert download.suggested_filename == name
    saved = await download.path()
    assert saved is not None and Path(saved).read_bytes() == plan

    await row.get_by_role("link", name=re.compile("^Delete")).click()
    await expect(dt.get_by_role("heading", level=1)).to_have_text(f"Are you sure you want to delete {name}?")
    await assert_accessible(dt)
    await dt.get_by_role("button", name="Delete file").click()
    await expect(dt.locator(".govuk-notification-banner--success")).to_contain_text("File deleted")
    await expect(dt.locator("#files-table tr", has_text=name)).to_have_count(0)
    # The browser logs the 422 page the refused upload answered with; nothing else may appear.
    assert [p for p in problems if "status of 4" not in p] == []
    await context.close()


async def test_a_csv_with_a_bad_row_shows_its_report_and_saves_nothing(system: Any, browser: Browser) -> None:
    portal = system.portal_url
    family = f"Csvtest{secrets.token_hex(3)}"
    header = "social_care_id,given_name,family_name,date_of_birth,upn,year_group\n"
    rows = [f"CSV-{secrets.token_hex(4)},Ada,{family},2014-02-03,,Year 6",
            f"CSV-{secrets.token_hex(4)},Cas,{family},2013-02-03,B801200005002,Year 7"]
    context, cw, problems = await new_page(browser)
    await sign_in(system, cw, "caseworker@demo.test", PASSWORD)
    await cw.get_by_role("link", name="Children").click()
    await cw.get_by_role("link", name="Import from CSV").click()
    await expect(cw.get_by_role("heading", level=1)).to_have_text("Import children from CSV")
    await assert_accessible(cw)
    await cw.get_by_label("Or paste the CSV").fill(header + "\n".join(rows))
    await cw.get_by_role("button", name="Import children").click()
    await expect(cw.locator(".govuk-error-summary")).to_contain_text("nothing was imported")
    await expect(cw.locator("main")).to_contain_text("Nothing was saved")
    report = cw.locator("#import-report")
    await expect(report.locator("thead")).to_contain_text("Row")
    await expect(report.locator("tbody tr")).to_have_count(1)
    await expect(report.locator("tbody tr")).to_contain_text("3")
    await expect(report.locator("tbody tr")).to_contain_text("upn")
    await expect(report.locator("tbody tr")).to_contain_text("Enter a valid UPN")
    await expect(cw.get_by_label("Or paste the CSV")).to_have_value(re.compile("Ada"))
    await assert_accessible(cw)
    await cw.goto(f"{portal}/children?q={family}")
    await expect(cw.locator("main")).not_to_contain_text("Ada")
    assert problems == []
    await context.close()
