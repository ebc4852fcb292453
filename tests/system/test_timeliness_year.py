"""A child's year on the PEP clocks (issue 18's done-when): delegation's clock moves through entering care by
emergency placement, a late initial PEP, two termly reviews, a change of school, a missed termly deadline and the
16th birthday; at each stop every alert on each person's caseload, each email and each in-date figure is checked
against dates worked out by hand below. The clock is the one thing replaced (delegation reads "now" from a file);
the people are real accounts of Northshire, invited and registered for this test, and every step is an API call.

Northshire's year, as the test saves it (restored afterwards):
  Autumn 2025 3 Sep - 19 Dec (deadline Fri 5 Dec)     Spring 2026 5 Jan - 27 Mar (deadline Fri 20 Mar)
  Summer 2026 13 Apr - 21 Jul (deadline Fri 10 Jul)   Autumn 2026 2 Sep - 18 Dec (deadline Fri 4 Dec)
  Spring 2027 5 Jan - 26 Mar (deadline Fri 19 Mar)    Summer 2027 12 Apr - 21 Jul (deadline Fri 9 Jul)
The LA keeps the default rules: initial PEP 10 working days after an emergency placement; review 10 working days
after a change; Post-16 reviews every 6 months; due soon 5 working days before; escalated 10 working days after.

The child, born Tue 20 Jan 2011 (16 on Wed 20 Jan 2027), enters care by emergency placement on Mon 8 Sep 2025 at
Hillside:
- initial PEP due Mon 22 Sep 2025 (8 Sep + 10 working days: 9-12, 15-19, 22 Sep); due soon from Mon 15 Sep
  (5 working days before: 19, 18, 17, 16, 15 Sep); overdue from Tue 23 Sep; escalated Mon 6 Oct (22 Sep + 10
  working days: 23-26 Sep, 29 Sep-3 Oct, 6 Oct). Held late, on Wed 8 Oct 2025.
- Autumn 2025 is the term the child entered care in (the initial PEP's), so the first termly review is Spring
  2026's, due Fri 20 Mar 2026: held on Wed 4 Mar 2026.
- a change of school to Northshire High starting Mon 13 Apr 2026: review due Mon 27 Apr (14-17, 20-24, 27 Apr);
  due soon from Mon 20 Apr (24, 23, 22, 21, 20 Apr). Held on Wed 22 Apr, which is also Summer 2026's termly review.
- Autumn 2026's review is booked for Wed 9 Dec 2026, after the term's deadline of Fri 4 Dec: flagged when booked,
  due soon from Fri 27 Nov (3, 2, 1 Dec, 30, 27 Nov), overdue on Mon 7 Dec, met (late) by the meeting on 9 Dec.
- from the 16th birthday the reviews are six-monthly: due Wed 9 Jun 2027 (9 Dec 2026 + 6 months), no termly
  review; overdue on Thu 10 Jun 2027.
"""

from __future__ import annotations

import json
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from shared import demo
from tests.conftest import RunningSystem
from tests.support.clock import service_on_a_clock, set_clock
from tests.system.qa_steps import decide_in_qa
from tests.system.test_identity_access import GOOD_PASSWORD, fresh_email, invite, register
from tests.system.test_peps import answer_what_is_missing, owners
from tests.system.test_tasks import save

LA, HILLSIDE = str(demo.OTHER_LA_ID), str(demo.HILLSIDE)
TIMESCALES = f"/api/v1/organisations/{LA}/timescales"
IN_DATE = f"/api/v1/organisations/{LA}/in-date"
SCHOOL_NAME = "Northshire <b>High</b> & Sixth Form"
TERMS = [
    {"term": "Autumn 2025", "start": "2025-09-03", "end": "2025-10-24"},
    {"term": "Autumn 2025", "start": "2025-11-03", "end": "2025-12-19"},
    {"term": "Spring 2026", "start": "2026-01-05", "end": "2026-02-13"},
    {"term": "Spring 2026", "start": "2026-02-23", "end": "2026-03-27"},
    {"term": "Summer 2026", "start": "2026-04-13", "end": "2026-05-22"},
    {"term": "Summer 2026", "start": "2026-06-01", "end": "2026-07-21"},
    {"term": "Autumn 2026", "start": "2026-09-02", "end": "2026-10-23"},
    {"term": "Autumn 2026", "start": "2026-11-02", "end": "2026-12-18"},
    {"term": "Spring 2027", "start": "2027-01-05", "end": "2027-03-26"},
    {"term": "Summer 2027", "start": "2027-04-12", "end": "2027-07-21"}]
DEADLINES = [{"term": "Autumn 2025", "due": "2025-12-05"}, {"term": "Spring 2026", "due": "2026-03-20"},
             {"term": "Summer 2026", "due": "2026-07-10"}, {"term": "Autumn 2026", "due": "2026-12-04"},
             {"term": "Spring 2027", "due": "2027-03-19"}, {"term": "Summer 2027", "due": "2027-07-09"}]
SUBJECTS = {"due_soon": "Due soon: a PEP deadline for ", "overdue": "Overdue: a PEP deadline for ",
            "escalated": "Overdue PEP deadline for "}


def eventually(check: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.25)
    return found


@dataclass
class Person:
    id: str
    email: str
    cookie: str


@dataclass
class Northshire:
    admin: Person
    caseworker: Person
    sw: Person
    hillside_dt: Person
    high_dt: Person
    high_school: str


def _rules(current: dict[str, Any]) -> dict[str, Any]:
    return {k: {"amount": v["amount"], "unit": v["unit"]} for k, v in current["rules"].items()}


def _save_timescales(system: RunningSystem, cookie: str, **fields: Any) -> None:
    current = system.api("GET", TIMESCALES, cookie=cookie)[1]
    body = {"based_on_version": current["version"], "rules": _rules(current), "term_periods": current["term_periods"],
            "inset_days": current["inset_days"], "termly_deadlines": current["termly_deadlines"], **fields}
    status, saved, _ = system.api("PUT", TIMESCALES, body, cookie=cookie)
    assert status == 200, saved


def _joined(system: RunningSystem, admin: str, org: str, given: str, role: str) -> Person:
    email = fresh_email(given.lower())
    register(system, invite(system, admin, org, given, "Northshire", email, role), given, "Northshire", email)
    cookie = system.sign_in(email, GOOD_PASSWORD)
    me = system.api("GET", "/api/v1/me", cookie=cookie)[1]
    return Person(str(me["id"]), email, cookie)


@pytest.fixture(scope="module")
def northshire(system: RunningSystem) -> Iterator[Northshire]:
    """Northshire's VS admin, and a caseworker, a social worker and a second school's DT invited for the test; the
    LA's term dates and termly deadlines as above, and its timescales as they were afterwards."""
    cookie = system.sign_in("admin@northshire.test")
    me = system.api("GET", "/api/v1/me", cookie=cookie)[1]
    admin = Person(str(me["id"]), "admin@northshire.test", cookie)
    status, school, _ = system.api("POST", f"/api/v1/organisations/{LA}/settings",
                                   {"name": SCHOOL_NAME, "setting_type": "academy", "phase": "secondary"},
                                   cookie=cookie)
    assert status == 201, school
    world = Northshire(
        admin=admin, caseworker=_joined(system, cookie, LA, "Cass", "vs_caseworker"),
        sw=_joined(system, cookie, LA, "Sian", "social_worker"),
        hillside_dt=Person(str(demo.account_id("dt3")), "dt@hillside.test", system.sign_in("dt@hillside.test")),
        high_dt=_joined(system, cookie, str(school["id"]), "Hal", "designated_teacher"),
        high_school=str(school["id"]))
    before = system.api("GET", TIMESCALES, cookie=cookie)[1]
    _save_timescales(system, cookie, term_periods=TERMS, termly_deadlines=DEADLINES)
    try:
        yield world
    finally:
        _save_timescales(system, cookie, rules=_rules(before), term_periods=before["term_periods"],
                         inset_days=before["inset_days"], termly_deadlines=before["termly_deadlines"])


@pytest.fixture
def clock(system: RunningSystem, tmp_path: Path) -> Iterator[Path]:
    """delegation on the test's clock, for its answers and its prompts (looked for every 0.2 s)."""
    with service_on_a_clock(system, "delegation", tmp_path / "now",
                            {"EPEP_PROMPT_INTERVAL_SECONDS": "0.2"}) as clock_file:
        yield clock_file


class Year:
    """The child's year: the clock, and what each person's caseload, the child's clocks and the in-date figures
    say on the day it shows."""

    def __init__(self, system: RunningSystem, world: Northshire, clock_file: Path, child: dict[str, Any]) -> None:
        self.system, self.world, self.clock_file, self.child = system, world, clock_file, child
        self.name = f"{child['given_name']} {child['family_name']}"

    def on(self, day: date) -> None:
        set_clock(self.clock_file, day, hour=10)
        eventually(lambda: self.clocks()["today"] == day.isoformat(), f"delegation's clock at {day}")

    def clocks(self) -> dict[str, Any]:
        status, body, _ = self.system.api("GET", f"/api/v1/children/{self.child['id']}/clocks",
                                          cookie=self.world.admin.cookie)
        assert status == 200, body
        return dict(body)

    def clock(self, key: str) -> dict[str, Any] | None:
        return next((c for c in self.clocks()["clocks"] if c["key"] == key), None)

    def alerts(self, who: Person) -> list[tuple[str, str | None]] | None:
        """The child's alerts on `who`'s caseload (kind, the date it was due), or None if the child is not on it."""
        status, body, _ = self.system.api("GET", "/api/v1/caseload", cookie=who.cookie)
        assert status == 200, body
        item = next((i for i in body["items"] if i["child_id"] == self.child["id"]), None)
        if item is None:
            return None
        return sorted(((a["kind"], a["due"]) for a in item["alerts"]), key=lambda a: (a[0], a[1] or ""))

    def in_date(self) -> dict[str, Any]:
        status, body, _ = self.system.api("GET", IN_DATE, cookie=self.world.admin.cookie)
        assert status == 200, body
        return dict(body)

    def figure(self, group: str, id: str) -> tuple[int, int, float | None]:
        found = next(g for g in self.in_date()[f"by_{group}"] if g["id"] == id)
        return found["children"], found["in_date"], found["percent"]

    def prompts(self) -> Counter[tuple[str, str, str]]:
        """The prompt emails about this child so far: (recipient, stage, what was due), counted."""
        out: Counter[tuple[str, str, str]] = Counter()
        for person in (self.world.sw, self.world.hillside_dt, self.world.high_dt, self.world.admin,
                       self.world.caseworker):
            for message in self.system.mailbox.messages(person.email):
                subject = str(message["Subject"])
                stage = next((s for s, prefix in SUBJECTS.items() if subject.startswith(prefix)), None)
                body = message.get_body(preferencelist=("plain",))
                text = body.get_content() if body else ""
                if stage is None or self.name not in text:
                    continue
                label = next(label for label in ("Initial PEP", "Review after a change of school",
                                                 "Termly PEP review", "Post-16 PEP review") if label in text)
                out[(person.email, stage, label)] += 1
        return out

    def prompted(self, expected: Counter[tuple[str, str, str]]) -> None:
        """Every expected email arrived, and after many more ticks of the scheduler, none twice and nothing else."""
        eventually(lambda: set(expected) <= set(self.prompts()), f"emails {set(expected) - set(self.prompts())}")
        time.sleep(2.0)  # about ten more ticks of the scheduler
        assert self.prompts() == expected


def hold(system: RunningSystem, world: Northshire, dt: Person, pep_id: str, meeting: str) -> str:
    """The PEP's meeting held on `meeting`, the PEP written, submitted, approved through QA and finalised; the id of
    the next termly PEP that finalising starts."""
    status, body = save(system, dt.cookie, pep_id, "meeting",
                        {"meeting_date": meeting, "meeting_time": "10:00", "location": "The school library"})
    assert status == 200, body
    by_owner = owners(system, dt.cookie, pep_id)
    answer_what_is_missing(system, world.sw.cookie, pep_id, by_owner.get("social_worker", set()))
    answer_what_is_missing(system, dt.cookie, pep_id, by_owner.get("designated_teacher", set())
                           | by_owner.get("young_person", set()) | by_owner.get("carer", set()))
    status, body, _ = system.api("POST", f"/api/v1/peps/{pep_id}/actions/submit", {}, cookie=dt.cookie)
    assert status == 200, body
    status, body = decide_in_qa(system, world.caseworker.cookie, pep_id, "approve")
    assert (status, body["status"]) == (200, "approved"), body
    status, body, _ = system.api("POST", f"/api/v1/peps/{pep_id}/actions/finalise", {}, cookie=world.sw.cookie)
    assert (status, body["status"]) == (200, "finalised"), body
    peps = system.api("GET", f"/api/v1/children/{body['child_id']}/peps", cookie=world.sw.cookie)[1]
    return str(next(p["id"] for p in peps if p["status"] == "created"))


def test_a_childs_year_on_the_pep_clocks(system: RunningSystem, northshire: Northshire, clock: Path) -> None:
    world = northshire
    set_clock(clock, date(2025, 9, 1))  # before the child's story starts: nothing about them is due on the real day
    status, child, _ = system.api("POST", "/api/v1/children", {
        "la_id": LA, "given_name": "Jesse", "family_name": f"Yearlong{secrets.token_hex(3)}",
        "date_of_birth": "2011-01-20", "setting_id": HILLSIDE, "year_group": "Year 10",
        "social_worker_id": world.sw.id, "date_entered_care": "2025-09-08", "entered_care_emergency": True,
    }, cookie=world.caseworker.cookie)
    assert status == 201, child
    year = Year(system, world, clock, child)
    eventually(lambda: system.admin_sql("SELECT 1 FROM delegation.children WHERE id = $1::text::uuid AND "
                                        "entered_care_emergency", child["id"]), "delegation hears of the child")
    expected: Counter[tuple[str, str, str]] = Counter()
    sw, hillside, high = world.sw, world.hillside_dt, world.high_dt

    # Fri 12 Sep 2025: the initial PEP is due on Mon 22 Sep, by the emergency rule; no PEP has a date.
    year.on(date(2025, 9, 12))
    initial = year.clock("initial_pep")
    assert initial is not None and (initial["due"], initial["state"]) == ("2025-09-22", "open"), initial
    assert "10 working days" in initial["explanation"] and "emergency placement" in initial["explanation"]
    termly = year.clock("termly_review")
    assert termly is not None and (termly["due"], termly["state"]) == ("2026-03-20", "open"), termly
    assert year.clocks()["in_date"] is True
    for who in (sw, hillside, world.caseworker, world.admin):
        assert year.alerts(who) == [("no_pep_date", None)], who.email
    assert year.alerts(high) is None

    # Mon 15 Sep: due soon; the social worker and Hillside's DT are told, once each.
    year.on(date(2025, 9, 15))
    assert year.clock("initial_pep")["state"] == "due_soon"  # type: ignore[index]
    assert year.alerts(sw) == [("due_soon", "2025-09-22"), ("no_pep_date", None)]
    expected.update({(sw.email, "due_soon", "Initial PEP"): 1, (hillside.email, "due_soon", "Initial PEP"): 1})
    year.prompted(expected)

    # Tue 23 Sep: overdue, and late as an initial PEP; not in date; told again, once.
    year.on(date(2025, 9, 23))
    assert year.clock("initial_pep")["state"] == "overdue"  # type: ignore[index]
    for who in (sw, hillside, world.caseworker):
        assert year.alerts(who) == [("initial_pep_late", "2025-09-22"), ("no_pep_date", None),
                                    ("overdue", "2025-09-22")], who.email
    assert year.clocks()["in_date"] is False
    assert year.figure("social_worker", sw.id) == (1, 0, 0.0)
    behind = system.api("GET", f"{IN_DATE}/children?group=social_worker&id={sw.id}&not_in_date=true",
                        cookie=world.admin.cookie)[1]
    assert [(i["child_id"], [(r["clock"], r["due"]) for r in i["reasons"]]) for i in behind["items"]] == [
        (child["id"], [("initial_pep", "2025-09-22")])]
    expected.update({(sw.email, "overdue", "Initial PEP"): 1, (hillside.email, "overdue", "Initial PEP"): 1})
    year.prompted(expected)

    # Mon 6 Oct: still overdue after the LA's escalation period: the Virtual School is told, once each.
    year.on(date(2025, 10, 6))
    expected.update({(world.admin.email, "escalated", "Initial PEP"): 1,
                     (world.caseworker.email, "escalated", "Initial PEP"): 1})
    year.prompted(expected)

    # The initial PEP meets on Wed 8 Oct; on Thu 9 Oct it is met, and Spring 2026's review is the next clock.
    status, pep, _ = system.api("POST", f"/api/v1/children/{child['id']}/peps", {
        "kind": "initial", "term": "autumn", "academic_year": "2025/26"}, cookie=sw.cookie)
    assert status == 201, pep
    spring = hold(system, world, hillside, pep["id"], "2025-10-08")
    year.on(date(2025, 10, 9))
    assert (year.clock("initial_pep") or {}).get("state") == "met"
    assert (year.clock("initial_pep") or {}).get("met_on") == "2025-10-08"
    assert year.clocks()["in_date"] is True
    assert year.alerts(sw) == [("no_pep_date", None)]  # the next PEP is started, with no date yet
    assert year.figure("social_worker", sw.id) == (1, 1, 100.0)

    # Spring 2026's termly review on Wed 4 Mar: met on Thu 5 Mar.
    summer = hold(system, world, hillside, spring, "2026-03-04")
    year.on(date(2026, 3, 5))
    assert {k: (year.clock(k) or {}).get("state") for k in ("initial_pep", "termly_review")} == {
        "initial_pep": "met", "termly_review": "met"}

    # A change of school from Mon 13 Apr 2026: Northshire High's DT has the child, Hillside's no longer does;
    # the review is due Mon 27 Apr.
    version = system.api("GET", f"/api/v1/children/{child['id']}", cookie=world.caseworker.cookie)[1]["version"]
    status, moved, _ = system.api("POST", f"/api/v1/children/{child['id']}/setting", {
        "version": version, "setting_id": world.high_school, "starts_on": "2026-04-13",
        "reason": "Moved to a school near the new foster home"}, cookie=world.caseworker.cookie)
    assert status == 200, moved
    eventually(lambda: system.admin_sql("SELECT 1 FROM delegation.children WHERE id = $1::text::uuid AND "
                                        "moved_on = '2026-04-13'", child["id"]), "delegation hears of the move")
    year.on(date(2026, 4, 14))
    change = year.clock("review_after_change")
    assert change is not None and (change["label"], change["due"], change["state"]) == (
        "Review after a change of school", "2026-04-27", "open"), change
    assert year.alerts(hillside) is None
    assert year.alerts(high) == [("no_pep_date", None), ("review_after_change", "2026-04-27")]
    assert system.api("GET", f"/api/v1/children/{child['id']}", cookie=hillside.cookie)[0] == 404

    # Mon 20 Apr: the review is due soon: the social worker and the new school's DT are told (not Hillside's).
    year.on(date(2026, 4, 20))
    assert year.alerts(high) == [("due_soon", "2026-04-27"), ("no_pep_date", None),
                                 ("review_after_change", "2026-04-27")]
    expected.update({(sw.email, "due_soon", "Review after a change of school"): 1,
                     (high.email, "due_soon", "Review after a change of school"): 1})
    year.prompted(expected)

    # The review meets on Wed 22 Apr: it is Summer 2026's termly review too.
    autumn = hold(system, world, high, summer, "2026-04-22")
    year.on(date(2026, 4, 23))
    assert {k: (year.clock(k) or {}).get("state") for k in ("review_after_change", "termly_review")} == {
        "review_after_change": "met", "termly_review": "met"}
    assert year.figure("setting", world.high_school) == (1, 1, 100.0)

    # Mon 20 Jul 2026, the summer term: the trend is counted at each term's end, and today for this term.
    year.on(date(2026, 7, 20))
    trend = year.in_date()["trend"]
    assert [(t["term"], t["as_of"], t["current"]) for t in trend] == [
        ("Autumn 2025", "2025-12-19", False), ("Spring 2026", "2026-03-27", False), ("Summer 2026", "2026-07-20", True)]

    # Autumn 2026's review is booked for Wed 9 Dec, after the term's deadline of Fri 4 Dec: flagged at once.
    status, body = save(system, high.cookie, autumn, "meeting",
                        {"meeting_date": "2026-12-09", "meeting_time": "10:00", "location": "The school library"})
    assert status == 200, body
    year.on(date(2026, 11, 20))
    termly = eventually(lambda: (c := year.clock("termly_review")) and c["booked_late"] and c,
                        "the late booking is flagged")
    assert (termly["due"], termly["state"]) == ("2026-12-04", "open"), termly

    # Fri 27 Nov: due soon, told; Mon 7 Dec: the deadline missed, overdue, told; not in date.
    year.on(date(2026, 11, 27))
    assert year.alerts(high) == [("due_soon", "2026-12-04"), ("upcoming", "2026-12-09")]
    expected.update({(sw.email, "due_soon", "Termly PEP review"): 1, (high.email, "due_soon", "Termly PEP review"): 1})
    year.prompted(expected)
    year.on(date(2026, 12, 7))
    for who in (sw, high, world.caseworker, world.admin):
        assert year.alerts(who) == [("overdue", "2026-12-04"), ("upcoming", "2026-12-09")], who.email
    assert year.figure("setting", world.high_school) == (1, 0, 0.0)
    behind = system.api("GET", f"{IN_DATE}/children?group=setting&id={world.high_school}",
                        cookie=world.admin.cookie)[1]
    assert [(i["child_id"], i["in_date"], [(r["clock"], r["due"]) for r in i["reasons"]]) for i in behind["items"]
            ] == [(child["id"], False, [("termly_review", "2026-12-04")])]
    expected.update({(sw.email, "overdue", "Termly PEP review"): 1, (high.email, "overdue", "Termly PEP review"): 1})
    year.prompted(expected)

    # Thu 10 Dec: the meeting on 9 Dec met it, late; back in date.
    year.on(date(2026, 12, 10))
    termly = year.clock("termly_review")
    assert termly is not None and (termly["state"], termly["met_on"], termly["booked_late"]) == (
        "met", "2026-12-09", True), termly
    assert year.figure("setting", world.high_school) == (1, 1, 100.0)
    assert year.alerts(high) == []

    # Thu 21 Jan 2027, the day after the 16th birthday: six-monthly reviews instead of termly ones.
    year.on(date(2027, 1, 21))
    keys = {c["key"] for c in year.clocks()["clocks"]}
    assert "termly_review" not in keys, keys
    post16 = year.clock("post16_review")
    assert post16 is not None and (post16["due"], post16["state"]) == ("2027-06-09", "open"), post16

    # Thu 10 Jun 2027: the Post-16 review is overdue; told once; not in date.
    year.on(date(2027, 6, 10))
    # The Post-16 review, and the PEP of 9 Dec still not submitted 10 working days after its meeting (23 Dec 2026).
    assert year.alerts(sw) == [("overdue", "2026-12-23"), ("overdue", "2027-06-09")]
    assert year.figure("social_worker", sw.id) == (1, 0, 0.0)
    expected.update({(sw.email, "overdue", "Post-16 PEP review"): 1, (high.email, "overdue", "Post-16 PEP review"): 1})
    year.prompted(expected)
    assert json.dumps(sorted(expected.items())) == json.dumps(sorted(year.prompts().items()))
