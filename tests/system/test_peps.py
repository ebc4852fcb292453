"""A PEP's life through the gateway: start, save, conflict, complete, submit, approve, finalise, carry forward,
and nobody else's child."""

from __future__ import annotations

from typing import Any

import pytest

from shared import demo
from tests.conftest import RunningSystem
from tests.system.qa_steps import decide_in_qa

CHILD = str(demo.CHILDREN[0]["id"])  # Jordan, Year 5 at Oakfield; Sam is the allocated social worker


@pytest.fixture(scope="module")
def sw(system: RunningSystem) -> str:
    return system.sign_in("sw@demo.test")


@pytest.fixture(scope="module")
def dt(system: RunningSystem) -> str:
    return system.sign_in("dt@demo.test")


@pytest.fixture(scope="module")
def caseworker(system: RunningSystem) -> str:
    return system.sign_in("caseworker@demo.test")


def sample(field: dict[str, Any]) -> Any:
    """A valid answer for any question, whatever the template asks."""
    kind = field["type"]
    if kind in ("text", "long_text"):
        return "An answer written for the test"
    if kind == "date":
        return "2026-12-01"
    if kind == "time":
        return "15:30"
    if kind == "yes_no":
        return True
    if kind == "single_choice":
        values = [o["value"] for o in field["options"]]
        # A target that needs funding asks for the Virtual School's PP+: the route with a decision to follow
        # (school funding, the first choice, is recorded in the PEP and never queued).
        return "vs_pp_plus" if field["key"] == "funding_type" and "vs_pp_plus" in values else values[0]
    if kind == "multiple_choice":
        return [field["options"][0]["value"]]
    if kind in ("number", "score"):
        return int(field.get("minimum") or 0) + 1
    if kind == "money":
        return "25.00"
    row = {f["key"]: sample(f) for f in field["fields"] if f.get("mandatory")}
    return [dict(row) for _ in range(max(field.get("min_rows") or 0, 1))]


def answer_what_is_missing(system: RunningSystem, cookie: str, pep_id: str, sections: set[str]) -> None:
    """Give every missing mandatory answer in these sections, as its writer would, top-down."""
    for _ in range(12):
        gaps = [g for g in system.api("GET", f"/api/v1/peps/{pep_id}/missing", cookie=cookie)[1]
                if g["section"] in sections]
        if not gaps:
            return
        key = gaps[0]["section"]
        section = system.api("GET", f"/api/v1/peps/{pep_id}/sections/{key}", cookie=cookie)[1]
        fields = {f["key"]: f for f in section["definition"]["fields"]}
        changes: dict[str, Any] = {}
        for gap in (g for g in gaps if g["section"] == key):
            top, *rest = gap["field"].split(".")
            if not rest:
                changes[top] = sample(fields[top])
            else:  # a missing answer inside row N of a group
                rows = changes.get(top) or list(section["answers"].get(top) or [])
                column = next(f for f in fields[top]["fields"] if f["key"] == rest[1])
                rows[int(rest[0]) - 1] = {**rows[int(rest[0]) - 1], rest[1]: sample(column)}
                changes[top] = rows
        status, body, _ = system.api("PUT", f"/api/v1/peps/{pep_id}/sections/{key}",
                                     {"answers": changes, "version": section["version"]}, cookie=cookie)
        assert status == 200, body
    raise AssertionError(f"the missing answers never ran out: {gaps}")


def owners(system: RunningSystem, cookie: str, pep_id: str) -> dict[str, set[str]]:
    overview = system.api("GET", f"/api/v1/peps/{pep_id}", cookie=cookie)[1]
    by_owner: dict[str, set[str]] = {}
    for s in overview["sections"]:
        by_owner.setdefault(s["owner"], set()).add(s["key"])
    return by_owner


def test_a_pep_from_start_to_sign_off_then_the_next_one_carries_forward(
        system: RunningSystem, sw: str, dt: str, caseworker: str) -> None:
    status, pep, _ = system.api("POST", f"/api/v1/children/{CHILD}/peps", {
        "kind": "initial", "term": "autumn", "academic_year": "2026/27", "meeting_date": "2026-12-01"}, cookie=sw)
    assert status == 201, pep
    pep_id = pep["id"]
    again = system.api("POST", f"/api/v1/children/{CHILD}/peps", {
        "kind": "initial", "term": "autumn", "academic_year": "2026/27"}, cookie=sw)
    assert (again[0], again[1]["code"]) == (409, "pep_in_progress")

    overview = system.api("GET", f"/api/v1/peps/{pep_id}", cookie=dt)[1]
    assert overview["status"] == "created" and overview["template"]["key"] == "school-age"
    dt_sections = {s["key"] for s in overview["sections"] if s["can_edit"]}
    assert dt_sections and all(s["owner"] != "social_worker" for s in overview["sections"]
                               if s["key"] in dt_sections)

    # A bad answer is refused by name and nothing is lost; a good one survives a reload.
    key = next(s["key"] for s in overview["sections"] if s["owner"] == "designated_teacher")
    section = system.api("GET", f"/api/v1/peps/{pep_id}/sections/{key}", cookie=dt)[1]
    date_field = _first(section, "date")
    text_field = _first(section, "long_text") or _first(section, "text")
    assert text_field, "the section has no text question"
    bad = {text_field: "Kept?", **({date_field: "31/02/2026"} if date_field else {"no_such_question": 1})}
    status, body, _ = system.api("PUT", f"/api/v1/peps/{pep_id}/sections/{key}",
                                 {"answers": bad, "version": section["version"]}, cookie=dt)
    assert status == 422
    assert [e["field"] for e in body["errors"]] == [f"answers.{date_field or 'no_such_question'}"]
    assert system.api("GET", f"/api/v1/peps/{pep_id}/sections/{key}", cookie=dt)[1]["version"] == section["version"]
    status, saved, _ = system.api("PUT", f"/api/v1/peps/{pep_id}/sections/{key}",
                                  {"answers": {text_field: "Reading well"}, "version": section["version"]}, cookie=dt)
    assert status == 200 and saved["version"] == section["version"] + 1
    assert system.api("GET", f"/api/v1/peps/{pep_id}/sections/{key}", cookie=dt)[1]["answers"][text_field] == \
        "Reading well"

    # Two people editing from the same version: the second gets a conflict, not a silent overwrite.
    # (Sol may write this section: the DT grants it, whatever an earlier test left.)
    assert system.api("PUT", f"/api/v1/organisations/{demo.OAKFIELD}/staff/{demo.account_id('staff')}/access",
                      {"children": None, "sections": None}, cookie=dt)[0] == 204
    staff = system.sign_in("staff@demo.test")
    first = system.api("PUT", f"/api/v1/peps/{pep_id}/sections/{key}",
                       {"answers": {text_field: "Dana's words"}, "version": saved["version"]}, cookie=dt)
    second = system.api("PUT", f"/api/v1/peps/{pep_id}/sections/{key}",
                        {"answers": {text_field: "Sol's words"}, "version": saved["version"]}, cookie=staff)
    assert first[0] == 200 and second[0] == 409
    assert second[1]["current"]["answers"][text_field] == "Dana's words"
    assert second[1]["current"]["updated_by_name"] == "Dana Teacher"

    # History and comparison.
    versions = system.api("GET", f"/api/v1/peps/{pep_id}/sections/{key}/history", cookie=dt)[1]
    assert [v["version"] for v in versions][:3] == [saved["version"] + 1, saved["version"], section["version"]]
    diff = system.api("GET", f"/api/v1/peps/{pep_id}/sections/{key}/compare?from={saved['version']}"
                             f"&to={saved['version'] + 1}", cookie=dt)[1]
    assert [(d["field"], d["before"], d["after"]) for d in diff if d["changed"]] == \
        [(text_field, "Reading well", "Dana's words")]

    # Sign-off lists what is missing, then succeeds once it is all there.
    status, body, _ = system.api("POST", f"/api/v1/peps/{pep_id}/actions/submit", {}, cookie=dt)
    assert status == 422 and body["code"] == "incomplete" and body["missing"]
    by_owner = owners(system, dt, pep_id)
    answer_what_is_missing(system, sw, pep_id, by_owner.get("social_worker", set()))
    answer_what_is_missing(system, dt, pep_id, by_owner.get("designated_teacher", set()) |
                           by_owner.get("young_person", set()) | by_owner.get("carer", set()))
    assert system.api("GET", f"/api/v1/peps/{pep_id}/missing", cookie=dt)[1] == []
    status, body, _ = system.api("POST", f"/api/v1/peps/{pep_id}/actions/submit", {}, cookie=dt)
    assert status == 200 and body["status"] == "submitted"
    # Targets that need funding went to qa as requests (the test's answers say every target needs funding).
    requests = system.admin_sql(
        "SELECT envelope->'data'->>'amount' AS amount FROM pep.outbox WHERE routing_key = 'pep.funding.requested.v1' "
        "AND envelope->'data'->>'pep_id' = $1", pep_id)
    assert requests and all(r["amount"] == "25.00" for r in requests)
    # Submitted: the school can no longer change it; returning needs a reason.
    locked = system.api("PUT", f"/api/v1/peps/{pep_id}/sections/{key}", {"answers": {}, "version": 0}, cookie=dt)
    assert locked[0] == 403
    # Approved only through its QA review (tests/system/test_no_approval_without_qa.py for the refusals).
    assert decide_in_qa(system, caseworker, pep_id, "approve")[1]["status"] == "approved"
    assert system.api("POST", f"/api/v1/peps/{pep_id}/actions/finalise", {}, cookie=sw)[1]["status"] == "finalised"

    # Signing off started the next termly PEP, pre-filled, with last term's targets waiting for review.
    targets = system.api("GET", f"/api/v1/peps/{pep_id}/sections/targets", cookie=dt)[1]["answers"]
    nxt = system.api("GET", f"/api/v1/children/{CHILD}/peps", cookie=sw)[1][0]
    assert (nxt["kind"], nxt["term"], nxt["academic_year"], nxt["status"], nxt["meeting_date"]) == \
        ("termly_review", "spring", "2026/27", "created", None)
    again = system.api("POST", f"/api/v1/children/{CHILD}/peps", {
        "kind": "termly_review", "term": "spring", "academic_year": "2026/27"}, cookie=sw)
    assert (again[0], again[1]["code"]) == (409, "pep_in_progress")  # one is already under way
    carried = system.api("GET", f"/api/v1/peps/{nxt['id']}/sections/targets", cookie=dt)[1]
    assert len(carried["answers"].get("previous_targets", [])) == len(targets.get("current_targets", [])) >= 1
    assert all(k.startswith("previous_targets.") for k in carried["to_check"] if "targets" in k)
    overview = system.api("GET", f"/api/v1/peps/{nxt['id']}", cookie=dt)[1]
    assert sum(s["to_check"] for s in overview["sections"]) > 0
    # Term against term: last term's targets beside this term's.
    terms = system.api("GET", f"/api/v1/peps/{nxt['id']}/sections/targets/compare?with_pep={pep_id}", cookie=dt)[1]
    by_field = {d["field"]: d for d in terms}
    assert by_field["current_targets"]["before"] == targets["current_targets"]
    assert by_field["previous_targets"]["after"] == carried["answers"]["previous_targets"]
    riley = str(demo.CHILDREN[1]["id"])  # another child at the same school, whom Dana can see too
    status, other, _ = system.api("POST", f"/api/v1/children/{riley}/peps", {
        "kind": "termly_review", "term": "spring", "academic_year": "2026/27"}, cookie=caseworker)
    if status == 409:
        other = next(p for p in system.api("GET", f"/api/v1/children/{riley}/peps", cookie=caseworker)[1]
                     if p["status"] not in ("finalised", "cancelled"))
    assert system.api("GET", f"/api/v1/peps/{other['id']}", cookie=dt)[0] == 200
    assert system.api("GET", f"/api/v1/peps/{nxt['id']}/sections/targets/compare?with_pep={other['id']}",
                      cookie=dt)[0] == 404  # never compared with another child's PEP
    if status == 201:
        system.api("POST", f"/api/v1/peps/{other['id']}/actions/cancel", {"reason": "test"}, cookie=caseworker)
    # Cancelled, so the demo child is free for other tests.
    assert system.api("POST", f"/api/v1/peps/{nxt['id']}/actions/cancel", {"reason": "test"},
                      cookie=caseworker)[0] == 200

    # Nobody from another LA or setting can reach any of it.
    for email in ("admin@northshire.test", "dt2@demo.test", "dt@hillside.test"):
        other = system.sign_in(email)
        for path in (f"/api/v1/peps/{pep_id}", f"/api/v1/peps/{pep_id}/sections/{key}",
                     f"/api/v1/peps/{pep_id}/missing", f"/api/v1/children/{CHILD}/peps",
                     f"/api/v1/peps/{pep_id}/sections/{key}/history"):
            assert system.api("GET", path, cookie=other)[0] == 404, (email, path)
        assert system.api("POST", f"/api/v1/peps/{pep_id}/actions/cancel", {"reason": "x"}, cookie=other)[0] == 404


def _first(section: dict[str, Any], kind: str) -> str | None:
    return next((f["key"] for f in section["definition"]["fields"] if f["type"] == kind and not f.get("show_when")),
                None)


def test_the_meeting_date_is_kept_in_step_and_announced(system: RunningSystem, caseworker: str) -> None:
    child = str(demo.CHILDREN[2]["id"])  # Morgan, at Riverside
    status, pep, _ = system.api("POST", f"/api/v1/children/{child}/peps", {
        "kind": "termly_review", "term": "spring", "academic_year": "2026/27"}, cookie=caseworker)
    assert status == 201, pep
    try:
        for when in ("2027-02-01", "2027-02-08"):
            section = system.api("GET", f"/api/v1/peps/{pep['id']}/sections/meeting", cookie=caseworker)[1]
            assert system.api("PUT", f"/api/v1/peps/{pep['id']}/sections/meeting", {
                "answers": {"meeting_date": when, "meeting_time": "15:30"}, "version": section["version"]},
                cookie=caseworker)[0] == 200
        assert system.api("GET", f"/api/v1/peps/{pep['id']}", cookie=caseworker)[1]["meeting_date"] == "2027-02-08"
        events = system.admin_sql(
            "SELECT envelope->'data'->>'change' AS change, (envelope->'data'->>'sequence')::int AS seq "
            "FROM pep.outbox WHERE routing_key = 'pep.meeting.changed.v1' AND envelope->'data'->>'pep_id' = $1 "
            "ORDER BY id", pep["id"])
        assert [(e["change"], e["seq"]) for e in events] == [("scheduled", 0), ("moved", 1)]
        profile = system.api("GET", f"/api/v1/children/{child}", cookie=caseworker)[1]
        assert profile["indicators"]["next_pep_due"] == "2027-02-08"
    finally:
        system.api("POST", f"/api/v1/peps/{pep['id']}/actions/cancel", {"reason": "test"}, cookie=caseworker)
    last = system.admin_sql(
        "SELECT envelope->'data'->>'change' AS change, (envelope->'data'->>'sequence')::int AS seq FROM pep.outbox "
        "WHERE routing_key = 'pep.meeting.changed.v1' AND envelope->'data'->>'pep_id' = $1 ORDER BY id DESC LIMIT 1",
        pep["id"])
    assert (last[0]["change"], last[0]["seq"]) == ("cancelled", 2)


def test_an_la_copies_a_template_and_makes_more_answers_mandatory(system: RunningSystem) -> None:
    admin = system.sign_in("admin@northshire.test")
    templates = system.api("GET", "/api/v1/templates", cookie=admin)[1]
    default = next(t for t in templates if t["key"] == "school-age" and t["la_id"] is None)
    status, copy, _ = system.api("POST", f"/api/v1/organisations/{demo.OTHER_LA_ID}/templates",
                                 {"from_template_id": default["id"]}, cookie=admin)
    assert status == 201 and copy["la_id"] == str(demo.OTHER_LA_ID)
    body = copy["body"]
    education = next(s for s in body["sections"] if s["key"] == "education")
    optional = next(f for f in education["fields"] if not f["mandatory"] and not f.get("show_when")
                    and f["type"] in ("text", "long_text"))
    optional["mandatory"] = True
    status, edited, _ = system.api("PUT", f"/api/v1/templates/{copy['id']}", {"body": body}, cookie=admin)
    assert status == 200 and edited["version"] == copy["version"] + 1
    broken = {**body, "sections": []}
    assert system.api("PUT", f"/api/v1/templates/{copy['id']}", {"body": broken}, cookie=admin)[0] == 422
    # Another LA neither sees nor edits it; nobody edits the national default.
    demo_admin = system.sign_in("admin@demo.test")
    assert system.api("GET", f"/api/v1/templates/{copy['id']}", cookie=demo_admin)[0] == 404
    assert system.api("PUT", f"/api/v1/templates/{copy['id']}", {"body": body}, cookie=demo_admin)[0] == 404
    assert system.api("PUT", f"/api/v1/templates/{default['id']}", {"body": body}, cookie=admin)[0] == 403
    # The LA's next PEP uses its own version, with the extra mandatory answer.
    avery = str(demo._id("child/5"))  # Avery, at Hillside in Northshire (services/pep/demo.py)
    status, pep, _ = system.api("POST", f"/api/v1/children/{avery}/peps", {
        "kind": "termly_review", "term": "spring", "academic_year": "2026/27"}, cookie=admin)
    assert status == 201, pep
    try:
        overview = system.api("GET", f"/api/v1/peps/{pep['id']}", cookie=admin)[1]
        assert overview["template"]["version"] == edited["version"]
        gaps = system.api("GET", f"/api/v1/peps/{pep['id']}/missing", cookie=admin)[1]
        assert {"section": "education", "field": optional["key"]} in [
            {"section": g["section"], "field": g["field"]} for g in gaps]
    finally:
        system.api("POST", f"/api/v1/peps/{pep['id']}/actions/cancel", {"reason": "test"}, cookie=admin)
