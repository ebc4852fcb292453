"""Files and exports through the gateway: upload, list, download and delete a child's files with an audit trail,
the Full and Termly PEP as PDF, the PEP as JSON, blank forms; and nobody else's child."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pypdf import PdfReader

from shared import demo
from tests.conftest import RunningSystem
from tests.pep import samples

JORDAN = str(demo.CHILDREN[0]["id"])  # Oakfield; Cara is his carer
RILEY = str(demo.CHILDREN[1]["id"])  # Oakfield: Dana (dt@demo.test) is the Designated Teacher
OUTSIDERS = ("admin@northshire.test", "dt2@demo.test")


@pytest.fixture(scope="module")
def caseworker(system: RunningSystem) -> str:
    return system.sign_in("caseworker@demo.test")


@pytest.fixture(scope="module")
def dt(system: RunningSystem) -> str:
    return system.sign_in("dt@demo.test")


@pytest.fixture(scope="module")
def outsiders(system: RunningSystem) -> list[str]:
    return [system.sign_in(email) for email in OUTSIDERS]


@contextlib.contextmanager
def open_pep(system: RunningSystem, caseworker: str, child: str) -> Iterator[str]:
    """A PEP in progress for the child: a new one, cancelled afterwards so the child is free for other tests,
    or the one already open (left as it was)."""
    status, pep, _ = system.api("POST", f"/api/v1/children/{child}/peps", {
        "kind": "termly_review", "term": "spring", "academic_year": "2026/27"}, cookie=caseworker)
    if status == 409:
        peps = system.api("GET", f"/api/v1/children/{child}/peps", cookie=caseworker)[1]
        yield next(p["id"] for p in peps if p["status"] not in ("finalised", "cancelled"))
        return
    assert status == 201, pep
    try:
        yield pep["id"]
    finally:
        assert system.api("POST", f"/api/v1/peps/{pep['id']}/actions/cancel", {"reason": "test"},
                          cookie=caseworker)[0] == 200


@pytest.fixture(scope="module")
def riley_pep(system: RunningSystem, caseworker: str) -> Iterator[str]:
    with open_pep(system, caseworker, RILEY) as pep_id:
        yield pep_id


def upload(system: RunningSystem, cookie: str, child: str, filename: str, data: bytes, kind: str = "other",
           pep_id: str | None = None) -> tuple[int, Any]:
    """Send a file as a browser form would."""
    boundary = uuid.uuid4().hex
    fields = [("kind", kind)] + ([("pep_id", pep_id)] if pep_id else [])
    body = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
                    for name, value in fields)
    body += (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
             "Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    status, raw, _ = fetch(system, cookie, "POST", f"/api/v1/children/{child}/attachments", body,
                           {"Content-Type": f"multipart/form-data; boundary={boundary}"})
    return status, json.loads(raw) if raw else None


def fetch(system: RunningSystem, cookie: str | None, method: str, path: str, body: bytes | None = None,
          headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
    """Any request, the answer's bytes as they are."""
    hdrs = {**({"Cookie": cookie} if cookie else {}), **(headers or {})}
    req = urllib.request.Request(system.gateway_url + path, data=body, headers=hdrs, method=method)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


def pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF-")
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).split())


def test_files_are_uploaded_checked_downloaded_and_deleted_with_an_audit_trail(
        system: RunningSystem, dt: str, riley_pep: str, outsiders: list[str]) -> None:
    plan = samples.pdf("Riley's support plan")
    status, sent = upload(system, dt, RILEY, "Support plan.pdf", plan, "support_plan", riley_pep)
    assert status == 201, sent
    assert (sent["filename"], sent["content_type"], sent["size_bytes"], sent["kind"], sent["pep_id"]) == \
        ("Support plan.pdf", "application/pdf", len(plan), "support_plan", riley_pep)
    assert sent["sha256"] == hashlib.sha256(plan).hexdigest() and sent["uploaded_by_name"] == "Dana Teacher"
    assert upload(system, dt, RILEY, "photo.png", samples.png(), "photo")[0] == 201
    assert upload(system, dt, RILEY, "award.docx", samples.docx(), "award")[1]["content_type"] == \
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

    # Refused by what the bytes are, naming the field.
    for name, data in (("report.pdf", samples.HTML), ("report.pdf", samples.png()), ("empty.pdf", b"")):
        status, problem = upload(system, dt, RILEY, name, data)
        assert status == 422 and [e["field"] for e in problem["errors"]] == ["file"], (name, problem)
    status, problem = upload(system, dt, RILEY, "plan.pdf", plan, kind="holiday_snaps")
    assert status == 422 and problem["errors"][0]["field"] == "kind"

    listed = json.loads(fetch(system, dt, "GET", f"/api/v1/children/{RILEY}/attachments")[1])
    assert [a["filename"] for a in listed] == ["award.docx", "photo.png", "Support plan.pdf"]
    assert [a["filename"] for a in json.loads(fetch(
        system, dt, "GET", f"/api/v1/children/{RILEY}/attachments?pep_id={riley_pep}")[1])] == ["Support plan.pdf"]

    # The same bytes come back, as a download the browser must not sniff.
    status, body, headers = fetch(system, dt, "GET", f"/api/v1/attachments/{sent['id']}/content")
    assert status == 200 and body == plan
    assert headers["Content-Type"] == "application/pdf"
    assert headers["Content-Disposition"].startswith('attachment; filename="Support plan.pdf"')
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["Cache-Control"] == "no-store"

    # Nobody from another LA or setting can reach any of it.
    for cookie in outsiders:
        for method, path in (("GET", f"/api/v1/children/{RILEY}/attachments"),
                             ("GET", f"/api/v1/attachments/{sent['id']}"),
                             ("GET", f"/api/v1/attachments/{sent['id']}/content"),
                             ("DELETE", f"/api/v1/attachments/{sent['id']}")):
            assert fetch(system, cookie, method, path)[0] == 404, (method, path)
        assert upload(system, cookie, RILEY, "plan.pdf", plan)[0] == 404

    # Deleted: the content is gone, who uploaded, downloaded and deleted it stays.
    assert fetch(system, dt, "DELETE", f"/api/v1/attachments/{sent['id']}")[0] == 204
    assert fetch(system, dt, "GET", f"/api/v1/attachments/{sent['id']}/content")[0] == 404
    assert fetch(system, dt, "DELETE", f"/api/v1/attachments/{sent['id']}")[0] == 404
    status, raw, _ = fetch(system, dt, "GET", f"/api/v1/attachments/{sent['id']}")
    kept = json.loads(raw)
    assert status == 200 and kept["deleted_at"] and kept["deleted_by_name"] == "Dana Teacher"
    assert [(e["action"], e["by_name"]) for e in kept["audit"]] == \
        [("uploaded", "Dana Teacher"), ("downloaded", "Dana Teacher"), ("deleted", "Dana Teacher")]
    assert sent["id"] not in {a["id"] for a in json.loads(
        fetch(system, dt, "GET", f"/api/v1/children/{RILEY}/attachments")[1])}
    left = system.admin_sql("SELECT count(*) AS n FROM pep.attachment_content WHERE attachment_id = $1",
                            uuid.UUID(sent["id"]))
    assert left[0]["n"] == 0


def test_a_file_over_the_limit_is_refused(system: RunningSystem, dt: str) -> None:
    started = time.monotonic()
    status, problem = upload(system, dt, RILEY, "big.pdf", b"%PDF-1.7\n" + b"0" * (20 * 1024 * 1024))
    assert status == 413 and problem["errors"][0] == {"field": "file",
                                                      "message": "The selected file must be smaller than 20 MB"}
    assert time.monotonic() - started < 5


def test_the_pep_as_pdf_and_json(system: RunningSystem, dt: str, riley_pep: str, outsiders: list[str]) -> None:
    section = system.api("GET", f"/api/v1/peps/{riley_pep}/sections/education", cookie=dt)[1]
    saved = system.api("PUT", f"/api/v1/peps/{riley_pep}/sections/education",
                       {"answers": {"strengths": "Loves reading about volcanoes"}, "version": section["version"]},
                       cookie=dt)
    assert saved[0] == 200, saved[1]

    for variant in ("full", "termly"):
        status, body, headers = fetch(system, dt, "GET", f"/api/v1/peps/{riley_pep}/export.pdf?variant={variant}")
        assert status == 200 and headers["Content-Type"] == "application/pdf"
        assert headers["Content-Disposition"].startswith("attachment;") and headers["X-Content-Type-Options"] == \
            "nosniff"
        text = pdf_text(body)
        assert "Loves reading about volcanoes" in text and "Riley Sample" in text
        assert ("Full PEP" if variant == "full" else "Termly PEP") in text
    assert fetch(system, dt, "GET", f"/api/v1/peps/{riley_pep}/export.pdf?variant=draft")[0] == 422

    status, body, headers = fetch(system, dt, "GET", f"/api/v1/peps/{riley_pep}/export.json")
    exported = json.loads(body)
    assert status == 200 and headers["Content-Disposition"].startswith("attachment;")
    assert exported["pep"]["id"] == riley_pep and exported["template"]["key"] == "school-age"
    answers = {s["key"]: s["answers"] for s in exported["sections"]}
    assert answers["education"]["strengths"] == "Loves reading about volcanoes"

    for cookie in outsiders:
        for path in ("export.pdf?variant=termly", "export.pdf?variant=full", "export.json"):
            assert fetch(system, cookie, "GET", f"/api/v1/peps/{riley_pep}/{path}")[0] == 404, path


def test_a_carer_reads_the_termly_pep_but_not_the_full_one_and_cannot_add_files(
        system: RunningSystem, caseworker: str) -> None:
    carer = system.sign_in("carer@demo.test")
    with open_pep(system, caseworker, JORDAN) as pep_id:
        status, body, _ = fetch(system, carer, "GET", f"/api/v1/peps/{pep_id}/export.pdf?variant=termly")
        assert status == 200 and "Jordan Example" in pdf_text(body)
        assert fetch(system, carer, "GET", f"/api/v1/peps/{pep_id}/export.pdf")[0] == 200
        assert fetch(system, carer, "GET", f"/api/v1/peps/{pep_id}/export.pdf?variant=full")[0] == 404
        assert fetch(system, carer, "GET", f"/api/v1/peps/{pep_id}/export.json")[0] == 200
        assert fetch(system, carer, "GET", f"/api/v1/children/{JORDAN}/attachments")[0] == 200
        assert upload(system, carer, JORDAN, "drawing.png", samples.png(), "award")[0] == 403


def test_a_blank_form_for_anyone_signed_in(system: RunningSystem, outsiders: list[str]) -> None:
    status, body, headers = fetch(system, outsiders[0], "GET", "/api/v1/templates/school-age/blank.pdf")
    assert status == 200 and headers["Content-Type"] == "application/pdf"
    assert headers["Content-Disposition"].startswith('attachment; filename="school-age-v2-blank.pdf"')
    assert "Statutory School Age PEP" in pdf_text(body)
    assert fetch(system, outsiders[0], "GET", "/api/v1/templates/no-such-form/blank.pdf")[0] == 404
    assert fetch(system, None, "GET", "/api/v1/templates/school-age/blank.pdf")[0] == 401


def test_the_file_operations_are_in_the_openapi_document(system: RunningSystem) -> None:
    paths = system.api("GET", "/api/v1/openapi.json")[1]["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/children/{child_id}/attachments"])
    for path in ("/api/v1/attachments/{attachment_id}/content", "/api/v1/peps/{pep_id}/export.pdf",
                 "/api/v1/peps/{pep_id}/export.json", "/api/v1/templates/{key}/blank.pdf"):
        assert "get" in paths[path], path
    assert "delete" in paths["/api/v1/attachments/{attachment_id}"]
