"""Retention: a child's records are kept until the birthday their LA chose (the 75th by default), then the
retention job erases them in pep, and delegation, notify and qa erase or anonymise what they hold. Two more
replicas of pep run the job on a clock file, so the test moves time; the child is erased once.

The append-only tables stay append-only for the service role: only pep's erase_child function removes their
rows, for a whole child whose retention has ended."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from services.pep.domain.core_data import academic_year_label
from shared import demo
from tests.conftest import RunningSystem
from tests.support.clock import replicas_on_a_clock, set_clock
from tests.system.test_children import LA, new_child

REPLICAS = ("pep-retention-r1", "pep-retention-r2")
# Born long enough ago that nobody else's test child is older: moving the clock to this child's 75th birthday
# erases no one else's.
BORN = date(2004, 3, 1)


@pytest.fixture
def clock(system: RunningSystem, tmp_path: Path) -> Iterator[Path]:
    with replicas_on_a_clock(system, "pep", REPLICAS, tmp_path / "now", "EPEP_RETENTION_INTERVAL_SECONDS") as file:
        yield file


def eventually(check: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)
    return found


def count(system: RunningSystem, sql: str, *args: Any) -> int:
    return int(system.admin_sql(sql, *args)[0][0])


def as_service_role(system: RunningSystem, role: str, sql: str, *args: Any) -> str | None:
    """Run `sql` as the service's own Postgres role; the error's name when Postgres refuses it."""
    async def run() -> str | None:
        conn = await asyncpg.connect(system.admin_dsn)
        try:
            await conn.execute(f"SET ROLE {role}")
            await conn.execute(sql, *args)
            return None
        except asyncpg.PostgresError as exc:
            return type(exc).__name__
        finally:
            await conn.close()
    return asyncio.run(run())


def test_a_childs_records_are_erased_everywhere_on_the_birthday_their_retention_ends(
        system: RunningSystem, clock: Path) -> None:
    cw = system.sign_in("caseworker@demo.test")
    child = new_child(system, cw, date_of_birth=BORN.isoformat(), year_group="Year 13")
    cid = child["id"]
    assert system.api("POST", f"/api/v1/children/{cid}/notes", {"body": "Settled well at college."},
                      cookie=cw)[0] == 201
    status, pep, _ = system.api("POST", f"/api/v1/children/{cid}/peps", {
        "kind": "initial", "term": "autumn", "academic_year": academic_year_label(date.today())}, cookie=cw)
    assert status == 201, pep
    status, task, _ = system.api("POST", f"/api/v1/peps/{pep['id']}/delegations", {
        "sections": ["education"], "due_date": (date.today() + timedelta(days=30)).isoformat()}, cookie=cw)
    assert status == 201, task
    assert system.api("GET", f"/api/v1/children/{cid}", cookie=cw)[0] == 200
    eventually(lambda: count(system, "SELECT count(*) FROM delegation.tasks WHERE child_id = $1", cid)
               and count(system, "SELECT count(*) FROM qa.children WHERE id = $1", cid)
               and count(system, "SELECT count(*) FROM notify.children WHERE id = $1", cid),
               "the other services' copies of the child")
    assert count(system, "SELECT count(*) FROM pep.access_log WHERE child_id = $1", cid) > 0

    set_clock(clock, BORN.replace(year=BORN.year + 75) - timedelta(days=1))  # the day before: kept
    time.sleep(1.5)  # several ticks of each replica
    assert count(system, "SELECT count(*) FROM pep.children WHERE id = $1", cid) == 1

    set_clock(clock, BORN.replace(year=BORN.year + 75))
    eventually(lambda: count(system, "SELECT count(*) FROM pep.erased_children WHERE child_id = $1", cid),
               "the retention job")
    assert system.api("GET", f"/api/v1/children/{cid}", cookie=cw)[0] == 404
    for table in ("children WHERE id", "peps WHERE child_id", "child_notes WHERE child_id",
                  "access_log WHERE child_id", "placement_history WHERE child_id"):
        assert count(system, f"SELECT count(*) FROM pep.{table} = $1", cid) == 0, table
    erased = [json.loads(r["envelope"]) for r in system.admin_sql(
        "SELECT envelope FROM pep.outbox WHERE routing_key = 'pep.child.erased.v1' "
        "AND envelope->'data'->>'child_id' = $1", cid)]
    assert len(erased) == 1  # three replicas, one erasure
    assert erased[0]["data"]["pep_ids"] == [pep["id"]]
    assert erased[0]["data"]["retention_ended"] == BORN.replace(year=BORN.year + 75).isoformat()

    eventually(lambda: count(system, "SELECT count(*) FROM delegation.tasks WHERE child_id = $1", cid) == 0
               and count(system, "SELECT count(*) FROM notify.children WHERE id = $1", cid) == 0
               and count(system, "SELECT count(*) FROM qa.children WHERE id = $1 AND given_name = 'Erased'", cid),
               "delegation, notify and qa to erase their part")
    assert count(system, "SELECT count(*) FROM delegation.task_events WHERE task_id = $1", task["id"]) == 0
    assert count(system, "SELECT count(*) FROM delegation.peps WHERE child_id = $1", cid) == 0
    assert count(system, "SELECT count(*) FROM qa.children WHERE id = $1 AND family_name = $2", cid,
                 child["family_name"]) == 0
    # The task's emails are kept as sent, to whom and when, but no longer say what they were about.
    assert count(system, "SELECT count(*) FROM notify.deliveries WHERE strpos(payload::text, $1) > 0",
                 pep["id"]) == 0


def test_the_service_role_still_cannot_change_or_remove_the_logs_and_the_job_path_refuses_a_kept_child(
        system: RunningSystem) -> None:
    cw = system.sign_in("caseworker@demo.test")
    child = new_child(system, cw)
    assert system.api("GET", f"/api/v1/children/{child['id']}", cookie=cw)[0] == 200
    for table in ("pep.access_log", "pep.child_notes", "pep.placement_history", "pep.erased_children"):
        assert as_service_role(system, "epep_pep", f"DELETE FROM {table}") == "InsufficientPrivilegeError", table
    assert as_service_role(system, "epep_pep", "UPDATE pep.access_log SET address = NULL") == \
        "InsufficientPrivilegeError"
    assert as_service_role(system, "epep_delegation", "DELETE FROM delegation.task_events") == \
        "InsufficientPrivilegeError"
    assert as_service_role(system, "epep_qa", "UPDATE qa.reviews SET note = NULL") == "InsufficientPrivilegeError"
    # The one path: a whole child, only once their retention has ended.
    assert as_service_role(system, "epep_pep", "SELECT pep.erase_child($1, $2)", child["id"],
                           date.today()) == "RaiseError"
    assert count(system, "SELECT count(*) FROM pep.children WHERE id = $1", child["id"]) == 1


def test_the_las_vs_admin_chooses_the_birthday_its_childrens_records_are_kept_to(system: RunningSystem) -> None:
    admin, cw = system.sign_in("admin@demo.test"), system.sign_in("caseworker@demo.test")
    path = f"/api/v1/organisations/{LA}/retention"
    assert system.api("GET", path, cookie=cw)[:2] == (200, {"keep_until_age": 75})
    assert system.api("PUT", path, {"keep_until_age": 80}, cookie=cw)[0] == 403
    status, body, _ = system.api("PUT", path, {"keep_until_age": 10}, cookie=admin)
    assert status == 422 and body["errors"][0]["field"] == "keep_until_age"
    try:
        assert system.api("PUT", path, {"keep_until_age": 80}, cookie=admin)[:2] == (200, {"keep_until_age": 80})
        assert system.api("GET", path, cookie=cw)[1] == {"keep_until_age": 80}
        # Another LA's rule is not there for Northshire's people (nor is the demo LA's for them).
        other = system.sign_in("admin@northshire.test")
        assert system.api("GET", path, cookie=other)[0] == 404
        assert system.api("PUT", path, {"keep_until_age": 25}, cookie=other)[0] == 404
        assert system.api("GET", f"/api/v1/organisations/{demo.OTHER_LA_ID}/retention", cookie=other)[1] == \
            {"keep_until_age": 75}
    finally:
        assert system.api("PUT", path, {"keep_until_age": 75}, cookie=admin)[0] == 200
