"""Finalising rolls into the next PEP (issue 22, item 5; ePEP Online and Welfare Call): the next meeting's date,
time and venue agreed in the meeting section become the next PEP's meeting, so the child's "next PEP due", the
scheduled delegation and its task dates (delegation) and the calendar invitations (notify) follow from it with
nobody typing the date again. A finalised PEP reads as finished: every section's state is final."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.pep.domain.core_data import academic_year_label
from tests.conftest import RunningSystem
from tests.system.qa_steps import decide_in_qa
from tests.system.test_children import SW, new_child
from tests.system.test_notifications import body_of, calendar_of, wait_for_mail
from tests.system.test_pep_files import fetch, pdf_text
from tests.system.test_peps import answer_what_is_missing, owners
from tests.system.test_tasks import eventually, save

LONDON = ZoneInfo("Europe/London")
SW_EMAIL, DT_EMAIL = "sw@demo.test", "dt@demo.test"
DELEGATED = ["education", "attainment", "targets"]
VENUE = "Oakfield <b>Library</b> & Hall"


@pytest.fixture(scope="module")
def cookies(system: RunningSystem) -> dict[str, str]:
    return {who: system.sign_in(f"{who}@demo.test") for who in ("caseworker", "sw", "dt")}


def approved_with(system: RunningSystem, cookies: dict[str, str], next_meeting: dict[str, Any]
                  ) -> tuple[dict[str, Any], str]:
    """A new child's first PEP, delegated to the school, written, submitted and approved through QA, its meeting
    held three days ago and `next_meeting` agreed in its meeting section: for the social worker to finalise.
    `cookies`: the caseworker's, social worker's and DT's sessions."""
    cw, sw, dt = cookies["caseworker"], cookies["sw"], cookies["dt"]
    child = new_child(system, cw, social_worker_id=SW)
    status, pep, _ = system.api("POST", f"/api/v1/children/{child['id']}/peps", {
        "kind": "initial", "term": "autumn", "academic_year": academic_year_label(date.today())}, cookie=sw)
    assert status == 201, pep
    due = (date.today() + timedelta(days=14)).isoformat()
    status, task, _ = system.api("POST", f"/api/v1/peps/{pep['id']}/delegations",
                                 {"sections": DELEGATED, "due_date": due}, cookie=cw)
    assert status == 201, task
    eventually(lambda: all(s["delegated"] for s in system.api("GET", f"/api/v1/peps/{pep['id']}", cookie=cw)[1][
        "sections"] if s["key"] in DELEGATED), "pep hears of the delegation")
    held = (date.today() - timedelta(days=3)).isoformat()
    status, body = save(system, dt, pep["id"], "meeting", {"meeting_date": held, "meeting_time": "09:00",
                                                          "location": "Oakfield", **next_meeting})
    assert status == 200, body
    by_owner = owners(system, dt, pep["id"])
    answer_what_is_missing(system, sw, pep["id"], by_owner.get("social_worker", set()))
    answer_what_is_missing(system, dt, pep["id"], by_owner.get("designated_teacher", set())
                           | by_owner.get("young_person", set()) | by_owner.get("carer", set()))
    status, body, _ = system.api("POST", f"/api/v1/peps/{pep['id']}/actions/submit", {}, cookie=dt)
    assert status == 200, body
    status, body = decide_in_qa(system, cw, pep["id"], "approve")
    assert (status, body["status"]) == (200, "approved"), body
    return child, pep["id"]


def finalised_with(system: RunningSystem, cookies: dict[str, str], next_meeting: dict[str, Any]
                   ) -> tuple[dict[str, Any], str]:
    """The same PEP, finalised by the social worker."""
    child, pep_id = approved_with(system, cookies, next_meeting)
    status, body, _ = system.api("POST", f"/api/v1/peps/{pep_id}/actions/finalise", {}, cookie=cookies["sw"])
    assert (status, body["status"]) == (200, "finalised"), body
    return child, pep_id


def the_next_pep(system: RunningSystem, cookie: str, child_id: str, finalised: str) -> dict[str, Any]:
    peps = system.api("GET", f"/api/v1/children/{child_id}/peps", cookie=cookie)[1]
    nxt = peps[0]
    assert nxt["id"] != finalised and (nxt["kind"], nxt["status"]) == ("termly_review", "created")
    return dict(nxt)


def test_the_agreed_next_meeting_becomes_the_next_peps_meeting(system: RunningSystem,
                                                                cookies: dict[str, str]) -> None:
    cw, sw, dt = cookies["caseworker"], cookies["sw"], cookies["dt"]
    when = date.today() + timedelta(days=10)  # its delegate date (10 working days before) has come
    since = time.time()
    child, finalised = finalised_with(system, cookies, {"next_meeting_date": when.isoformat(),
                                                        "next_meeting_time": "10:15", "next_meeting_venue": VENUE})

    # The finalised PEP reads as finished, for everyone who reads it (the Virtual School sees its sign-off too).
    for cookie in (cw, sw, dt):
        overview = system.api("GET", f"/api/v1/peps/{finalised}", cookie=cookie)[1]
        assert [(s["key"], s["status"], s["to_check"]) for s in overview["sections"] if
                (s["status"], s["to_check"]) != ("complete", 0)] == []
        assert not any(s["can_edit"] for s in overview["sections"])
    assert "signoff" in {s["key"] for s in system.api("GET", f"/api/v1/peps/{finalised}", cookie=cw)[1]["sections"]}
    signoff = system.api("GET", f"/api/v1/peps/{finalised}/sections/signoff", cookie=cw)[1]
    assert (signoff["status"], signoff["to_check"]) == ("complete", [])
    for variant in ("termly", "full"):  # and on paper: no section printed as still in progress
        status, data, _ = fetch(system, cw, "GET", f"/api/v1/peps/{finalised}/export.pdf?variant={variant}")
        assert status == 200 and "Section status" not in pdf_text(data)

    # The next PEP's meeting is the agreed one: its date, and its meeting section's date, time and venue.
    nxt = the_next_pep(system, sw, child["id"], finalised)
    assert nxt["meeting_date"] == when.isoformat()
    meeting = system.api("GET", f"/api/v1/peps/{nxt['id']}/sections/meeting", cookie=dt)[1]
    assert {k: meeting["answers"].get(k) for k in ("meeting_date", "meeting_time", "location")} == {
        "meeting_date": when.isoformat(), "meeting_time": "10:15", "location": VENUE}
    assert not {"meeting_date", "meeting_time", "location"} & set(meeting["to_check"])  # agreed, not carried
    assert not any(k.startswith("next_meeting") for k in meeting["answers"])  # the next one is agreed afresh
    profile = system.api("GET", f"/api/v1/children/{child['id']}", cookie=sw)[1]
    assert profile["indicators"]["next_pep_due"] == when.isoformat()

    # delegation: the deadlines count from the meeting, and the PEP is delegated on schedule to the school with
    # the sections of the last delegation, its task due by the LA's rule from that meeting.
    preview = system.api("POST", f"/api/v1/organisations/{child['la_id']}/timescales/preview",
                         {"meeting_date": when.isoformat()}, cookie=cw)[1]
    dt_return = next(d for d in preview["deadlines"] if d["key"] == "dt_return")
    dates = system.api("GET", f"/api/v1/peps/{nxt['id']}/deadlines", cookie=cw)[1]
    assert dates["based_on"] == "meeting" and dates["meeting_date"] == when.isoformat()
    assert next(d for d in dates["deadlines"] if d["key"] == "dt_return")["due"] == dt_return["due"]
    try:
        system.local.start_replica("delegation", "delegation-next-pep", {"EPEP_REMINDER_INTERVAL_SECONDS": "0.2"})
        made = eventually(lambda: system.api("GET", f"/api/v1/peps/{nxt['id']}/tasks", cookie=cw)[1],
                          "the next PEP delegated on schedule", timeout=60)
    finally:
        system.local.stop("delegation-next-pep")
    [task] = made
    assert (task["kind"], task["sections"], task["status"]) == ("complete_sections", DELEGATED, "assigned")
    assert (task["due_date"], task["due_rule"]) == (dt_return["due"], dt_return["explanation"])

    # notify: the meeting is scheduled (its first version recorded) and the calendar invitation sent.
    uid = f"pep-{nxt['id']}@epep"
    for to in (SW_EMAIL, DT_EMAIL):
        [message] = wait_for_mail(system, to, since, uid)
        assert message["Subject"].startswith("Invitation: PEP meeting for ")
        _, event = calendar_of(message)
        assert event.decoded("DTSTART") == datetime(when.year, when.month, when.day, 10, 15, tzinfo=LONDON)
        assert event.decoded("SEQUENCE") == 0 and str(event["LOCATION"]) == VENUE
        assert f"Where: {VENUE}" in body_of(message)
    versions = system.admin_sql("SELECT sequence, meeting_date, meeting_time, location, cancelled FROM "
                                "notify.meeting_versions WHERE pep_id = $1::uuid", nxt["id"])
    assert [(v["sequence"], v["meeting_date"], v["meeting_time"], v["location"], v["cancelled"])
            for v in versions] == [(0, when, "10:15", VENUE, False)]


def test_without_an_agreed_date_to_come_the_next_pep_has_no_date(system: RunningSystem,
                                                                  cookies: dict[str, str]) -> None:
    """A next meeting date already past when the PEP is finalised is no meeting to schedule: the next PEP starts
    with no date (as it does when none was agreed), for someone to arrange, and nobody is invited to it."""
    sw = cookies["sw"]
    gone = (date.today() - timedelta(days=1)).isoformat()
    child, finalised = finalised_with(system, cookies, {"next_meeting_date": gone})
    nxt = the_next_pep(system, sw, child["id"], finalised)
    assert nxt["meeting_date"] is None
    meeting = system.api("GET", f"/api/v1/peps/{nxt['id']}/sections/meeting", cookie=sw)[1]
    assert "meeting_date" not in meeting["answers"]
    assert system.api("GET", f"/api/v1/children/{child['id']}", cookie=sw)[1]["indicators"]["next_pep_due"] is None
    assert system.admin_sql("SELECT 1 FROM pep.outbox WHERE routing_key = 'pep.meeting.changed.v1' "
                            "AND envelope->'data'->>'pep_id' = $1", nxt["id"]) == []


def test_the_first_pep_has_no_carried_answers_to_check(system: RunningSystem, cookies: dict[str, str]) -> None:
    """Nothing was carried into a child's first PEP: answers from their record are not "carried answers"."""
    cw = cookies["caseworker"]
    child = new_child(system, cw, social_worker_id=SW)
    status, pep, _ = system.api("POST", f"/api/v1/children/{child['id']}/peps", {
        "kind": "initial", "term": "autumn", "academic_year": academic_year_label(date.today())}, cookie=cw)
    assert status == 201, pep
    overview = system.api("GET", f"/api/v1/peps/{pep['id']}", cookie=cw)[1]
    personal = next(s for s in overview["sections"] if s["key"] == "personal")
    assert personal["answered"] > 0  # filled in from the child's record
    assert [s["key"] for s in overview["sections"] if s["to_check"]] == []
    system.api("POST", f"/api/v1/peps/{pep['id']}/actions/cancel", {"reason": "test"}, cookie=cw)
