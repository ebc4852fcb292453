"""A child's PEP clocks through the gateway (issue 18): a child created by the API with the date they entered care
by emergency placement has an initial-PEP clock that delegation dates by the LA's rule, on delegation's own clock
(a clock file, so the test chooses "today"); the PEP's meeting, once held, meets it; the LA's VS admin changing the
rule moves the date and the explanation names the new version, while a client that leaves the clock rules out of its
save keeps them. Anyone who does not work with the child gets 404, as for an unknown child.

Dates worked out by hand: entered care Mon 2 Nov 2026 by emergency placement, 10 working days (no bank holidays):
Tue 3 (1), Wed 4 (2), Thu 5 (3), Fri 6 (4), Mon 9 (5), Tue 10 (6), Wed 11 (7), Thu 12 (8), Fri 13 (9), Mon 16 Nov
2026 (10). Due soon from 5 working days before: Fri 13 (1), Thu 12 (2), Wed 11 (3), Tue 10 (4), Mon 9 Nov (5).
"""

from __future__ import annotations

import urllib.request
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from shared import demo
from tests.conftest import RunningSystem
from tests.support.clock import service_on_a_clock, set_clock
from tests.system.test_children import SW, new_child
from tests.system.test_tasks import eventually, save

# The rules of the timescales API's first version, and the PEP clocks' rules added since.
FIRST_RULES = ("initial_pep", "initial_pep_emergency", "delegate", "dt_return", "vs_review", "approver", "finalise")
CLOCK_RULES = ("review_after_change", "post16_review", "qa_review", "due_soon", "escalate_after")
ENTERED = date(2026, 11, 2)
DUE = date(2026, 11, 16)


@pytest.fixture(scope="module")
def cookies(system: RunningSystem) -> dict[str, str]:
    return {who: system.sign_in(email) for who, email in (
        ("caseworker", "caseworker@demo.test"), ("sw", "sw@demo.test"), ("dt", "dt@demo.test"),
        ("admin", "admin@demo.test"),
        ("dt2", "dt2@demo.test"), ("northshire", "admin@northshire.test"))}


def clocks_of(system: RunningSystem, cookie: str, child_id: str) -> tuple[int, Any]:
    status, body, _ = system.api("GET", f"/api/v1/children/{child_id}/clocks", cookie=cookie)
    return status, body


def by_key(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["key"]: c for c in body["clocks"]}


def test_a_childs_initial_pep_clock_on_delegations_clock(system: RunningSystem, cookies: dict[str, str],
                                                         tmp_path: Path) -> None:
    cw, sw = cookies["caseworker"], cookies["sw"]
    child = new_child(system, cw, social_worker_id=SW, date_entered_care=ENTERED.isoformat(),
                      entered_care_emergency=True)
    with service_on_a_clock(system, "delegation", tmp_path / "clock") as clock:
        set_clock(clock, date(2026, 11, 6))

        def heard() -> dict[str, Any] | None:
            status, body = clocks_of(system, cw, child["id"])
            return body if status == 200 and "initial_pep" in by_key(body) else None

        body = eventually(heard, "delegation hears of the child's date entered care")
        initial = by_key(body)["initial_pep"]
        assert (body["today"], body["in_care"], body["in_date"]) == ("2026-11-06", True, True)
        assert (initial["due"], initial["state"], initial["label"]) == (DUE.isoformat(), "open", "Initial PEP")
        assert initial["explanation"] == ("10 working days after entering care on 2 November 2026 by emergency "
                                          "placement (default rule 'initial_pep_emergency')")
        assert (initial["due_soon_from"], initial["met_on"]) == ("2026-11-09", None)
        assert "termly_review" in by_key(body) or "post16_review" in by_key(body)

        set_clock(clock, date(2026, 11, 9))
        assert by_key(clocks_of(system, cw, child["id"])[1])["initial_pep"]["state"] == "due_soon"
        set_clock(clock, date(2026, 11, 17))
        status, body = clocks_of(system, sw, child["id"])  # the allocated social worker sees the same
        assert status == 200 and by_key(body)["initial_pep"]["state"] == "overdue"
        assert body["in_date"] is False

        # The initial PEP meets on Thu 12 Nov 2026: from then on the clock is met.
        status, pep, _ = system.api("POST", f"/api/v1/children/{child['id']}/peps", {
            "kind": "initial", "term": "autumn", "academic_year": "2026/27"}, cookie=sw)
        assert status == 201, pep
        status, saved = save(system, cookies["dt"], pep["id"], "meeting", {"meeting_date": "2026-11-12",
                                                                           "meeting_time": "10:00",
                                                                           "location": "Oakfield"})
        assert status == 200, saved

        def met() -> dict[str, Any] | None:
            found = by_key(clocks_of(system, cw, child["id"])[1])["initial_pep"]
            return found if found["state"] == "met" else None

        initial = eventually(met, "delegation hears of the meeting")
        assert (initial["met_on"], initial["pep_id"], initial["due"]) == ("2026-11-12", pep["id"], DUE.isoformat())

        # The LA's VS admin gives emergency placements 5 working days (Tue 3, Wed 4, Thu 5, Fri 6, Mon 9 Nov 2026),
        # sending only the rules a client of the first version knew of: the clock rules keep their values.
        admin = cookies["admin"]
        timescales = f"/api/v1/organisations/{child['la_id']}/timescales"
        before = system.api("GET", timescales, cookie=admin)[1]
        assert before["rules"]["review_after_change"]["counts"] == "after a change of school or placement"
        assert before["rules"]["post16_review"]["unit"] in ("months", "weeks", "working_days", "school_days")
        old_rules = {name: {"amount": before["rules"][name]["amount"], "unit": before["rules"][name]["unit"]}
                     for name in FIRST_RULES}
        body = {"based_on_version": before["version"], "term_periods": before["term_periods"],
                "inset_days": before["inset_days"], "termly_deadlines": before["termly_deadlines"]}
        status, saved, _ = system.api("PUT", timescales, {
            **body, "rules": {**old_rules, "initial_pep_emergency": {"amount": 5, "unit": "working_days"}}},
            cookie=admin)
        assert status == 200, saved
        try:
            assert {k: saved["rules"][k] for k in CLOCK_RULES} == {k: before["rules"][k] for k in CLOCK_RULES}
            initial = by_key(clocks_of(system, cw, child["id"])[1])["initial_pep"]
            assert (initial["due"], initial["state"]) == ("2026-11-09", "met")
            assert initial["explanation"] == (
                "5 working days after entering care on 2 November 2026 by emergency placement (LA rule "
                f"'initial_pep_emergency', version {saved['version']}); met by the PEP meeting on 12 November 2026")
        finally:
            status, back, _ = system.api("PUT", timescales, {
                **body, "based_on_version": saved["version"], "rules": old_rules}, cookie=admin)
            assert status == 200 and back["rules"]["initial_pep_emergency"]["amount"] == old_rules[
                "initial_pep_emergency"]["amount"], back


def test_only_people_who_work_with_the_child_see_its_clocks(system: RunningSystem,
                                                             cookies: dict[str, str]) -> None:
    child = new_child(system, cookies["caseworker"], social_worker_id=SW, date_entered_care=ENTERED.isoformat())
    eventually(lambda: clocks_of(system, cookies["caseworker"], child["id"])[0] == 200, "delegation hears of it")
    assert clocks_of(system, cookies["dt"], child["id"])[0] == 200  # Oakfield's DT
    for outsider in ("dt2", "northshire"):  # another school's DT, another LA
        status, body = clocks_of(system, cookies[outsider], child["id"])
        assert (status, body["code"]) == (404, "not_found"), outsider
    assert clocks_of(system, cookies["caseworker"], str(uuid.uuid4()))[0] == 404
    assert clocks_of(system, cookies["caseworker"], "not-a-child")[0] == 404


def test_the_preview_dates_a_change_and_a_submission(system: RunningSystem, cookies: dict[str, str]) -> None:
    # A change on Fri 21 May 2027: Mon 24 (1) ... Fri 28 (5), [Mon 31 May bank holiday] Tue 1 Jun (6) ... Mon 7 Jun
    # (10). Submitted Mon 14 Dec 2026: Tue 15 (1) ... Thu 24 (8), [25-28 Dec] Tue 29 (9), Wed 30 Dec 2026 (10).
    la = str(demo.LA_ID)  # its clock rules are the defaults (tests that change a rule put it back)
    status, body, _ = system.api("POST", f"/api/v1/organisations/{la}/timescales/preview",
                                 {"moved_on": "2027-05-21", "submitted_on": "2026-12-14"}, cookie=cookies["caseworker"])
    assert status == 200, body
    assert {d["key"]: d["due"] for d in body["deadlines"]} == {"review_after_change": "2027-06-07",
                                                               "qa_review": "2026-12-30"}
    status, body, _ = system.api("POST", f"/api/v1/organisations/{la}/timescales/preview", {},
                                 cookie=cookies["caseworker"])
    assert (status, body["errors"][0]["field"]) == (422, "meeting_date"), body


def test_a_meeting_booked_after_the_terms_deadline_is_flagged_and_warned(system: RunningSystem,
                                                                         cookies: dict[str, str],
                                                                         tmp_path: Path) -> None:
    """The LA's Autumn 2026 runs 2 September to 18 December with its deadline on Fri 11 December; the DT books the
    meeting for Mon 14 December: the termly clock says booked late, and the PEP's pages say "This meeting is after
    Autumn 2026's deadline of 11 December 2026" as soon as the date is saved. Moved to Thu 10 December: neither."""
    cw, sw, dt, admin = cookies["caseworker"], cookies["sw"], cookies["dt"], cookies["admin"]
    timescales = f"/api/v1/organisations/{demo.LA_ID}/timescales"
    before = system.api("GET", timescales, cookie=admin)[1]
    rules = {name: {"amount": r["amount"], "unit": r["unit"]} for name, r in before["rules"].items()}
    status, saved, _ = system.api("PUT", timescales, {
        "based_on_version": before["version"], "rules": rules, "inset_days": [],
        "term_periods": [{"term": "Autumn 2026", "start": "2026-09-02", "end": "2026-12-18"}],
        "termly_deadlines": [{"term": "Autumn 2026", "due": "2026-12-11"}]}, cookie=admin)
    assert status == 200, saved
    try:
        child = new_child(system, cw, social_worker_id=SW, date_entered_care="2024-01-08")
        status, pep, _ = system.api("POST", f"/api/v1/children/{child['id']}/peps", {
            "kind": "termly_review", "term": "autumn", "academic_year": "2026/27"}, cookie=sw)
        assert status == 201, pep
        with service_on_a_clock(system, "delegation", tmp_path / "clock") as clock:
            set_clock(clock, date(2026, 12, 1))
            status, body = save(system, dt, pep["id"], "meeting", {"meeting_date": "2026-12-14",
                                                                   "meeting_time": "10:00", "location": "Oakfield"})
            assert status == 200, body
            warning = "This meeting is after Autumn 2026’s deadline of 11 December 2026"
            for path in (f"/peps/{pep['id']}", f"/peps/{pep['id']}/sections/meeting"):
                assert warning in portal_page(system, dt, path), path

            def termly(booked_late: bool) -> dict[str, Any] | None:
                found = by_key(clocks_of(system, cw, child["id"])[1]).get("termly_review")
                return found if found and found["booked_late"] is booked_late else None

            late = eventually(lambda: termly(True), "delegation hears of the meeting date")
            assert (late["due"], late["state"], late["term"], late["pep_id"]) == (
                "2026-12-11", "open", "Autumn 2026", pep["id"])
            assert late["explanation"] == ("The LA's deadline for Autumn 2026 (LA rule 'termly_deadline', version "
                                           f"{saved['version']}); the meeting booked for 14 December 2026 is after it")

            status, body = save(system, dt, pep["id"], "meeting", {"meeting_date": "2026-12-10",
                                                                   "meeting_time": "10:00", "location": "Oakfield"})
            assert status == 200, body
            assert warning not in portal_page(system, dt, f"/peps/{pep['id']}")
            eventually(lambda: termly(False), "delegation hears of the new date")
    finally:
        now_at = system.api("GET", timescales, cookie=admin)[1]
        status, back, _ = system.api("PUT", timescales, {
            "based_on_version": now_at["version"], "rules": rules, "inset_days": before["inset_days"],
            "term_periods": before["term_periods"], "termly_deadlines": before["termly_deadlines"]}, cookie=admin)
        assert status == 200, back


def portal_page(system: RunningSystem, cookie: str, path: str) -> str:
    request = urllib.request.Request(system.portal_url + path, headers={"Cookie": cookie})
    with urllib.request.urlopen(request, timeout=30) as response:
        return str(response.read().decode())
