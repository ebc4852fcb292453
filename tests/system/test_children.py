"""Children's core data through the gateway, on the whole system: creating and editing with every bad field
named, one edit never silently overwriting another, all-or-nothing CSV imports, attendance, siblings, the
ChildChanged event in pep's outbox, and nobody reaching a child that is not theirs."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest

from services.pep.demo import NORTHSHIRE_CHILD
from services.pep.domain.core_data import academic_year_of
from services.pep.domain.identifiers import upn_check_letter
from shared import demo
from tests.conftest import RunningSystem

LA, OAKFIELD, RIVERSIDE = str(demo.LA_ID), str(demo.OAKFIELD), str(demo.RIVERSIDE)
NORTHSHIRE, HILLSIDE = str(demo.OTHER_LA_ID), str(demo.HILLSIDE)
JORDAN, RILEY, MORGAN = (str(c["id"]) for c in demo.CHILDREN[:3])  # Jordan: Oakfield, allocated to Sam (sw)
AVERY = str(NORTHSHIRE_CHILD["id"])  # Northshire's, at Hillside
SW, IRO, CARER, DT = (str(demo.account_id(k)) for k in ("sw", "iro", "carer", "dt"))
UPN_MESSAGE = "Enter a valid UPN: 13 characters, a letter, 12 digits or letters, with the right check letter"
TERM_START = academic_year_of(date.today())[0]


@pytest.fixture(scope="module", autouse=True)
def people_known_to_pep(system: RunningSystem) -> None:
    """pep learns who people are from identity's events; wait until it knows every demo account."""
    deadline = time.monotonic() + 30
    ids = [demo.account_id(key) for key, *_ in demo.ACCOUNTS]
    while system.admin_sql("SELECT count(*) AS n FROM pep.users WHERE id = ANY($1::uuid[])", ids)[0]["n"] < len(ids):
        assert time.monotonic() < deadline, "pep never heard of the demo accounts"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def cookies(system: RunningSystem) -> dict[str, str]:
    emails = {"caseworker": "caseworker@demo.test", "approver": "approver@demo.test", "sw": "sw@demo.test",
              "dt": "dt@demo.test", "dt2": "dt2@demo.test", "carer": "carer@demo.test",
              "admin2": "admin@northshire.test"}
    return {key: system.sign_in(email) for key, email in emails.items()}


def surname() -> str:
    return f"Testchild{secrets.token_hex(3)}"


def new_child(system: RunningSystem, cookie: str, **fields: Any) -> dict[str, Any]:
    body = {"la_id": LA, "given_name": "Alex", "family_name": surname(), "date_of_birth": "2016-05-01",
            "setting_id": OAKFIELD, "year_group": "Year 4", **fields}
    status, child, _ = system.api("POST", "/api/v1/children", body, cookie=cookie)
    assert status == 201, child
    return child


def a_new_upn() -> str:
    body = f"938{secrets.randbelow(10**9):09d}"
    return upn_check_letter(body) + body


def fields_of(body: dict[str, Any]) -> set[str]:
    return {e["field"] for e in body["errors"]}


def child_events(system: RunningSystem, child_id: str) -> list[dict[str, Any]]:
    rows = system.admin_sql("SELECT envelope FROM pep.outbox WHERE routing_key = 'pep.child.changed.v1' "
                            "AND envelope->'data'->>'child_id' = $1 ORDER BY id", child_id)
    return [json.loads(r["envelope"]) for r in rows]  # the admin connection has no jsonb codec


# ---- create and edit ------------------------------------------------------------------------------


def test_a_caseworker_adds_a_child_and_every_bad_field_is_named(system: RunningSystem,
                                                                cookies: dict[str, str]) -> None:
    cw = cookies["caseworker"]
    status, body, _ = system.api("POST", "/api/v1/children", {
        "la_id": LA, "given_name": "Alex", "family_name": "Bad", "date_of_birth": "2016-05-01",
        "upn": "A801200005001", "uln": "9276308687", "date_entered_care": "2015-01-01", "social_worker_id": DT,
    }, cookie=cw)
    assert status == 422
    assert fields_of(body) == {"upn", "uln", "date_entered_care", "social_worker_id"}
    assert {"field": "upn", "message": UPN_MESSAGE} in body["errors"]
    # The shape is checked too, every field at once.
    status, body, _ = system.api("POST", "/api/v1/children", {
        "la_id": LA, "given_name": "", "date_of_birth": "someday", "year_group": "Year 14", "sen_status": "lots"},
        cookie=cw)
    assert status == 422
    assert fields_of(body) == {"given_name", "family_name", "date_of_birth", "year_group", "sen_status"}
    # Only in an LA where they work for the Virtual School.
    status, body, _ = system.api("POST", "/api/v1/children", {
        "la_id": NORTHSHIRE, "given_name": "Alex", "family_name": "Elsewhere", "date_of_birth": "2016-05-01"},
        cookie=cw)
    assert status == 422 and fields_of(body) == {"la_id"}

    child = new_child(system, cw, upn="y938 2001 16001", uln=None, social_worker_id=SW, iro_id=IRO,
                      carer_ids=[CARER], legal_status="s20", placement_type="foster_care",
                      carer={"name": "Cara Carer", "phone": "01632 960111"}, sen_status="ehcp",
                      contacts=[{"name": "Pat", "relationship": "Aunt", "email": "pat@example.test"}])
    assert child["version"] == 1 and child["upn"] == "Y938200116001"
    assert (child["key_stage"], child["phase"], child["in_care"]) == ("KS2", "school_age", True)
    assert child["access"] == "virtual_school" and child["can_edit"] is True
    people = {(p["email"], p["via"]) for p in child["people"]}
    assert {("sw@demo.test", "social_worker"), ("iro@demo.test", "iro"), ("carer@demo.test", "carer"),
            ("dt@demo.test", "designated_teacher"), ("caseworker@demo.test", "virtual_school")} <= people
    assert not any(email in ("dt2@demo.test", "admin@northshire.test") for email, _ in people)
    assert {(h["what"], h["from_value"], h["to_value"]) for h in child["setting_history"]} == {
        ("setting_id", None, OAKFIELD), ("year_group", None, "Year 4")}
    assert ("carer_ids", None, [CARER]) in [(h["what"], h["from_value"], h["to_value"])
                                            for h in child["placement_history"]]
    # The same transaction wrote the event.
    [event] = child_events(system, child["id"])
    assert event["tenant"] == LA and event["data"]["version"] == 1 and event["data"]["social_worker_id"] == SW


def test_an_edit_names_the_version_it_started_from(system: RunningSystem, cookies: dict[str, str]) -> None:
    cw = cookies["caseworker"]
    child = new_child(system, cw)
    path = f"/api/v1/children/{child['id']}"
    status, edited, _ = system.api("PATCH", path, {"version": 1, "year_group": "Year 5", "setting_id": RIVERSIDE},
                                   cookie=cw)
    assert status == 200 and edited["version"] == 2 and edited["year_group"] == "Year 5"
    moves = {(h["what"], h["from_value"], h["to_value"], h["version"]) for h in edited["setting_history"]}
    assert {("setting_id", OAKFIELD, RIVERSIDE, 2), ("year_group", "Year 4", "Year 5", 2)} <= moves
    # Someone who started from version 1 is not allowed to overwrite that unseen.
    status, stale, _ = system.api("PATCH", path, {"version": 1, "year_group": "Year 3"}, cookie=cw)
    assert status == 409 and stale["code"] == "stale_version"
    assert stale["current"]["version"] == 2 and stale["current"]["year_group"] == "Year 5"
    # Bad values are named; a required field cannot be blanked; saving what is there changes nothing.
    status, bad, _ = system.api("PATCH", path, {"version": 2, "upn": "B801200005002", "given_name": None}, cookie=cw)
    assert status == 422 and fields_of(bad) == {"given_name"}
    status, bad, _ = system.api("PATCH", path, {"version": 2, "upn": "B801200005002"}, cookie=cw)
    assert status == 422 and bad["errors"] == [{"field": "upn", "message": UPN_MESSAGE}]
    status, same, _ = system.api("PATCH", path, {"version": 2, "year_group": "Year 5"}, cookie=cw)
    assert status == 200 and same["version"] == 2
    assert [e["data"]["version"] for e in child_events(system, child["id"])] == [1, 2]


def test_only_the_virtual_school_and_the_allocated_social_worker_change_core_data(
        system: RunningSystem, cookies: dict[str, str]) -> None:
    child = new_child(system, cookies["caseworker"], social_worker_id=SW)
    path = f"/api/v1/children/{child['id']}"
    status, edited, _ = system.api("PATCH", path, {"version": 1, "health_notes": "Wears glasses"},
                                   cookie=cookies["sw"])
    assert status == 200 and edited["access"] == "social_worker" and edited["can_edit"]
    # Readers who may not change it are told so; those who cannot reach it get 404.
    for reader in ("dt", "approver"):
        status, body, _ = system.api("PATCH", path, {"version": 2, "health_notes": "x"}, cookie=cookies[reader])
        assert status == 403, (reader, body)
        assert system.api("GET", path, cookie=cookies[reader])[1]["can_edit"] is False
    for outsider in ("dt2", "admin2"):
        assert system.api("PATCH", path, {"version": 2, "health_notes": "x"}, cookie=cookies[outsider])[0] == 404


# ---- CSV import -----------------------------------------------------------------------------------


def test_a_csv_with_one_bad_row_imports_nothing_and_a_good_one_imports_all(system: RunningSystem,
                                                                           cookies: dict[str, str]) -> None:
    cw, family = cookies["caseworker"], surname()
    ids = [f"CSV-{secrets.token_hex(4)}" for _ in range(3)]
    header = "social_care_id,given_name,family_name,date_of_birth,upn,year_group,setting_id,social_worker_email\n"
    rows = [f"{ids[0]},Ada,{family},2014-02-03,Y938200116001,Year 6,{OAKFIELD},sw@demo.test",
            f"{ids[1]},Ben,{family},03/02/2012,,Year 8,,",
            f"{ids[2]},Cas,{family},2013-02-03,B801200005002,Year 7,,"]
    status, body, _ = system.api("POST", "/api/v1/children/import", {"la_id": LA, "csv": header + "\n".join(rows)},
                                 cookie=cw)
    assert status == 422 and body["code"] == "import_invalid"
    assert body["report"] == [{"row": 4, "field": "upn", "message": UPN_MESSAGE}]
    assert {c["name"] for c in body["columns"]} >= {"social_care_id", "upn", "year_group"}
    assert system.api("GET", f"/api/v1/children?q={family}", cookie=cw)[1]["total"] == 0

    rows[2] = f"{ids[2]},Cas,{family},2013-02-03,,Year 7,,"
    status, body, _ = system.api("POST", "/api/v1/children/import", {"la_id": LA, "csv": header + "\n".join(rows)},
                                 cookie=cw)
    assert (status, body) == (200, {"created": 3, "updated": 0, "unchanged": 0})
    listed = system.api("GET", f"/api/v1/children?q={family}", cookie=cw)[1]
    assert [c["given_name"] for c in listed["items"]] == ["Ada", "Ben", "Cas"]
    # The social worker named by email now reaches Ada, and only Ada.
    assert [c["given_name"] for c in system.api("GET", f"/api/v1/children?q={family}",
                                                cookie=cookies["sw"])[1]["items"]] == ["Ada"]
    # Importing again updates by social_care_id.
    rows[1] = f"{ids[1]},Ben,{family},03/02/2012,,Year 9,,"
    status, body, _ = system.api("POST", "/api/v1/children/import", {"la_id": LA, "csv": header + "\n".join(rows)},
                                 cookie=cw)
    assert (status, body) == (200, {"created": 0, "updated": 1, "unchanged": 2})
    ben = next(c for c in system.api("GET", f"/api/v1/children?q={family}", cookie=cw)[1]["items"]
               if c["given_name"] == "Ben")
    assert (ben["year_group"], ben["version"]) == ("Year 9", 2)
    # An unknown person is a row problem too, and another LA is not theirs to import into.
    status, body, _ = system.api("POST", "/api/v1/children/import", {"la_id": LA, "csv": header + rows[0].replace(
        "sw@demo.test", "dt@demo.test")}, cookie=cw)
    assert status == 422 and body["report"][0]["field"] == "social_worker_email"
    assert system.api("POST", "/api/v1/children/import", {"la_id": NORTHSHIRE, "csv": header + rows[0]},
                      cookie=cw)[0] == 422


# ---- attendance -----------------------------------------------------------------------------------


def test_attendance_by_api_and_csv_and_this_years_percentage(system: RunningSystem, cookies: dict[str, str]) -> None:
    cw, upn = cookies["caseworker"], a_new_upn()
    child = new_child(system, cw, upn=upn, social_care_id=f"ATT-{secrets.token_hex(4)}")
    path = f"/api/v1/children/{child['id']}/attendance"
    first = {"period_start": TERM_START.isoformat(), "period_end": (TERM_START + timedelta(days=30)).isoformat(),
             "possible_sessions": 40, "attended_sessions": 36, "authorised_absences": 2, "unauthorised_absences": 2}
    status, recorded, _ = system.api("POST", path, first, cookie=cw)
    assert status == 201 and recorded["attendance_percent"] == 90.0
    # The school keeps the register: the child's DT records too. The same period again replaces it.
    status, recorded, _ = system.api("POST", path, {**first, "attended_sessions": 38, "unauthorised_absences": 0},
                                     cookie=cookies["dt"])
    assert status == 201 and recorded["attendance_percent"] == 95.0
    overlapping = {**first, "period_start": (TERM_START + timedelta(days=10)).isoformat(),
                   "period_end": (TERM_START + timedelta(days=40)).isoformat()}
    status, body, _ = system.api("POST", path, overlapping, cookie=cw)
    assert status == 422 and fields_of(body) == {"period_start"}
    status, body, _ = system.api("POST", path, {**first, "attended_sessions": 41}, cookie=cw)
    assert status == 422 and fields_of(body) == {"attended_sessions"}

    csv = ("upn,period_start,period_end,possible_sessions,attended_sessions,authorised_absences,"
           f"unauthorised_absences\n{upn},{(TERM_START + timedelta(days=31)).strftime('%d/%m/%Y')},"
           f"{(TERM_START + timedelta(days=60)).isoformat()},40,30,5,5\n")
    status, body, _ = system.api("POST", "/api/v1/children/attendance/import", {"la_id": LA, "csv": csv}, cookie=cw)
    assert (status, body) == (200, {"recorded": 1})
    status, listing, _ = system.api("GET", path, cookie=cookies["dt"])
    assert status == 200 and len(listing["items"]) == 2
    assert listing["attendance_percent_this_year"] == 85.0  # (38 + 30) / (40 + 40)
    assert system.api("GET", f"/api/v1/children/{child['id']}", cookie=cw)[1]["indicators"]["attendance_percent"] \
        == 85.0
    # A CSV naming a child the LA does not have imports nothing.
    status, body, _ = system.api("POST", "/api/v1/children/attendance/import", {"la_id": LA, "csv": csv.replace(
        upn, a_new_upn())}, cookie=cw)
    assert status == 422 and [(r["row"], r["field"]) for r in body["report"]] == [(2, "upn")]


# ---- siblings -------------------------------------------------------------------------------------


def test_siblings_are_links_within_one_la(system: RunningSystem, cookies: dict[str, str]) -> None:
    cw = cookies["caseworker"]
    older = new_child(system, cw, given_name="Older", date_of_birth="2012-01-01", health_notes="Nut allergy")
    younger = new_child(system, cw, given_name="Younger", date_of_birth="2015-01-01")
    status, siblings, _ = system.api("POST", f"/api/v1/children/{younger['id']}/siblings",
                                     {"sibling_id": older["id"]}, cookie=cw)
    assert status == 201 and [s["id"] for s in siblings] == [older["id"]]
    # Seen from either side, and nothing of one record was copied into the other.
    other_side = system.api("GET", f"/api/v1/children/{older['id']}", cookie=cw)[1]
    assert [s["id"] for s in other_side["siblings"]] == [younger["id"]]
    assert system.api("GET", f"/api/v1/children/{younger['id']}", cookie=cw)[1]["health_notes"] is None
    # Not across LAs, and not to itself.
    for candidate in (AVERY, younger["id"]):
        status, body, _ = system.api("POST", f"/api/v1/children/{younger['id']}/siblings",
                                     {"sibling_id": candidate}, cookie=cw)
        assert status == 422 and fields_of(body) == {"sibling_id"}
    assert system.api("DELETE", f"/api/v1/children/{younger['id']}/siblings/{older['id']}", cookie=cw)[0] == 204
    assert system.api("GET", f"/api/v1/children/{older['id']}/siblings", cookie=cw)[1] == []


# ---- who reaches whom -----------------------------------------------------------------------------


def test_each_list_holds_only_the_callers_children(system: RunningSystem, cookies: dict[str, str]) -> None:
    def ids(cookie: str, query: str = "?limit=200") -> set[str]:
        status, body, _ = system.api("GET", f"/api/v1/children{query}", cookie=cookie)
        assert status == 200, body
        return {c["id"] for c in body["items"]}

    assert {JORDAN, RILEY, MORGAN} <= ids(cookies["caseworker"]) and AVERY not in ids(cookies["caseworker"])
    assert JORDAN in ids(cookies["sw"]) and MORGAN not in ids(cookies["sw"])
    assert {JORDAN, RILEY} <= ids(cookies["dt"]) and MORGAN not in ids(cookies["dt"])
    assert ids(cookies["admin2"]) == {AVERY}
    assert ids(cookies["caseworker"], "?q=jordan%20exam") == {JORDAN}
    assert ids(cookies["caseworker"], f"?setting_id={RIVERSIDE}&limit=200") >= {MORGAN}
    page = system.api("GET", "/api/v1/children?limit=1&offset=1", cookie=cookies["dt"])[1]
    assert len(page["items"]) == 1 and page["total"] >= 2 and (page["limit"], page["offset"]) == (1, 1)
    status, body, _ = system.api("GET", "/api/v1/children?limit=0", cookie=cookies["dt"])
    assert status == 422 and fields_of(body) == {"limit"}


@pytest.mark.parametrize("reader,via", [("sw", "social_worker"), ("dt", "designated_teacher"), ("carer", "carer")])
def test_the_allocated_people_and_the_settings_dt_read_the_child(system: RunningSystem, cookies: dict[str, str],
                                                                 reader: str, via: str) -> None:
    status, child, _ = system.api("GET", f"/api/v1/children/{JORDAN}", cookie=cookies[reader])
    assert status == 200 and child["access"] == via
    assert child["upn"] == "Y938200116001"
    # Jordan's sibling Riley shows only to those who can see Riley's record too.
    assert [s["id"] for s in child["siblings"]] == ([RILEY] if reader == "dt" else [])
    for part in ("attendance", "siblings"):
        assert system.api("GET", f"/api/v1/children/{JORDAN}/{part}", cookie=cookies[reader])[0] == 200


def _outsider_requests(child: str) -> list[tuple[str, str, Any]]:
    return [("GET", f"/api/v1/children/{child}", None), ("GET", f"/api/v1/children/{child}/attendance", None),
            ("GET", f"/api/v1/children/{child}/siblings", None),
            ("PATCH", f"/api/v1/children/{child}", {"version": 1, "health_notes": "x"}),
            ("POST", f"/api/v1/children/{child}/attendance", {
                "period_start": "2025-09-01", "period_end": "2025-09-05", "possible_sessions": 10,
                "attended_sessions": 10}),
            ("POST", f"/api/v1/children/{child}/siblings", {"sibling_id": RILEY}),
            ("DELETE", f"/api/v1/children/{child}/siblings/{RILEY}", None)]


@pytest.mark.parametrize("outsider,child", [
    ("admin2", JORDAN),  # another LA's Virtual School
    ("dt2", JORDAN),  # the DT of another setting (Riverside; Jordan is at Oakfield)
    ("sw", MORGAN),  # a social worker of the LA, not Morgan's
    ("caseworker", AVERY),  # Northshire's child
])
def test_a_child_who_is_not_theirs_is_not_found(system: RunningSystem, cookies: dict[str, str], outsider: str,
                                                child: str) -> None:
    for method, path, body in _outsider_requests(child):
        status, answer, _ = system.api(method, path, body, cookie=cookies[outsider])
        assert status == 404, (method, path, answer)


@pytest.fixture
def staff_granted_riley_only(system: RunningSystem, cookies: dict[str, str]) -> Iterator[str]:
    staff = str(demo.account_id("staff"))
    grant = f"/api/v1/organisations/{OAKFIELD}/staff/{staff}/access"
    assert system.api("PUT", grant, {"children": [RILEY], "sections": None}, cookie=cookies["dt"])[0] == 204
    yield system.sign_in("staff@demo.test")
    assert system.api("PUT", grant, {"children": None, "sections": None}, cookie=cookies["dt"])[0] == 204


def test_setting_staff_reach_only_the_children_their_dt_granted(system: RunningSystem,
                                                                staff_granted_riley_only: str) -> None:
    staff = staff_granted_riley_only
    for method, path, body in _outsider_requests(JORDAN):
        assert system.api(method, path, body, cookie=staff)[0] == 404, (method, path)
    status, riley, _ = system.api("GET", f"/api/v1/children/{RILEY}", cookie=staff)
    assert status == 200 and riley["access"] == "setting_staff" and riley["can_edit"] is False
    # Riley's sibling Jordan is linked, but not shown to someone who cannot see Jordan.
    assert riley["siblings"] == []
    assert {c["id"] for c in system.api("GET", "/api/v1/children", cookie=staff)[1]["items"]} == {RILEY}


def test_every_children_endpoint_needs_a_session(system: RunningSystem) -> None:
    for method, path, body in [("GET", "/api/v1/children", None), ("POST", "/api/v1/children", {}),
                               ("POST", "/api/v1/children/import", {}), *_outsider_requests(JORDAN)]:
        assert system.api(method, path, body)[0] == 401, path
