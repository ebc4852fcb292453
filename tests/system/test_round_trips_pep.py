"""Issue 19 item 2: one round trip to Postgres for a read on pep's hot paths - a section read, the PEP overview and
`missing` - and at most two for a section save, for the demo people who read and write sections (the social worker,
the Designated Teacher, the Virtual School's caseworker). pep counts the statements each request sends
(epep_db_statements_per_request, by route); these hold each path to its count through the gateway. The answers and
the access log are checked too, so a path cannot get cheaper by answering less or by logging less."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from services.pep.domain.core_data import academic_year_label
from shared import demo
from tests.conftest import RunningSystem
from tests.support.statements import counted, per_request
from tests.system.test_children import SW, new_child
from tests.system.test_tasks import eventually

# A read is one statement: what it decides on, its answer and the access log's row.
READ, SAVE = 1, 2
TIMES = 3  # each request a few times: the first after a start may differ (a statement prepared, a cache filled)
SECTION, OVERVIEW, MISSING = "/peps/{pep_id}/sections/{key}", "/peps/{pep_id}", "/peps/{pep_id}/missing"


@pytest.fixture(scope="module")
def cookies(system: RunningSystem) -> dict[str, str]:
    deadline = time.monotonic() + 30  # pep learns who people are from identity's events (the names it shows)
    ids = [demo.account_id(key) for key, *_ in demo.ACCOUNTS]
    while system.admin_sql("SELECT count(*) AS n FROM pep.users WHERE id = ANY($1::uuid[])", ids)[0]["n"] < len(ids):
        assert time.monotonic() < deadline, "pep never heard of the demo accounts"
        time.sleep(0.2)
    return {key: system.sign_in(f"{key}@demo.test") for key in ("sw", "dt", "caseworker")}


@pytest.fixture(scope="module")
def pep_id(system: RunningSystem, cookies: dict[str, str]) -> str:
    """A PEP of a new child at Oakfield (Dana is its DT, Sam its social worker), its attainment delegated to Dana."""
    child = new_child(system, cookies["caseworker"], social_worker_id=SW)
    status, pep, _ = system.api("POST", f"/api/v1/children/{child['id']}/peps", {
        "kind": "initial", "term": "autumn", "academic_year": academic_year_label(date.today())},
        cookie=cookies["sw"])
    assert status == 201, pep
    status, task, _ = system.api("POST", f"/api/v1/peps/{pep['id']}/delegations",
                                 {"sections": ["attainment"], "due_date": date.today().isoformat()},
                                 cookie=cookies["caseworker"])
    assert status == 201, task
    eventually(lambda: overview(system, cookies["caseworker"], pep["id"])["attainment"]["delegated"],
               "pep hears of the task")
    return str(pep["id"])


def overview(system: RunningSystem, cookie: str, pep_id: str) -> dict[str, Any]:
    status, body, _ = system.api("GET", f"/api/v1/peps/{pep_id}", cookie=cookie)
    assert status == 200, body
    return {s["key"]: s for s in body["sections"]}


def statements(system: RunningSystem, route: str, method: str, request: Callable[[], None]) -> float:
    """Statements per request pep sent to Postgres for `route` while `request()` ran (TIMES, after one more to warm
    the process: a statement prepared, a template parsed)."""
    url = system.local.url("pep")
    request()
    before = counted(url, route, method)
    for _ in range(TIMES):
        request()
    n = per_request(before, counted(url, route, method))
    print(f"MEASURE {method} {route}: {n}")
    return n


def logged(system: RunningSystem, pep_id: str) -> int:
    return int(system.admin_sql("SELECT count(*) AS n FROM pep.access_log WHERE pep_id = $1::uuid",
                                pep_id)[0]["n"])


# Who reads and saves what: the social worker their own section, the DT the delegated one and their own, the
# caseworker (the Virtual School) any section.
WRITES = {"sw": "personal", "dt": "attainment", "caseworker": "education"}
READS = {"sw": "views", "dt": "meeting", "caseworker": "signoff"}


@pytest.mark.parametrize("who", list(WRITES))
def test_each_read_is_one_round_trip_and_still_logged(system: RunningSystem, cookies: dict[str, str], pep_id: str,
                                                      who: str) -> None:
    cookie = cookies[who]
    seen: list[Any] = []

    def get(path: str) -> Callable[[], None]:
        def call() -> None:
            status, body, _ = system.api("GET", f"/api/v1/peps/{pep_id}{path}", cookie=cookie)
            assert status == 200, body
            seen.append(body)
        return call

    for key in {WRITES[who], READS[who]}:
        logs = logged(system, pep_id)
        assert statements(system, SECTION, "GET", get(f"/sections/{key}")) <= READ
        assert logged(system, pep_id) == logs + TIMES + 1, "every read of a section is in the access log"
        assert seen[-1]["key"] == key and seen[-1]["definition"]["key"] == key
    logs = logged(system, pep_id)
    assert statements(system, OVERVIEW, "GET", get("")) <= READ
    assert logged(system, pep_id) == logs + TIMES + 1
    sections = {s["key"]: s for s in seen[-1]["sections"]}
    assert sections["attainment"]["delegated"] and sections[WRITES[who]]["can_edit"]
    # Only the delegate writes the delegated section; the DT never the social worker's.
    assert (sections["attainment"]["can_edit"], sections["personal"]["can_edit"]) == (who == "dt", who != "dt")
    assert "signoff" in sections  # each of them sees QA's sign-off section (shared.authz.SEES_QA)
    assert statements(system, MISSING, "GET", get("/missing")) <= READ
    assert seen[-1] and all(gap["section"] in sections for gap in seen[-1])


@pytest.mark.parametrize("who", list(WRITES))
def test_a_save_is_at_most_two_round_trips(system: RunningSystem, cookies: dict[str, str], pep_id: str,
                                           who: str) -> None:
    cookie, key = cookies[who], WRITES[who]
    path = f"/api/v1/peps/{pep_id}/sections/{key}"
    field = {"personal": "first_language", "attainment": "termly_commentary", "education": "dt_name"}[key]
    versions: list[int] = []

    def put() -> None:
        version = versions[-1] if versions else system.api("GET", path, cookie=cookie)[1]["version"]
        status, body, _ = system.api("PUT", path, {"answers": {field: f"Saved {len(versions)}"}, "version": version},
                                     cookie=cookie)
        assert status == 200, body
        assert body["version"] == version + 1 and body["answers"][field] == f"Saved {len(versions)}"
        versions.append(body["version"])

    logs = logged(system, pep_id)
    put()  # warm (its GET of the version is a read, logged too)
    before = counted(system.local.url("pep"), SECTION, "PUT")
    for _ in range(TIMES):
        put()
    n = per_request(before, counted(system.local.url("pep"), SECTION, "PUT"))
    print(f"MEASURE PUT {SECTION} ({who}): {n}")
    assert n <= SAVE
    assert logged(system, pep_id) == logs + TIMES + 2, "every save is in the access log"
    history = system.admin_sql("SELECT version FROM pep.section_history WHERE pep_id = $1::uuid AND "
                               "section_key = $2 ORDER BY version", pep_id, key)
    assert [r["version"] for r in history][-TIMES - 1:] == versions
    # A save from an old version is still refused, with what is there now; nothing is written.
    status, body, _ = system.api("PUT", path, {"answers": {field: "Stale"}, "version": versions[0]}, cookie=cookie)
    assert (status, body["code"], body["current"]["version"]) == (409, "conflict", versions[-1])


def test_refusals_keep_their_words(system: RunningSystem, cookies: dict[str, str], pep_id: str) -> None:
    """The social worker cannot write the delegated section, nor the DT the social worker's; nobody reads a section
    the template does not have; a bad answer is refused by name."""
    sw, dt = cookies["sw"], cookies["dt"]
    base = f"/api/v1/peps/{pep_id}/sections"
    version = system.api("GET", f"{base}/attainment", cookie=sw)[1]["version"]
    status, body, _ = system.api("PUT", f"{base}/attainment", {"answers": {"termly_commentary": "x"},
                                                               "version": version}, cookie=sw)
    assert (status, body["code"], body["title"]) == (403, "delegated", "This section is with the school")
    version = system.api("GET", f"{base}/personal", cookie=dt)[1]["version"]
    status, body, _ = system.api("PUT", f"{base}/personal", {"answers": {"first_language": "x"},
                                                             "version": version}, cookie=dt)
    assert (status, body["code"], body["detail"]) == (403, "read_only", "Another role writes this section.")
    status, body, _ = system.api("GET", f"{base}/no_such_section", cookie=dt)
    assert (status, body["detail"]) == (404, "We could not find that section.")
    version = system.api("GET", f"{base}/meeting", cookie=dt)[1]["version"]
    status, body, _ = system.api("PUT", f"{base}/meeting", {"answers": {"meeting_date": "31/02/2026"},
                                                            "version": version}, cookie=dt)
    assert (status, [e["field"] for e in body["errors"]]) == (422, ["answers.meeting_date"])
    outsider = system.sign_in("dt2@demo.test")
    status, body, _ = system.api("GET", f"{base}/personal", cookie=outsider)
    assert (status, body["detail"]) == (404, "We could not find that child.")


def test_a_read_after_the_childs_facts_change_is_decided_and_logged_on_the_new_facts(
        system: RunningSystem, cookies: dict[str, str], pep_id: str) -> None:
    """pep decides a read before its statement on the child's facts it last saw, to write the access log's row in
    it: a change to those facts (here the child's IRO, then their social worker) is never read on the old ones."""
    sw = cookies["sw"]
    path = f"/api/v1/peps/{pep_id}/sections/personal"
    assert system.api("GET", path, cookie=sw)[0] == 200
    child_id = system.admin_sql("SELECT child_id FROM pep.peps WHERE id = $1::uuid", pep_id)[0]["child_id"]
    rows = "SELECT * FROM pep.access_log WHERE pep_id = $1::uuid ORDER BY id DESC LIMIT 2"
    system.admin_sql("UPDATE pep.children SET iro_id = $2::uuid WHERE id = $1", child_id,
                     str(demo.account_id("iro")))
    url = system.local.url("pep")
    for n in (2, 1):  # new facts: logged after the answer; the same facts again: logged by the read's statement
        before = counted(url, SECTION)
        assert system.api("GET", path, cookie=sw)[0] == 200
        assert per_request(before, counted(url, SECTION)) == n
    second, first = system.admin_sql(rows, pep_id)
    same = ("user_id", "via", "la_id", "child_id", "pep_id", "method", "endpoint", "section_key", "address")
    assert [first[k] for k in same] == [second[k] for k in same]
    assert (first["via"], first["endpoint"], first["section_key"]) == \
        ("social_worker", "/peps/{pep_id}/sections/{key}", "personal")
    assert first["request_id"] != second["request_id"]
    logs = logged(system, pep_id)
    system.admin_sql("UPDATE pep.children SET social_worker_id = NULL WHERE id = $1", child_id)
    status, body, _ = system.api("GET", path, cookie=sw)
    assert (status, body["detail"]) == (404, "We could not find that child.")
    assert logged(system, pep_id) == logs, "a read refused is not in the access log"
