"""A subject access export: everything pep holds about a child, for the Virtual School's administrator only,
and itself recorded in the access log."""

from __future__ import annotations

from datetime import date

from services.pep.domain.core_data import academic_year_label
from tests.conftest import RunningSystem
from tests.system.test_children import SW, new_child


def test_the_vs_admin_exports_everything_pep_holds_about_a_child(system: RunningSystem) -> None:
    cw, admin = system.sign_in("caseworker@demo.test"), system.sign_in("admin@demo.test")
    child = new_child(system, cw, social_worker_id=SW)
    status, pep, _ = system.api("POST", f"/api/v1/children/{child['id']}/peps", {
        "kind": "initial", "term": "autumn", "academic_year": academic_year_label(date.today())}, cookie=cw)
    assert status == 201, pep
    section = system.api("GET", f"/api/v1/peps/{pep['id']}/sections/education", cookie=cw)[1]
    assert system.api("PUT", f"/api/v1/peps/{pep['id']}/sections/education", {
        "answers": {"strengths": "Loves maps"}, "version": section["version"]}, cookie=cw)[0] == 200
    assert system.api("POST", f"/api/v1/children/{child['id']}/notes", {"body": "Met the carer today"},
                      cookie=cw)[0] == 201

    export = f"/api/v1/children/{child['id']}/subject-access"
    status, body, _ = system.api("GET", export, cookie=admin)
    assert status == 200, body
    assert body["child"]["family_name"] == child["family_name"] and body["held_by"] == "pep"
    assert [n["body"] for n in body["notes"]] == ["Met the carer today"]
    [held] = body["peps"]
    education = next(s for s in held["sections"] if s["section_key"] == "education")
    assert education["answers"]["strengths"] == "Loves maps"
    assert [h["version"] for h in held["section_history"] if h["section_key"] == "education"] == [0, 1]
    assert [t["action"] for t in held["status_history"]] == ["start"]
    assert any(e["endpoint"] == "/children/{child_id}/notes" for e in body["access_log"])
    assert "emails sent (notify)" in body["held_elsewhere"]

    # The administrators' only; another LA cannot even see the child. The export is itself in the log.
    assert system.api("GET", export, cookie=cw)[0] == 403
    assert system.api("GET", export, cookie=system.sign_in("admin@northshire.test"))[0] == 404
    log = system.api("GET", f"/api/v1/children/{child['id']}/access-log", cookie=admin)[1]["entries"]
    assert any(e["what"] == "Exported everything held (subject access)" and e["name"] == "Amira Admin" for e in log)
