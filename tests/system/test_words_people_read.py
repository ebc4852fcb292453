"""Words a person reads (issue 22, item 10), on the whole system: the demo's own records name who made them (never
"Someone"), a tray names a task's sections by their titles in the PEP's template (never their keys), and a task's
email names the child in full in its body (never "Robin D.."), checked in the development mail sink."""

from __future__ import annotations

import re
import time
import urllib.request
from datetime import date, timedelta
from typing import Any

import pytest

from services.pep.demo import NORTHSHIRE_CHILD
from services.pep.domain.core_data import academic_year_label
from shared import demo
from tests.conftest import RunningSystem
from tests.system.test_children import new_child
from tests.system.test_tasks import eventually

CASEY = str(demo.CHILDREN[3]["id"])  # a demo child whose record no other system test changes


@pytest.fixture(scope="module", autouse=True)
def people_known_to_pep(system: RunningSystem) -> None:
    """pep learns who people are from identity's events; wait until it knows every demo account."""
    ids = [demo.account_id(key) for key, *_ in demo.ACCOUNTS]
    eventually(lambda: system.admin_sql("SELECT count(*) AS n FROM pep.users WHERE id = ANY($1::uuid[])",
                                        ids)[0]["n"] == len(ids), "pep hears of every demo account", 30)


def _activity(system: RunningSystem, cookie: str, child_id: str) -> list[dict[str, Any]]:
    status, body, _ = system.api("GET", f"/api/v1/children/{child_id}/activity", cookie=cookie)
    assert status == 200, body
    return list(body["items"])


def test_the_demo_records_name_who_entered_them(system: RunningSystem) -> None:
    caseworker = system.sign_in("caseworker@demo.test")
    seeded = [i for i in _activity(system, caseworker, CASEY) if i["kind"] in ("placement", "setting")]
    assert seeded, "the demo's seeding is in the record's activity"
    assert {i["by_name"] for i in seeded} == {"Cal Caseworker"}
    northshire = system.sign_in("admin@northshire.test")
    seeded = [i for i in _activity(system, northshire, str(NORTHSHIRE_CHILD["id"]))
              if i["kind"] in ("placement", "setting")]
    assert seeded and {i["by_name"] for i in seeded} == {"Nadia Northshire"}
    # What a person reads on the child's page: the name, never "Someone".
    page = _portal_page(system, caseworker, f"/children/{CASEY}")
    assert "Cal Caseworker" in page and "Someone" not in page
    for cookie in (caseworker, northshire):
        system.api("POST", "/api/v1/auth/sign-out", cookie=cookie)


def _portal_page(system: RunningSystem, cookie: str, path: str) -> str:
    request = urllib.request.Request(system.portal_url + path, headers={"Cookie": cookie})
    with urllib.request.urlopen(request, timeout=30) as response:
        return str(response.read().decode())


def test_a_tray_names_sections_by_title_and_the_email_names_the_child_in_full(system: RunningSystem) -> None:
    caseworker, dt = system.sign_in("caseworker@demo.test"), system.sign_in("dt@demo.test")
    child = new_child(system, caseworker, given_name="Robin")
    full_name = f"Robin {child['family_name']}"
    status, pep, _ = system.api("POST", f"/api/v1/children/{child['id']}/peps", {
        "kind": "termly_review", "term": "spring", "academic_year": academic_year_label(date.today())},
        cookie=caseworker)
    assert status == 201, pep
    since = time.time()
    status, task, _ = system.api("POST", f"/api/v1/peps/{pep['id']}/delegations", {
        "sections": ["education", "attainment"], "due_date": (date.today() + timedelta(days=14)).isoformat()},
        cookie=caseworker)
    assert status in (200, 201), task

    # The DT's tray, as the portal draws it: the template's titles.
    def tray_row() -> str | None:
        page = _portal_page(system, dt, "/tasks")
        row = re.search(rf"<tr[^>]*>(?:(?!</tr>).)*{re.escape(full_name)}(?:(?!</tr>).)*</tr>", page, re.S)
        return row.group(0) if row else None
    row = eventually(tray_row, "the task is in the DT's tray")
    assert "Complete sections: Education, Attainment and progress" in " ".join(row.split())
    assert "Complete sections: Education, Attainment<" not in row

    # Its email: the child's full name in the body, the first name and initial only in the subject.
    def email() -> Any:
        return next((m for m in system.mailbox.messages("dt@demo.test", since)
                     if f"/tasks/{task['id']}" in (m.get_body(("plain",)) or m).get_content()), None)
    message = eventually(email, "the DT's task email")
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert f"the Personal Education Plan (PEP) for {full_name}" in " ".join(text.split())
    assert full_name in html and f"Robin {child['family_name'][0]}." not in text
    assert str(message["Subject"]) == f"A PEP task for you: Robin {child['family_name'][0]}."
    for cookie in (caseworker, dt):
        system.api("POST", "/api/v1/auth/sign-out", cookie=cookie)
