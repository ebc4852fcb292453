"""A child's profile beyond core data, on the whole system: case notes (professionals only, kept as written),
the activity on the record (what and who, never the content), and the PP+ agreed this year from qa's funding
decisions as they arrive over the bus."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import date, timedelta
from typing import Any

import asyncpg
import pytest

from services.pep.domain.core_data import academic_year_label, academic_year_of
from shared import demo
from shared.bus import add_event
from shared.contracts import FundingDecided
from tests.conftest import RunningSystem
from tests.system.test_children import CARER, IRO, LA, OAKFIELD, SW, child_events, fields_of, new_child

TERM_START = academic_year_of(date.today())[0]
THIS_YEAR = academic_year_label(date.today())


@pytest.fixture(scope="module")
def cookies(system: RunningSystem) -> dict[str, str]:
    emails = {"caseworker": "caseworker@demo.test", "sw": "sw@demo.test", "dt": "dt@demo.test",
              "dt2": "dt2@demo.test", "carer": "carer@demo.test", "iro": "iro@demo.test",
              "admin2": "admin@northshire.test"}
    return {key: system.sign_in(email) for key, email in emails.items()}


@pytest.fixture(scope="module")
def child(system: RunningSystem, cookies: dict[str, str]) -> dict[str, Any]:
    """A child at Oakfield with Sam as social worker, Ira as IRO and Casey as carer."""
    deadline = time.monotonic() + 30
    while not system.admin_sql("SELECT 1 FROM pep.users WHERE id = $1", demo.account_id("carer")):
        assert time.monotonic() < deadline, "pep never heard of the demo accounts"
        time.sleep(0.2)
    return new_child(system, cookies["caseworker"], social_worker_id=SW, iro_id=IRO, carer_ids=[CARER])


def test_notes_are_for_the_professionals_and_kept_as_written(system: RunningSystem, cookies: dict[str, str],
                                                              child: dict[str, Any]) -> None:
    notes = f"/api/v1/children/{child['id']}/notes"
    status, note, _ = system.api("POST", notes, {"body": "  Spoke to carer about the school trip.  "},
                                 cookie=cookies["caseworker"])
    assert status == 201, note
    assert note["body"] == "Spoke to carer about the school trip." and note["written_by_name"] == "Cal Caseworker"
    status, body, _ = system.api("POST", notes, {"body": "Year 5 reading group starts Monday."}, cookie=cookies["dt"])
    assert status == 201, body

    # Everyone working with the child reads them, newest first.
    for who in ("sw", "dt", "iro", "caseworker"):
        status, listed, _ = system.api("GET", notes, cookie=cookies[who])
        assert status == 200, (who, listed)
        assert [n["body"] for n in listed] == ["Year 5 reading group starts Monday.",
                                              "Spoke to carer about the school trip."]
    # The carer reaches the child but not the professionals' notes; other LAs and settings not even the child.
    assert system.api("GET", notes, cookie=cookies["carer"])[0] == 403
    assert system.api("POST", notes, {"body": "x"}, cookie=cookies["carer"])[0] == 403
    for who in ("dt2", "admin2"):
        assert system.api("GET", notes, cookie=cookies[who])[0] == 404
        assert system.api("POST", notes, {"body": "x"}, cookie=cookies[who])[0] == 404

    # An empty note is refused by name; nothing is saved.
    status, body, _ = system.api("POST", notes, {"body": "   "}, cookie=cookies["sw"])
    assert status == 422 and [e["field"] for e in body["errors"]] == ["body"]
    assert len(system.api("GET", notes, cookie=cookies["sw"])[1]) == 2
    # Kept as written: the service's own role cannot change or delete a note.
    asyncio.run(_refused_to_pep(system.admin_dsn, "UPDATE pep.child_notes SET body = 'x'",
                                "DELETE FROM pep.child_notes"))


async def _refused_to_pep(dsn: str, *statements: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SET ROLE epep_pep")
        for sql in statements:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(sql)
    finally:
        await conn.close()


def test_activity_says_what_happened_and_who_but_not_the_content(system: RunningSystem, cookies: dict[str, str],
                                                                  child: dict[str, Any]) -> None:
    child_id = child["id"]
    status, pep, _ = system.api("POST", f"/api/v1/children/{child_id}/peps", {
        "kind": "initial", "term": "autumn", "academic_year": THIS_YEAR}, cookie=cookies["sw"])
    assert status == 201, pep
    overview = system.api("GET", f"/api/v1/peps/{pep['id']}", cookie=cookies["dt"])[1]
    section = next(s for s in overview["sections"] if s["can_edit"] and s["owner"] == "designated_teacher")
    path = f"/api/v1/peps/{pep['id']}/sections/{section['key']}"
    current = system.api("GET", path, cookie=cookies["dt"])[1]
    text = next(f["key"] for f in current["definition"]["fields"] if f["type"] in ("long_text", "text"))
    version = current["version"]
    for words in ("First thoughts", "Second thoughts"):  # two autosaves of one sitting are one item
        status, saved, _ = system.api("PUT", path,
                                      {"answers": {text: words}, "version": version}, cookie=cookies["dt"])
        assert status == 200, saved
        version = saved["version"]
    assert system.api("POST", f"/api/v1/children/{child_id}/attendance", {
        "period_start": TERM_START.isoformat(), "period_end": TERM_START.replace(day=30).isoformat(),
        "possible_sessions": 40, "attended_sessions": 36}, cookie=cookies["dt"])[0] == 201
    assert system.api("POST", f"/api/v1/children/{child_id}/notes", {"body": "Private words"},
                      cookie=cookies["sw"])[0] == 201

    status, body, _ = system.api("GET", f"/api/v1/children/{child_id}/activity", cookie=cookies["caseworker"])
    assert status == 200, body
    items = body["items"]
    kinds = [(i["kind"], i["action"]) for i in items]
    assert kinds[:4] == [("note", "added"), ("attendance", "recorded"), ("section", "saved"), ("pep", "start")], kinds
    saves = items[2]
    assert (saves["times"], saves["by_name"], saves["section_title"]) == (2, "Dana Teacher", section["title"])
    assert items[3]["by_name"] == "Sam Social-Worker" and items[3]["pep_id"] == pep["id"]
    assert items[1]["detail"] == f"{TERM_START.isoformat()}/{TERM_START.replace(day=30).isoformat()}"
    dumped = json.dumps(body)
    assert "Private words" not in dumped and "thoughts" not in dumped

    # Paging: what came before the newest item.
    status, older, _ = system.api("GET", f"/api/v1/children/{child_id}/activity?limit=2&before={items[1]['at']}",
                                  cookie=cookies["caseworker"])
    assert status == 200 and [(i["kind"], i["action"]) for i in older["items"]] == kinds[2:4]

    # The carer's feed has no notes; other LAs and settings get 404; a bad query names the field.
    carer_kinds = [i["kind"] for i in system.api("GET", f"/api/v1/children/{child_id}/activity",
                                                 cookie=cookies["carer"])[1]["items"]]
    assert "note" not in carer_kinds and "section" in carer_kinds
    assert system.api("GET", f"/api/v1/children/{child_id}/activity", cookie=cookies["admin2"])[0] == 404
    assert system.api("GET", f"/api/v1/children/{child_id}/activity", cookie=cookies["dt2"])[0] == 404
    status, body, _ = system.api("GET", f"/api/v1/children/{child_id}/activity?limit=0", cookie=cookies["sw"])
    assert status == 422 and [e["field"] for e in body["errors"]] == ["limit"]


async def _qa_decides(dsn: str, *decisions: FundingDecided) -> None:
    """Publish decisions as qa does: into qa's outbox, which its relay sends over the bus."""
    conn = await asyncpg.connect(dsn, server_settings={"search_path": "qa"})
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    try:
        async with conn.transaction():
            for d in decisions:
                await add_event(conn, "qa", d, tenant=str(d.la_id))
    finally:
        await conn.close()


def _pp_plus(system: RunningSystem, cookie: str, child_id: str, expect: str, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        indicators = system.api("GET", f"/api/v1/children/{child_id}", cookie=cookie)[1]["indicators"]
        if indicators["pp_plus_agreed"] == expect or time.monotonic() > deadline:
            return dict(indicators)
        time.sleep(0.2)


def test_pp_plus_agreed_this_year_follows_qas_decisions(system: RunningSystem, cookies: dict[str, str],
                                                        child: dict[str, Any]) -> None:
    child_id = child["id"]
    assert system.api("GET", f"/api/v1/children/{child_id}", cookie=cookies["dt"])[1]["indicators"][
        "pp_plus_agreed"] == "0.00"
    pep_id, last_year = uuid.uuid4(), f"{TERM_START.year - 1}/{TERM_START.year % 100:02d}"

    def decided(target: int, decision: str, amount: str | None, year: str = THIS_YEAR,
                financial_year: str | None = None) -> FundingDecided:
        return FundingDecided(pep_id=pep_id, child_id=child_id, la_id=LA, target=target, decision=decision,
                              amount=amount, academic_year=year, financial_year=financial_year)

    # The profile counts as qa counts against the allocation: approved amounts in this financial year (1 April to
    # 31 March), so an amount qa counted in the year before is not this year's.
    start = date.today().year if date.today().month >= 4 else date.today().year - 1
    asyncio.run(_qa_decides(system.admin_dsn, decided(1, "approved", "250.00"), decided(2, "approved", "99.50"),
                            decided(3, "refused", None), decided(4, "approved", "1000.00", last_year,
                                                                 f"{start - 1}-{start % 100:02d}")))
    indicators = _pp_plus(system, cookies["dt"], child_id, "349.50")
    assert (indicators["pp_plus_agreed"], indicators["pp_plus_requests"]) == ("349.50", 2)

    # A later decision on the same target replaces the earlier one.
    asyncio.run(_qa_decides(system.admin_dsn, decided(2, "more_information", None)))
    assert _pp_plus(system, cookies["caseworker"], child_id, "250.00")["pp_plus_requests"] == 1
    # Funding decisions are QA's: the carer does not see them.
    assert system.api("GET", f"/api/v1/children/{child_id}", cookie=cookies["carer"])[1]["indicators"][
        "pp_plus_agreed"] is None
    # A decision for another LA's child is not taken as this one's.
    asyncio.run(_qa_decides(system.admin_dsn, FundingDecided(
        pep_id=pep_id, child_id=child_id, la_id=demo.OTHER_LA_ID, target=5, decision="approved", amount="5.00",
        academic_year=THIS_YEAR), decided(6, "approved", "0.50")))
    assert _pp_plus(system, cookies["dt"], child_id, "250.50")["pp_plus_requests"] == 2


# ---- changing school, placement and the people allocated (issue 18) ------------------------------------------

RIVERSIDE, HILLSIDE = str(demo.RIVERSIDE), str(demo.HILLSIDE)
REASON = "Nearer the new carers <b>Smith</b> & family"


def _choices(system: RunningSystem, cookie: str, child_id: str) -> dict[str, Any]:
    """The pickers, once pep has heard of the demo settings (identity.organisation.changed)."""
    deadline = time.monotonic() + 30
    while True:
        status, body, _ = system.api("GET", f"/api/v1/children/{child_id}/record-choices", cookie=cookie)
        assert status == 200, body
        if {s["name"] for s in body["settings"]} >= {"Oakfield Primary School", "Riverside Academy"} \
                or time.monotonic() > deadline:
            return dict(body)
        time.sleep(0.2)


def _delegation_child(system: RunningSystem, child_id: str, version: int) -> dict[str, Any]:
    """delegation's read model of the child (pep.child.changed), once it has this version."""
    deadline = time.monotonic() + 30
    while True:
        rows = system.admin_sql("SELECT * FROM delegation.children WHERE id = $1", uuid.UUID(child_id))
        if rows and rows[0]["version"] >= version:
            return dict(rows[0])
        assert time.monotonic() < deadline, "delegation never heard of the change"
        time.sleep(0.2)


def test_a_caseworker_changes_a_childs_school_by_name(system: RunningSystem, cookies: dict[str, str]) -> None:
    cw = cookies["caseworker"]
    child = new_child(system, cw, social_worker_id=SW, date_entered_care="2024-01-08")
    child_id, path = child["id"], f"/api/v1/children/{child['id']}"
    assert child["can_move"] is True and child["moved_on"] is None

    # The pickers: the LA's settings and people by name, never another LA's.
    choices = _choices(system, cw, child_id)
    names = {s["name"]: s["id"] for s in choices["settings"]}
    assert names["Riverside Academy"] == RIVERSIDE and "Hillside School" not in names
    # Other tests add people to the demo LA: the demo's own are offered, by name; nobody of another LA is.
    assert "Sam Social-Worker" in [p["name"] for p in choices["social_workers"]]
    assert "Ira Reviewer" in [p["name"] for p in choices["iros"]]
    everyone = {p["name"] for key in ("social_workers", "iros", "carers") for p in choices[key]}
    assert not everyone & {"Nadia Northshire", "Hugo Hillside"}, everyone
    assert "Cara Carer" in [p["name"] for p in choices["carers"]]
    # Only the LA's Virtual School moves a child: the social worker and DT read the record (403); others 404.
    for who in ("sw", "dt"):
        assert system.api("GET", f"{path}/record-choices", cookie=cookies[who])[0] == 403
        assert system.api("POST", f"{path}/setting", {"version": 1, "setting_id": RIVERSIDE, "starts_on":
                                                      "2026-01-05", "reason": "x"}, cookie=cookies[who])[0] == 403
    for who in ("admin2", "dt2"):
        assert system.api("GET", f"{path}/record-choices", cookie=cookies[who])[0] == 404
        assert system.api("POST", f"{path}/setting", {"version": 1, "setting_id": RIVERSIDE, "starts_on":
                                                      "2026-01-05", "reason": "x"}, cookie=cookies[who])[0] == 404

    # Bad input is named, field by field, and nothing changes.
    status, body, _ = system.api("POST", f"{path}/setting", {"version": 1, "setting_id": RIVERSIDE, "reason": " "},
                                 cookie=cw)
    assert status == 422 and fields_of(body) == {"starts_on", "reason"}, body
    today = date.today()
    for setting, starts, field, words in (
            (HILLSIDE, today, "setting_id", "Choose a school or setting in this local authority"),
            (OAKFIELD, today, "setting_id", "The child is already at this school or setting: choose the new one"),
            (RIVERSIDE, date(today.year + 1, 1, 1), "starts_on", "The start date must be today or in the past"),
            (RIVERSIDE, date(2010, 1, 1), "starts_on", "The start date must be on or after the date of birth")):
        status, body, _ = system.api("POST", f"{path}/setting", {
            "version": 1, "setting_id": setting, "starts_on": starts.isoformat(), "reason": REASON}, cookie=cw)
        assert status == 422 and body["errors"] == [{"field": field, "message": words}], body
    assert system.api("GET", path, cookie=cw)[1]["version"] == 1

    # The move: the child is Riverside's from now, with the start date and reason on the record and its history.
    moved_on = today - timedelta(days=3)
    status, moved, _ = system.api("POST", f"{path}/setting", {
        "version": 1, "setting_id": RIVERSIDE, "starts_on": moved_on.isoformat(), "reason": f"  {REASON} "},
        cookie=cw)
    assert status == 200, moved
    assert (moved["version"], moved["setting_id"], moved["moved_on"], moved["move_kind"], moved["move_reason"]) == (
        2, RIVERSIDE, moved_on.isoformat(), "school", REASON)
    [entry] = [h for h in moved["setting_history"] if h["version"] == 2]
    assert (entry["what"], entry["from_value"], entry["to_value"], entry["starts_on"], entry["reason"],
            entry["changed_by_name"]) == ("setting_id", OAKFIELD, RIVERSIDE, moved_on.isoformat(), REASON,
                                          "Cal Caseworker")
    # Someone who started from version 1 cannot overwrite it unseen: 409 with the record as it is now.
    status, stale, _ = system.api("POST", f"{path}/setting", {
        "version": 1, "setting_id": OAKFIELD, "starts_on": today.isoformat(), "reason": "Back"}, cookie=cw)
    assert status == 409 and stale["code"] == "stale_version" and stale["current"]["setting_id"] == RIVERSIDE

    # The new school's DT has the child; the old school's DT no longer even finds it.
    status, seen, _ = system.api("GET", path, cookie=cookies["dt2"])
    assert status == 200 and seen["access"] == "designated_teacher" and seen["move_reason"] == REASON
    assert system.api("GET", path, cookie=cookies["dt"])[0] == 404
    assert system.api("GET", f"{path}/activity", cookie=cookies["dt"])[0] == 404
    assert child_id in {c["id"] for c in system.api("GET", "/api/v1/children?limit=200",
                                                    cookie=cookies["dt2"])[1]["items"]}

    # The activity says who moved the child, when from and why.
    items = system.api("GET", f"{path}/activity", cookie=cookies["dt2"])[1]["items"]
    assert (items[0]["kind"], items[0]["action"], items[0]["by_name"], items[0]["starts_on"], items[0]["reason"]) \
        == ("setting", "moved", "Cal Caseworker", moved_on.isoformat(), REASON)

    # Told to the other services in the same transaction; delegation's clocks read model keeps the new facts.
    event = child_events(system, child_id)[-1]["data"]
    assert (event["version"], event["setting_id"], event["moved_on"], event["move_kind"], event["move_reason"],
            event["date_of_birth"], event["date_entered_care"], event["entered_care_emergency"]) == (
        2, RIVERSIDE, moved_on.isoformat(), "school", REASON, "2016-05-01", "2024-01-08", False)
    kept = _delegation_child(system, child_id, 2)
    assert (kept["setting_id"], kept["moved_on"], kept["move_kind"], kept["date_of_birth"],
            kept["date_entered_care"], kept["entered_care_emergency"]) == (
        demo.RIVERSIDE, moved_on, "school", date(2016, 5, 1), date(2024, 1, 8), False)


def test_placement_people_and_entering_care_are_kept_with_their_history(system: RunningSystem,
                                                                        cookies: dict[str, str]) -> None:
    cw = cookies["caseworker"]
    child = new_child(system, cw, social_worker_id=SW, carer_ids=[CARER], placement_type="foster_care",
                      carer={"name": "Old Carer"})
    child_id, path = child["id"], f"/api/v1/children/{child['id']}"
    _choices(system, cw, child_id)

    # Entering care: the date and whether by emergency placement, as core data (the initial PEP's clock).
    status, body, _ = system.api("PATCH", path, {"version": 1, "entered_care_emergency": None}, cookie=cw)
    assert status == 422 and fields_of(body) == {"entered_care_emergency"}
    status, edited, _ = system.api("PATCH", path, {"version": 1, "date_entered_care": "2025-02-03",
                                                   "entered_care_emergency": True}, cookie=cw)
    assert status == 200 and (edited["date_entered_care"], edited["entered_care_emergency"]) == ("2025-02-03", True)
    assert {(h["what"], h["from_value"], h["to_value"]) for h in edited["placement_history"] if h["version"] == 2} \
        == {("date_entered_care", None, "2025-02-03"), ("entered_care_emergency", False, True)}

    # A change of placement: type, start date, reason and the new carers' details; bad input named.
    status, body, _ = system.api("POST", f"{path}/placement", {"version": 2, "placement_type": "castle",
                                                               "starts_on": "yesterday"}, cookie=cw)
    assert status == 422 and fields_of(body) == {"placement_type", "starts_on", "reason"}, body
    starts = date.today() - timedelta(days=1)
    status, moved, _ = system.api("POST", f"{path}/placement", {
        "version": 2, "placement_type": "residential", "starts_on": starts.isoformat(), "reason": REASON,
        "carer": {"name": "Hill <b>House</b> & Co", "phone": "01632 960222"}}, cookie=cw)
    assert status == 200, moved
    assert (moved["placement_type"], moved["moved_on"], moved["move_kind"], moved["carer"]["name"]) == (
        "residential", starts.isoformat(), "placement", "Hill <b>House</b> & Co")
    entries = {h["what"]: h for h in moved["placement_history"] if h["version"] == 3}
    assert set(entries) == {"placement_type", "carer"}
    assert (entries["placement_type"]["from_value"], entries["placement_type"]["reason"],
            entries["placement_type"]["starts_on"]) == ("foster_care", REASON, starts.isoformat())
    # The same type again is still a new placement, kept as one; an earlier start than the latest is refused.
    status, body, _ = system.api("POST", f"{path}/placement", {
        "version": 3, "placement_type": "residential", "starts_on": (starts - timedelta(days=1)).isoformat(),
        "reason": "Another"}, cookie=cw)
    assert status == 422 and [e["field"] for e in body["errors"]] == ["starts_on"], body
    status, again, _ = system.api("POST", f"{path}/placement", {
        "version": 3, "placement_type": "residential", "starts_on": date.today().isoformat(), "reason": "Another"},
        cookie=cw)
    assert status == 200 and again["version"] == 4 and again["carer"]["name"] == "Hill <b>House</b> & Co"
    assert [h["to_value"] for h in again["placement_history"] if h["version"] == 4] == ["residential"]

    # The people allocated, by the ids the pickers give; each change in the history with who made it.
    status, people, _ = system.api("PATCH", path, {"version": 4, "iro_id": IRO, "carer_ids": []}, cookie=cw)
    assert status == 200, people
    changes = {(h["what"], h["changed_by_name"]) for h in people["placement_history"] if h["version"] == 5}
    assert changes == {("iro_id", "Cal Caseworker"), ("carer_ids", "Cal Caseworker")}
    # The carer no longer allocated no longer reaches the child; the why of a move is for professionals only.
    assert system.api("GET", path, cookie=cookies["carer"])[0] == 404
    items = system.api("GET", f"{path}/activity", cookie=cw)[1]["items"]
    assert [(i["kind"], i["action"], i["reason"]) for i in items[:3]] == [
        ("placement", "changed", None), ("placement", "moved", "Another"), ("placement", "moved", REASON)]

    event = child_events(system, child_id)[-1]["data"]
    assert (event["moved_on"], event["move_kind"], event["date_entered_care"], event["entered_care_emergency"]) == (
        date.today().isoformat(), "placement", "2025-02-03", True)
    kept = _delegation_child(system, child_id, 5)
    assert (kept["moved_on"], kept["move_kind"], kept["entered_care_emergency"]) == (date.today(), "placement", True)


def test_no_edit_puts_a_child_at_another_las_school(system: RunningSystem, cookies: dict[str, str]) -> None:
    """A setting pep knows to be another LA's is refused on adding or editing a child too: its DT would reach them."""
    deadline = time.monotonic() + 30
    while not system.admin_sql("SELECT 1 FROM pep.organisations WHERE id = $1", demo.HILLSIDE):
        assert time.monotonic() < deadline, "pep never heard of Hillside"
        time.sleep(0.2)
    cw = cookies["caseworker"]
    status, body, _ = system.api("POST", "/api/v1/children", {
        "la_id": LA, "given_name": "Alex", "family_name": "Elsewhere", "date_of_birth": "2016-05-01",
        "setting_id": HILLSIDE}, cookie=cw)
    assert status == 422 and body["errors"] == [{"field": "setting_id", "message": "Choose a school or setting "
                                                 "in this local authority"}], body
    child = new_child(system, cw)
    path = f"/api/v1/children/{child['id']}"
    for elsewhere in (HILLSIDE, LA):  # another LA's school; an LA is not a school
        status, body, _ = system.api("PATCH", path, {"version": 1, "setting_id": elsewhere}, cookie=cw)
        assert status == 422 and fields_of(body) == {"setting_id"}, body
    assert system.api("GET", path, cookie=cookies["admin2"])[0] == 404
    status, edited, _ = system.api("PATCH", path, {"version": 1, "setting_id": RIVERSIDE}, cookie=cw)
    assert status == 200 and edited["setting_id"] == RIVERSIDE and edited["moved_on"] is None
