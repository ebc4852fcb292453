"""Another council's records do not exist for you: every gateway operation in the OpenAPI document that names a
record in its path, called by every kind of person in the demo LA with the ids of Northshire's real records,
answers exactly as it does for ids that exist nowhere (same status, same problem). So nothing about
another LA's children, PEPs, files, tasks, templates, people or emails can be read, changed, or even
confirmed to exist. The operations are read from the document, so a new endpoint is covered the day it
is added; an id kind the test does not know fails it, so nobody forgets to give it one."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
import uuid
from datetime import date, timedelta
from typing import Any

import pytest

from services.pep.demo import NORTHSHIRE_CHILD
from services.pep.domain.core_data import academic_year_label
from shared import demo
from tests.conftest import RunningSystem
from tests.system.test_pep_files import upload

AVERY = str(NORTHSHIRE_CHILD["id"])
DEMO_PEOPLE = ("admin", "caseworker", "approver", "sw", "iro", "dt", "staff", "dt2", "carer")
EMAILS = {key: email for key, email, *_ in demo.ACCOUNTS}
# Path parameters that are not records of an LA: the same for everyone.
NOT_TENANTED = {"key"}


def call(system: RunningSystem, cookie: str, method: str, path: str) -> tuple[int, Any]:
    data = json.dumps({}).encode() if method in ("post", "put", "patch") else None
    req = urllib.request.Request(system.gateway_url + path, data=data, method=method.upper(),
                                 headers={"Cookie": cookie, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            raw, status = resp.read(), resp.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = None
    return status, body


def answer(status: int, body: Any) -> tuple[int, Any, Any]:
    """What may differ between a real id and a missing one: nothing but the request's own ids."""
    if isinstance(body, dict):
        return status, body.get("code"), body.get("title")
    return status, None, None


@pytest.fixture(scope="module")
def northshire(system: RunningSystem) -> dict[str, list[str]]:
    """Real records of Northshire's, one or more per kind of id the API takes."""
    admin2 = system.sign_in("admin@northshire.test")
    status, pep, _ = system.api("POST", f"/api/v1/children/{AVERY}/peps", {
        "kind": "initial", "term": "autumn", "academic_year": academic_year_label(date.today()),
        "meeting_date": (date.today() + timedelta(days=20)).isoformat()}, cookie=admin2)
    if status == 409:  # one is under way already (another test started it)
        pep = system.api("GET", f"/api/v1/children/{AVERY}/peps", cookie=admin2)[1][0]
    else:
        assert status == 201, pep
    status, task, _ = system.api("POST", f"/api/v1/peps/{pep['id']}/delegations", {"sections": ["education"]},
                                 cookie=admin2)
    if status == 409:
        task = next(t for t in system.api("GET", f"/api/v1/peps/{pep['id']}/tasks", cookie=admin2)[1])
    else:
        assert status == 201, task
    status, file = upload(system, admin2, AVERY, "report.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n")
    assert status == 201, file
    status, invitation, _ = system.api("POST", f"/api/v1/organisations/{demo.OTHER_LA_ID}/invitations", {
        "given_name": "Nel", "family_name": "Northern", "email": f"nel.{uuid.uuid4().hex[:8]}@northshire.test",
        "role": "vs_caseworker"}, cookie=admin2)
    assert status == 201, invitation
    default = next(t for t in system.api("GET", "/api/v1/templates", cookie=admin2)[1] if t["la_id"] is None)
    status, template, _ = system.api("POST", f"/api/v1/organisations/{demo.OTHER_LA_ID}/templates",
                                     {"from_template_id": default["id"]}, cookie=admin2)
    assert status == 201, template
    sessions = system.api("GET", "/api/v1/me/sessions", cookie=admin2)[1]
    deliveries = system.admin_sql("SELECT id::text FROM notify.deliveries WHERE tenant = $1 LIMIT 1",
                                  str(demo.OTHER_LA_ID))
    assert deliveries, "Northshire has no delivery to try: its invitation should have made one"
    # A PP+ request as qa keeps it from pep's event (a submitted PEP's target that needs funding).
    funding = system.admin_sql(
        "INSERT INTO qa.funding_requests (id, pep_id, target, child_id, la_id, description, amount_requested, "
        "academic_year, term, requested_at) VALUES (gen_random_uuid(), $1, 1, $2, $3, 'Tutoring', 100, $4, "
        "'autumn', now()) ON CONFLICT (pep_id, target) DO UPDATE SET term = 'autumn' RETURNING id::text",
        uuid.UUID(pep["id"]), uuid.UUID(AVERY), demo.OTHER_LA_ID, academic_year_label(date.today()))
    return {
        "child_id": [AVERY], "sibling_id": [AVERY], "pep_id": [pep["id"]], "task_id": [task["id"]],
        "attachment_id": [file["id"]], "invitation_id": [invitation["id"]], "template_id": [template["id"]],
        "session_id": [sessions[0]["id"]], "delivery_id": [deliveries[0]["id"]],
        "request_id": [funding[0]["id"]],
        "la_id": [str(demo.OTHER_LA_ID)], "setting_id": [str(demo.HILLSIDE)],
        "org_id": [str(demo.OTHER_LA_ID), str(demo.HILLSIDE)],
        "user_id": [str(demo.account_id("admin2")), str(demo.account_id("dt3"))],
    }


def operations(system: RunningSystem) -> list[tuple[str, str]]:
    status, document, _ = system.api("GET", "/api/v1/openapi.json")
    assert status == 200
    return [(method, path) for path, item in document["paths"].items() for method in item
            if method in ("get", "post", "put", "patch", "delete") and set(re.findall(r"\{(\w+)\}", path))
            - NOT_TENANTED]


def fill(path: str, ids: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: ids.get(m.group(1), "education"), path)


def test_every_operation_answers_for_another_las_records_as_for_records_that_do_not_exist(
        system: RunningSystem, northshire: dict[str, list[str]]) -> None:
    ops = operations(system)
    kinds = {name for _, path in ops for name in re.findall(r"\{(\w+)\}", path)} - NOT_TENANTED
    assert kinds <= set(northshire), f"give the test a Northshire record for: {kinds - set(northshire)}"
    cookies = {who: system.sign_in(EMAILS[who]) for who in DEMO_PEOPLE}
    leaks, calls = [], 0
    for method, path in ops:
        names = [n for n in re.findall(r"\{(\w+)\}", path) if n not in NOT_TENANTED]
        # Each kind of id with each of its Northshire records (the others filled with Northshire's first).
        variants = [{**{n: northshire[n][0] for n in names}, name: value}
                    for name in names for value in northshire[name]]
        for who, cookie in cookies.items():
            for real in variants:
                missing = {n: str(uuid.uuid4()) for n in names}
                theirs = answer(*call(system, cookie, method, fill(path, real)))
                nobody = answer(*call(system, cookie, method, fill(path, missing)))
                calls += 2
                if theirs != nobody or theirs[0] < 400:
                    leaks.append(f"{who}: {method.upper()} {fill(path, real)} -> {theirs}, missing -> {nobody}")
    print(f"tenant matrix: {len(ops)} operations with ids, {len(cookies)} people, {calls} calls")
    assert calls > 1000, calls  # every operation, every person: the closing note quotes this count
    assert leaks == [], "\n".join(leaks)
