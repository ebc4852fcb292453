"""A subject access export: everything held about a child (pep's record and PEPs, delegation's tasks, qa's
funding and reviews, notify's emails), for the Virtual School's administrator only, as JSON and as PDF, and
itself recorded in the access log."""

from __future__ import annotations

import io
import urllib.error
import urllib.request
from datetime import date, timedelta

from pypdf import PdfReader

from services.pep.domain.core_data import academic_year_label
from services.pep.subject_access import EXPORTED_TABLES, NOT_EXPORTED
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
    status, invitation, _ = system.api("POST", f"/api/v1/peps/{pep['id']}/views-invitations", {
        "section": "views", "given_name": "Kai", "email": "kai.views@example.test", "question_set": "secondary"},
        cookie=cw)
    assert status == 201, invitation
    assert system.api("POST", f"/api/v1/children/{child['id']}/notes", {"body": "Met the carer today"},
                      cookie=cw)[0] == 201
    status, task, _ = system.api("POST", f"/api/v1/peps/{pep['id']}/delegations", {
        "sections": ["attainment"], "due_date": (date.today() + timedelta(days=20)).isoformat()}, cookie=cw)
    assert status == 201, task

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
    assert [d["sections"] for d in held["delegated_sections"]] in ([], [["attainment"]])  # pep hears of it soon
    assert held["contributions"] == [] and held["quality_assurance"] == []
    [asked] = body["views_invitations"]
    assert (asked["id"], asked["email"]) == (invitation["id"], "kai.views@example.test")
    assert not set(asked) & {"token_hash", "code_hmac", "code_key_id"}  # never a secret, even hashed
    assert body["targets_between_peps"] == [] and body["termly_payments"] == []
    assert any(e["endpoint"] == "/children/{child_id}/notes" for e in body["access_log"])
    others = body["held_by_others"]
    assert [t["id"] for t in others["delegation"]["tasks"]] == [task["id"]]
    assert [e["action"] for e in others["delegation"]["task_history"]] == ["assign"]
    assert others["qa"]["held_by"] == "qa" and others["qa"]["funding_requests"] == []
    assert others["notify"]["held_by"] == "notify" and isinstance(others["notify"]["emails"], list)
    assert body["held_elsewhere"] == ["the accounts of the staff involved (identity): theirs, not the child's"]

    status, pdf, headers = _download(system, export + ".pdf", admin)
    assert status == 200 and pdf.startswith(b"%PDF")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert child["family_name"] in text and "Loves maps" in text and "Held by others" in text

    # The administrators' only; another LA cannot even see the child. The export is itself in the log.
    assert system.api("GET", export, cookie=cw)[0] == 403
    assert system.api("GET", export, cookie=system.sign_in("admin@northshire.test"))[0] == 404
    assert _download(system, export + ".pdf", cw)[0] == 403
    assert _download(system, export + ".pdf", system.sign_in("admin@northshire.test"))[0] == 404
    log = system.api("GET", f"/api/v1/children/{child['id']}/access-log", cookie=admin)[1]["entries"]
    assert any(e["what"] == "Exported everything held (subject access)" and e["name"] == "Amira Admin" for e in log)


def _download(system: RunningSystem, path: str, cookie: str) -> tuple[int, bytes, dict[str, str]]:
    request = urllib.request.Request(system.gateway_url + path, headers={"Cookie": cookie})
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            return resp.status, resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


def test_every_table_pep_holds_about_a_child_is_in_the_export(system: RunningSystem) -> None:
    """A new table of pep's with a child_id or pep_id column is exported, or says why not: it cannot be forgotten."""
    rows = system.admin_sql("SELECT DISTINCT table_name FROM information_schema.columns WHERE table_schema = 'pep' "
                            "AND column_name IN ('child_id', 'pep_id')")
    about_a_child = {r["table_name"] for r in rows} | {"children"}
    assert about_a_child - EXPORTED_TABLES - NOT_EXPORTED == set()
    assert about_a_child >= EXPORTED_TABLES | NOT_EXPORTED  # and the list names no table that is gone
