"""Kent's flow in the browser, issue 22's done-when, from delegation to the next PEP, as the people do it: the
caseworker delegates the school's sections of a new child's PEP; the DT opens the task from their tray, writes the
targets (one funded by the Virtual School's PP+, one by school funding) and the agreed next meeting (a venue with
`<b>` and `&`, shown as typed, escaped once), and submits the school's contribution from the sign-off page; the
caseworker rates the PEP and returns it with a reason; the DT reads the reason on the amend task, amends and
resubmits; the caseworker rates and approves it; the approver opens the "Approve funding" task from their tray,
where only the PP+ target waits, and approves less than was asked; the social worker finalises from their task; the
child's next PEP is due on the agreed date and carries the agreed meeting. The social worker's section and the
school's other answers are written through the API (tests/system/test_kent_flow.py walks the same flow there);
what each form posted is checked as stored through the API. Every page is checked with axe-core against
WCAG 2.2 AA."""

from __future__ import annotations

import asyncio
import re
from datetime import date, timedelta
from typing import Any

from playwright.async_api import Browser, Page, expect

from services.pep.domain.core_data import academic_year_label
from services.portal.pep_forms import long_date
from shared import demo
from shared.workdays import is_working_day
from tests.browser.axe import assert_accessible
from tests.browser.helpers import new_page, sign_in
from tests.system.test_children import LA, SW, new_child
from tests.system.test_peps import answer_what_is_missing, owners
from tests.system.test_qa import last_working_day_before
from tests.system.test_tasks import eventually, save, section_state, tray

PASSWORD = demo.DEMO_PASSWORD
DELEGATED = ["education", "attainment", "targets", "meeting"]
PP_PLUS = "Virtual School PP+ (up to the end of key stage 4)"
VENUE = "Oakfield Primary, <b>Room 4</b> & library"  # shown as typed: escaped once, never bold
VENUE_ESCAPED = "Oakfield Primary, &lt;b&gt;Room 4&lt;/b&gt; &amp; library"
REASON = "Please make target 1 measurable"


def _next_working_day_after(day: date) -> date:
    day += timedelta(days=1)
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


class Api:
    """The people's API sessions, for setting up and for checking what the browser's forms stored."""

    def __init__(self, system: Any) -> None:
        self.system = system
        self.cookies = {k: system.sign_in(f"{k}@demo.test") for k in ("caseworker", "sw", "dt", "approver")}

    def get(self, who: str, path: str) -> Any:
        status, body, _ = self.system.api("GET", path, cookie=self.cookies[who])
        assert status == 200, (path, body)
        return body

    def new_pep(self) -> tuple[dict[str, Any], str]:
        """A new child at Oakfield and the first PEP the social worker starts for them."""
        child = new_child(self.system, self.cookies["caseworker"], social_worker_id=SW)
        status, pep, _ = self.system.api("POST", f"/api/v1/children/{child['id']}/peps", {
            "kind": "initial", "term": "autumn", "academic_year": academic_year_label(date.today())},
            cookie=self.cookies["sw"])
        assert status == 201, pep
        return child, str(pep["id"])

    def everything_but_what_the_dt_writes_here(self, pep_id: str) -> None:
        """The social worker writes their part; the school's other answers (and the targets' and meeting's
        questions this journey does not name) are given as their writers would, the meeting held last
        working day."""
        system, dt = self.system, self.cookies["dt"]
        eventually(lambda: all(section_state(system, dt, pep_id, k)["delegated"] for k in DELEGATED),
                   "pep hears of the delegation")
        by_owner = owners(system, dt, pep_id)
        answer_what_is_missing(system, self.cookies["sw"], pep_id, by_owner.get("social_worker", set()))
        answer_what_is_missing(system, dt, pep_id, by_owner.get("designated_teacher", set())
                               | by_owner.get("young_person", set()) | by_owner.get("carer", set()))
        status, body = save(system, dt, pep_id, "meeting",
                            {"meeting_date": last_working_day_before(date.today()).isoformat()})
        assert status == 200, body

    def answers(self, pep_id: str, key: str) -> dict[str, Any]:
        return dict(self.get("dt", f"/api/v1/peps/{pep_id}/sections/{key}")["answers"])

    def task(self, who: str, pep_id: str, kind: str, name: str = "current") -> dict[str, Any]:
        return dict(eventually(lambda: [t for t in tray(self.system, self.cookies[who], name, pep_id)
                                        if t["kind"] == kind], f"{who}'s {kind} task in {name}")[0])

    def status(self, pep_id: str) -> str:
        return str(self.get("caseworker", f"/api/v1/peps/{pep_id}")["status"])


async def _done(page: Page, banner: str) -> None:
    await expect(page.locator(".govuk-notification-banner", has_text=banner)).to_be_visible()
    await assert_accessible(page)


async def _open_task(page: Page, portal: str, name: str, what: str) -> None:
    """From the Tasks link in the navigation, the task named `what` for this child."""
    await page.get_by_role("link", name="Tasks", exact=True).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Your tasks")
    row = page.locator("#tasks-table tbody tr", has_text=name).filter(
        has=page.get_by_role("link", name=re.compile("^" + re.escape(what))))
    await expect(row).to_have_count(1)
    await assert_accessible(page)
    await row.get_by_role("link", name=re.compile("^" + re.escape(what))).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(what)


async def _sign_off(page: Page, banner: str) -> None:
    """From the PEP page: the sign-off page, and Submit contribution."""
    await page.get_by_role("button", name="Submit contribution").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Submit your contribution")
    await expect(page.locator("main")).to_contain_text("Every question the school needs to answer has been answered")
    await assert_accessible(page)
    await page.get_by_role("button", name="Submit contribution").click()
    await expect(page.locator(".govuk-notification-banner--success")).to_contain_text(banner)
    await assert_accessible(page)


async def _open_review(page: Page, name: str) -> None:
    """The caseworker's QA queue, once qa has heard of the (re)submission, and the PEP's review page."""
    await page.get_by_role("link", name="Quality assurance", exact=True).click()
    row = page.locator("tbody tr", has_text=name)
    await expect(row).to_contain_text("Not started", timeout=20_000)
    await assert_accessible(page)
    await row.get_by_role("link").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Quality assurance")
    # count() does not wait: nothing is counted before the review page (its last button) has arrived.
    await expect(page.get_by_role("button", name="Save ratings")).to_be_visible()
    await assert_accessible(page)


async def test_kents_flow_from_delegation_to_the_next_pep(system: Any, browser: Browser) -> None:
    portal = system.portal_url
    api = await asyncio.to_thread(Api, system)
    child, pep_id = await asyncio.to_thread(api.new_pep)
    name = f"{child['given_name']} {child['family_name']}"
    next_meeting = _next_working_day_after(date.today() + timedelta(days=42))
    contexts = []

    async def person(email: str) -> tuple[Page, list[str]]:
        context, page, problems = await new_page(browser)
        contexts.append(context)
        await sign_in(system, page, email, PASSWORD)
        return page, problems

    try:
        # ---- 1. The caseworker delegates the school's sections to the DT -----------------------------------
        cw, cw_problems = await person("caseworker@demo.test")
        await cw.goto(f"{portal}/peps/{pep_id}")
        await assert_accessible(cw)
        await cw.get_by_role("button", name="Delegate to the school").click()
        await expect(cw.get_by_role("heading", level=1)).to_have_text("Delegate to the school")
        sections = cw.get_by_role("group", name="Which sections should the school complete?")
        for box in await sections.get_by_role("checkbox").all():
            await box.uncheck()
        for title in ("Education", "Attainment and progress", "Targets and funding", "The PEP meeting"):
            await sections.get_by_label(title, exact=True).check()
        # The PEP has no meeting date yet for the LA's timescale to count from: the caseworker types the date.
        due_back = date.today() + timedelta(days=14)
        by = cw.get_by_role("group", name=re.compile("^When should they submit it"))
        await by.get_by_label("Day").fill(str(due_back.day))
        await by.get_by_label("Month").fill(str(due_back.month))
        await by.get_by_label("Year").fill(str(due_back.year))
        await assert_accessible(cw)
        await cw.get_by_role("button", name="Delegate").click()
        await _done(cw, "Sections delegated to the school")
        task = await asyncio.to_thread(api.task, "dt", pep_id, "complete_sections")
        assert (sorted(task["sections"]), task["due_date"]) == (sorted(DELEGATED), due_back.isoformat()), task
        await asyncio.to_thread(api.everything_but_what_the_dt_writes_here, pep_id)

        # ---- 2. The DT opens the task from their tray and writes the targets and the next meeting ----------
        dt, dt_problems = await person("dt@demo.test")
        await _open_task(dt, portal, name, "Complete sections")
        await assert_accessible(dt)
        await dt.get_by_role("button", name="Open the PEP").click()
        await expect(dt.get_by_role("heading", level=1)).to_have_text("Personal Education Plan")
        await expect(dt.locator(".govuk-task-list__item", has_text="Targets and funding")).to_contain_text(
            "With the school until they submit it")
        await assert_accessible(dt)
        pep_url = dt.url

        await dt.locator(".govuk-task-list").get_by_role("link", name="Targets and funding").click()
        await expect(dt.get_by_role("heading", level=1)).to_have_text("Targets and funding")
        for number, what, funding_type, amount in ((1, "Reading tuition", PP_PLUS, "400.00"),
                                              (2, "Homework club", "School funding", "100.00")):
            row = dt.get_by_role("group", name=f"Current SMART targets: entry {number}", exact=True)
            await row.get_by_role("textbox", name=re.compile(r"^What is the target\?")).fill(what)
            await row.get_by_role("group", name=re.compile(r"^Does it need funding\?")).get_by_label(
                "Yes", exact=True).check()
            await row.get_by_role("group", name=re.compile("^Type of funding")).get_by_label(
                funding_type, exact=True).check()
            await row.get_by_role("textbox", name=re.compile(r"^Amount \(£\)")).fill(amount)
        await assert_accessible(dt)
        await dt.get_by_role("button", name="Save", exact=True).click()
        await _done(dt, "Your answers have been saved")
        stored = (await asyncio.to_thread(api.answers, pep_id, "targets"))["current_targets"]
        assert [(t["what"], t["needs_funding"], t["funding_type"], t["amount"]) for t in stored] == [
            ("Reading tuition", True, "vs_pp_plus", "400.00"), ("Homework club", True, "school_funding", "100.00")]

        await dt.goto(pep_url)
        await dt.locator(".govuk-task-list").get_by_role("link", name="The PEP meeting").click()
        await expect(dt.get_by_role("heading", level=1)).to_have_text("The PEP meeting")
        when = dt.get_by_role("group", name=re.compile("^Date of the next PEP meeting"))
        await when.get_by_label("Day").fill(str(next_meeting.day))
        await when.get_by_label("Month").fill(str(next_meeting.month))
        await when.get_by_label("Year").fill(str(next_meeting.year))
        await dt.get_by_label("Time of the next PEP meeting").fill("10:30")
        await dt.get_by_label("Venue of the next PEP meeting").fill(VENUE)
        await assert_accessible(dt)
        await dt.get_by_role("button", name="Save", exact=True).click()
        await _done(dt, "Your answers have been saved")
        await expect(dt.get_by_label("Venue of the next PEP meeting")).to_have_value(VENUE)
        meeting = await asyncio.to_thread(api.answers, pep_id, "meeting")
        assert (meeting["next_meeting_date"], meeting["next_meeting_time"], meeting["next_meeting_venue"]) == (
            next_meeting.isoformat(), "10:30", VENUE)

        # Submit Contribution from the sign-off page: under Kent's rule the PEP goes to QA.
        await dt.goto(pep_url)
        await _sign_off(dt, "PEP submitted")
        assert await asyncio.to_thread(api.status, pep_id) == "submitted"
        assert (await asyncio.to_thread(api.task, "dt", pep_id, "complete_sections", "submitted"))["id"] \
            == task["id"]

        # ---- 3. The caseworker rates the PEP and returns it with a reason ----------------------------------
        await _open_review(cw, name)
        targets = cw.get_by_role("group", name="Setting SMART targets")
        await targets.get_by_label("Amber", exact=True).check()
        await cw.get_by_role("group", name="Overall rating").get_by_label("Amber", exact=True).check()
        await cw.get_by_role("button", name="Save ratings").click()
        await _done(cw, "Ratings saved")
        await cw.get_by_label("What does the school need to change?").fill(REASON)
        await cw.get_by_role("button", name="Return to the school").click()
        await _done(cw, "PEP returned to the school")
        assert await asyncio.to_thread(api.status, pep_id) == "returned"

        # The DT finds the amend task with the reason, amends the targets and resubmits.
        amend = await asyncio.to_thread(api.task, "dt", pep_id, "amend")
        assert amend["feedback"].splitlines()[0] == REASON, amend
        await _open_task(dt, portal, name, "Amend after QA")
        await expect(dt.locator("main")).to_contain_text("What QA asked for:")
        await expect(dt.locator("main")).to_contain_text(REASON)
        await assert_accessible(dt)
        await dt.get_by_role("button", name="Open the PEP").click()
        await expect(dt).to_have_url(pep_url)
        await dt.locator(".govuk-task-list").get_by_role("link", name="Targets and funding").click()
        await expect(dt.get_by_role("heading", level=1)).to_have_text("Targets and funding")
        first = dt.get_by_role("group", name="Current SMART targets: entry 1", exact=True)
        await first.get_by_role("textbox", name="How will we know it has been achieved?").fill(
            "Reading age up by 6 months by July")
        await dt.get_by_role("button", name="Save", exact=True).click()
        await _done(dt, "Your answers have been saved")
        stored = (await asyncio.to_thread(api.answers, pep_id, "targets"))["current_targets"]
        assert stored[0]["success_criteria"] == "Reading age up by 6 months by July"
        await dt.goto(pep_url)
        await _sign_off(dt, "PEP submitted")
        assert await asyncio.to_thread(api.status, pep_id) == "submitted"
        await asyncio.to_thread(eventually, lambda: any(t["id"] == amend["id"] for t in tray(
            system, api.cookies["dt"], "submitted", pep_id)), "the amend task submitted")

        # ---- 4. The caseworker rates the resubmission and approves it --------------------------------------
        await _open_review(cw, name)
        greens = cw.get_by_label("Green", exact=True)
        for i in range(await greens.count()):
            await greens.nth(i).check()
        await cw.get_by_role("button", name="Save ratings").click()
        await _done(cw, "Ratings saved")
        await cw.get_by_role("button", name="Approve the PEP").click()
        await _done(cw, "PEP approved")
        assert await asyncio.to_thread(api.status, pep_id) == "approved"

        # ---- 5. The approver decides the PP+ target from their tray; the School-funded one is not there -----
        fund_task = await asyncio.to_thread(api.task, "approver", pep_id, "approve_funding")
        assert [(f["target"], f["amount"]) for f in fund_task["funding"]] == [(1, "400.00")], fund_task
        ap, ap_problems = await person("approver@demo.test")
        await ap.get_by_role("link", name="Tasks", exact=True).click()
        row = ap.locator("#tasks-table tbody tr", has_text=name)
        await expect(row).to_contain_text("Approve funding: Target 1, Reading tuition: £400.00 asked")
        await expect(row).not_to_contain_text("Homework club")
        await _open_task(ap, portal, name, "Approve funding")
        await expect(ap.locator("main")).to_contain_text("Target 1, Reading tuition: £400.00 asked")
        await expect(ap.locator("main")).not_to_contain_text("Homework club")
        await assert_accessible(ap)
        await ap.get_by_role("button", name="Decide the funding").click()
        await expect(ap.get_by_role("heading", level=1)).to_have_text("PP+ funding requests")
        group = ap.get_by_role("group", name=f"Decision on {name}’s target 1, Reading tuition: £400.00 asked for",
                               exact=True)
        await expect(group).to_be_visible()
        decisions = ap.locator("form", has=ap.get_by_role("group", name=re.compile("^Decision on")))
        await expect(decisions).to_have_count(1)  # this PEP's PP+ request only: school funding is not queued
        await expect(ap.locator("main")).not_to_contain_text("Homework club")
        await assert_accessible(ap)
        form = ap.locator("form", has=group)
        await group.get_by_label("Approve", exact=True).check()
        await form.get_by_label(f"Amount approved for {name}’s target 1").fill("350.00")
        await form.get_by_role("button", name="Record the decision").click()
        await _done(ap, "Decision recorded")
        queued = (await asyncio.to_thread(
            api.get, "approver", f"/api/v1/funding?la_id={LA}&status=all&pep_id={pep_id}"))["items"]
        assert [(r["target"], r["funding_type"], r["status"], r["amount_approved"]) for r in queued] == [
            (1, "vs_pp_plus", "approved", "350.00")]
        funding = await asyncio.to_thread(
            eventually, lambda: (f := api.get("dt", f"/api/v1/peps/{pep_id}")["funding"]) and f[0]["decision"] and f,
            "the PEP hears the decision")
        assert [(t["target"], t["route"], t["decision"], t["amount_approved"]) for t in funding] == [
            (1, "virtual_school", "approved", "350.00"), (2, "recorded", None, None)]
        await asyncio.to_thread(eventually, lambda: api.get("approver", f"/api/v1/tasks/{fund_task['id']}")[
            "status"] == "completed", "the Approve funding task completes")

        # ---- 6. The social worker finalises from their finalise task ---------------------------------------
        finalise = await asyncio.to_thread(api.task, "sw", pep_id, "finalise")
        sw, sw_problems = await person("sw@demo.test")
        await _open_task(sw, portal, name, "Finalise the PEP")
        await assert_accessible(sw)
        await sw.get_by_role("button", name="Open the PEP").click()
        await expect(sw).to_have_url(pep_url)
        await expect(sw.locator("main")).to_contain_text(re.compile(r"Approved\s+£350\.00 on \d{1,2} \w+ \d{4}"))
        await assert_accessible(sw)
        await sw.get_by_role("button", name="Finalise").click()
        await expect(sw.get_by_role("heading", level=1)).to_have_text("Finalise the PEP")
        await assert_accessible(sw)
        await sw.get_by_role("button", name="Finalise").click()
        await expect(sw).to_have_url(re.compile(rf"/peps/{pep_id}\?done=finalise$"))
        await _done(sw, "PEP finalised")
        assert await asyncio.to_thread(api.status, pep_id) == "finalised"
        await asyncio.to_thread(eventually, lambda: api.get("sw", f"/api/v1/tasks/{finalise['id']}")[
            "status"] == "completed", "the finalise task completes")

        # ---- 7. The next PEP: due on the agreed date, with the agreed meeting ------------------------------
        due = long_date(next_meeting.isoformat())
        await sw.goto(f"{portal}/children/{child['id']}")
        await expect(sw.locator(".govuk-summary-list__row", has_text="Next PEP due")).to_contain_text(due)
        row = sw.locator("tr", has=sw.get_by_role("link", name=re.compile("^Termly review")))
        await expect(row).to_contain_text(due)
        await assert_accessible(sw)
        await row.get_by_role("link", name=re.compile("^Termly review")).click()
        meeting_row = sw.locator(".govuk-summary-list__row").filter(
            has=sw.locator(".govuk-summary-list__key", has_text=re.compile(r"^\s*Meeting\s*$")))
        await expect(meeting_row).to_contain_text(due)
        await assert_accessible(sw)
        next_url = sw.url
        await sw.get_by_role("link", name="View The PEP meeting").click()
        main = sw.locator("main")
        await expect(main).to_contain_text(due)
        await expect(main).to_contain_text("10:30")
        await expect(main.get_by_text(VENUE, exact=True)).to_be_visible()
        html = await main.inner_html()
        assert VENUE_ESCAPED in html and "&amp;lt;" not in html and "<b>Room 4" not in html
        await assert_accessible(sw)
        nxt = next(p for p in await asyncio.to_thread(api.get, "sw", f"/api/v1/children/{child['id']}/peps")
                   if p["id"] != pep_id)
        assert next_url.endswith(f"/peps/{nxt['id']}")
        assert (nxt["kind"], nxt["status"], nxt["meeting_date"]) == (
            "termly_review", "created", next_meeting.isoformat())
        answers = await asyncio.to_thread(api.answers, nxt["id"], "meeting")
        assert (answers["meeting_date"], answers["meeting_time"], answers["location"]) == (
            next_meeting.isoformat(), "10:30", VENUE)

        assert cw_problems == [] and dt_problems == [] and ap_problems == [] and sw_problems == []
    finally:
        for context in contexts:
            await context.close()
