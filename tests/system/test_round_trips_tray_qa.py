"""Issue 19 item 2: one round trip to Postgres for a read on the hot paths of delegation and qa - the task tray
(the DT's, the caseworker's, the approver's), the QA queue and the review read - and at most two for the review
save. Each process counts the statements every request sends (epep_db_statements_per_request, by route), so these
hold each path to its count through the gateway, for the demo people who use it; the answers are checked too, so a
path cannot get cheaper by answering less."""

from __future__ import annotations

from datetime import date, timedelta
from functools import partial
from typing import Any

import pytest

from services.pep.domain.core_data import academic_year_label
from shared import demo
from tests.conftest import RunningSystem
from tests.support.statements import counted, per_request
from tests.system.qa_steps import rate
from tests.system.test_children import LA, SW, new_child
from tests.system.test_peps import answer_what_is_missing, owners
from tests.system.test_tasks import eventually, save

DUE = (date.today() + timedelta(days=14)).isoformat()
TIMES = 3  # each request a few times: the first after a start may differ (a statement prepared, a cache filled)


@pytest.fixture(scope="module")
def cookies(system: RunningSystem) -> dict[str, str]:
    emails = {"caseworker": "caseworker@demo.test", "approver": "approver@demo.test", "sw": "sw@demo.test",
              "dt": "dt@demo.test", "dt2": "dt2@demo.test", "carer": "carer@demo.test"}
    return {key: system.sign_in(email) for key, email in emails.items()}


@pytest.fixture(scope="module")
def in_qa(system: RunningSystem, cookies: dict[str, str]) -> dict[str, str]:
    """A PEP the caseworker delegated to Oakfield's DT, written and submitted by the DT: the DT's task is submitted,
    the caseworker sent it, the approvers have an "Approve funding" task (the targets ask for PP+), and the PEP waits
    in the QA queue."""
    cw, sw, dt = cookies["caseworker"], cookies["sw"], cookies["dt"]
    child = new_child(system, cw, social_worker_id=SW, carer_ids=[str(demo.account_id("carer"))])
    status, pep, _ = system.api("POST", f"/api/v1/children/{child['id']}/peps", {
        "kind": "initial", "term": "autumn", "academic_year": academic_year_label(date.today())}, cookie=sw)
    assert status == 201, pep
    pep_id = pep["id"]
    status, task, _ = system.api("POST", f"/api/v1/peps/{pep_id}/delegations",
                                 {"sections": ["education", "attainment"], "due_date": DUE}, cookie=cw)
    assert status == 201, task
    eventually(lambda: any(s["delegated"] for s in system.api("GET", f"/api/v1/peps/{pep_id}", cookie=cw)[1]
                           ["sections"]), "pep hears of the task")
    by_owner = owners(system, dt, pep_id)
    answer_what_is_missing(system, sw, pep_id, by_owner.get("social_worker", set()))
    answer_what_is_missing(system, dt, pep_id, by_owner.get("designated_teacher", set())
                           | by_owner.get("young_person", set()) | by_owner.get("carer", set()))
    assert save(system, dt, pep_id, "meeting", {"meeting_date": date.today().isoformat()})[0] == 200
    status, body, _ = system.api("POST", f"/api/v1/peps/{pep_id}/actions/submit", {}, cookie=dt)
    assert status == 200, body
    eventually(lambda: [t for t in tasks(system, cookies["approver"], "current", pep_id)
                        if t["kind"] == "approve_funding"], "the approvers' funding task")
    eventually(lambda: tasks(system, dt, "submitted", pep_id), "the DT's task is submitted")
    eventually(lambda: pep_id in queue(system, cw), "the PEP reaches the QA queue")
    return {"pep_id": pep_id, "task_id": task["id"]}


def tasks(system: RunningSystem, cookie: str, tray: str, pep_id: str | None = None) -> list[dict[str, Any]]:
    query = f"?tray={tray}" + (f"&pep_id={pep_id}" if pep_id else "")
    status, body, _ = system.api("GET", f"/api/v1/tasks{query}", cookie=cookie)
    assert status == 200, body
    return list(body["items"])


def queue(system: RunningSystem, cookie: str) -> list[str]:
    status, body, _ = system.api("GET", f"/api/v1/qa/queue?la_id={LA}", cookie=cookie)
    assert status == 200, body
    return [i["pep_id"] for i in body["items"]]


def statements(system: RunningSystem, service: str, route: str, method: str, requests: Any) -> float:
    """Statements per request `service` sent to Postgres for `route` while `requests()` ran (called TIMES)."""
    url = system.local.url(service)
    before = counted(url, route, method)
    for _ in range(TIMES):
        requests()
    return per_request(before, counted(url, route, method))


def test_the_tray_is_one_round_trip_for_each_of_its_people(system: RunningSystem, cookies: dict[str, str],
                                                          in_qa: dict[str, str]) -> None:
    pep_id, task_id = in_qa["pep_id"], in_qa["task_id"]
    seen: dict[str, list[str]] = {}

    def read(who: str, tray: str, pep: str | None = None) -> None:
        seen[f"{who} {tray}"] = [t["id"] for t in tasks(system, cookies[who], tray, pep)]

    for who, tray in (("dt", "submitted"), ("caseworker", "sent"), ("approver", "current"), ("dt2", "current")):
        for pep in (pep_id, None):
            n = statements(system, "delegation", "/tasks", "GET", partial(read, who, tray, pep))
            assert n == 1, f"{who}'s {tray} tray{' of one PEP' if pep else ''}: {n} statements a request"
    # The same answers: each person's own, and nothing for another school's DT.
    assert task_id in seen["dt submitted"] and task_id in seen["caseworker sent"]
    assert seen["approver current"] and task_id not in seen["approver current"]
    assert seen["dt2 current"] == [] or task_id not in seen["dt2 current"]


def test_the_qa_queue_is_one_round_trip(system: RunningSystem, cookies: dict[str, str],
                                        in_qa: dict[str, str]) -> None:
    for who in ("caseworker", "approver"):
        n = statements(system, "qa", "/qa/queue", "GET", partial(queue, system, cookies[who]))
        assert n == 1, f"{who}'s QA queue: {n} statements a request"
        assert in_qa["pep_id"] in queue(system, cookies[who])


def read_review(system: RunningSystem, path: str, cookie: str, into: list[dict[str, Any]]) -> None:
    status, body, _ = system.api("GET", path, cookie=cookie)
    assert status == 200, body
    into.append(body)


def test_the_review_read_is_one_round_trip(system: RunningSystem, cookies: dict[str, str],
                                           in_qa: dict[str, str]) -> None:
    review = f"/api/v1/peps/{in_qa['pep_id']}/review"
    for who in ("caseworker", "approver", "sw", "dt"):
        got: list[dict[str, Any]] = []
        n = statements(system, "qa", "/peps/{pep_id}/review", "GET",
                       partial(read_review, system, review, cookies[who], got))
        assert n == 1, f"{who}'s review read: {n} statements a request"
        assert got[-1]["status"] == "submitted" and got[-1]["can_review"] == (who in ("caseworker", "approver"))
    # Whoever may not see QA still gets 404, at no more cost.
    n = statements(system, "qa", "/peps/{pep_id}/review", "GET",
                   lambda: system.api("GET", review, cookie=cookies["carer"])[0] == 404 or pytest.fail("carer"))
    assert n <= 1


def test_the_review_save_is_at_most_two_round_trips(system: RunningSystem, cookies: dict[str, str],
                                                    in_qa: dict[str, str]) -> None:
    pep_id = in_qa["pep_id"]
    rate(system, cookies["caseworker"], pep_id, {"areas": {}})  # qa knows the submission by now
    saved: list[dict[str, Any]] = []
    n = statements(system, "qa", "/peps/{pep_id}/review", "PUT",
                   lambda: saved.append(rate(system, cookies["caseworker"], pep_id,
                                             {"areas": {}, "overall_feedback": f"Draft {len(saved)}"})))
    assert n <= 2, f"the review save: {n} statements a request"
    current = saved[-1]["current"]
    assert (current["overall_feedback"], current["stage"], current["by_name"]) == (f"Draft {TIMES - 1}", "draft",
                                                                                   "Cal Caseworker")
    # The answer is what a read gives afterwards.
    status, read, _ = system.api("GET", f"/api/v1/peps/{pep_id}/review", cookie=cookies["caseworker"])
    assert status == 200 and read == saved[-1]
