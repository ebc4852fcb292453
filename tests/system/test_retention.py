"""Retention: a child's records are kept until the birthday their LA chose (the 75th by default), then the
retention job erases them in pep, and delegation, notify and qa erase or anonymise what they hold. Two more
replicas of pep run the job on a clock file, so the test moves time; the child is erased once.

The append-only tables stay append-only for the service role: only pep's erase_child function removes their
rows, for a whole child whose retention has ended."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from services.pep.domain.core_data import academic_year_label
from shared import demo
from shared.schedule import UK
from tests.conftest import RunningSystem
from tests.support.clock import replicas_on_a_clock, set_clock
from tests.system.test_children import LA, new_child
from tests.system.test_identity_access import GOOD_PASSWORD, invite, register

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


def reset_rule(system: RunningSystem) -> None:
    """The demo LA back to 75 with nothing waiting, as the database's owner (no VS admin may reduce it at once)."""
    system.admin_sql("DELETE FROM pep.retention_rules WHERE la_id = $1", LA)
    system.admin_sql("UPDATE pep.retention_changes SET superseded_at = now() WHERE la_id = $1 "
                     "AND applied_at IS NULL AND superseded_at IS NULL", LA)


def test_the_las_vs_admin_chooses_the_birthday_its_childrens_records_are_kept_to(system: RunningSystem) -> None:
    admin, cw = system.sign_in("admin@demo.test"), system.sign_in("caseworker@demo.test")
    path = f"/api/v1/organisations/{LA}/retention"
    assert system.api("GET", path, cookie=cw)[:2] == (200, {"keep_until_age": 75, "pending": None})
    assert system.api("PUT", path, {"keep_until_age": 80}, cookie=cw)[0] == 403
    status, body, _ = system.api("PUT", path, {"keep_until_age": 10}, cookie=admin)
    assert status == 422 and body["errors"][0]["field"] == "keep_until_age"
    try:
        # An increase applies at once.
        assert system.api("PUT", path, {"keep_until_age": 80}, cookie=admin)[:2] == (
            200, {"keep_until_age": 80, "pending": None})
        assert system.api("GET", path, cookie=cw)[1] == {"keep_until_age": 80, "pending": None}
        # Another LA's rule is not there for Northshire's people (nor is the demo LA's for them).
        other = system.sign_in("admin@northshire.test")
        assert system.api("GET", path, cookie=other)[0] == 404
        assert system.api("PUT", path, {"keep_until_age": 25}, cookie=other)[0] == 404
        assert system.api("GET", f"/api/v1/organisations/{demo.OTHER_LA_ID}/retention", cookie=other)[1] == \
            {"keep_until_age": 75, "pending": None}
        # Back down is a reduction: it waits (the next test shows for what).
        status, body, _ = system.api("PUT", path, {"keep_until_age": 75}, cookie=admin)
        assert (status, body["keep_until_age"], body["pending"]["keep_until_age"]) == (200, 80, 75), body
    finally:
        reset_rule(system)


def test_a_reduction_erases_nobody_until_a_second_admin_confirms_it_and_its_date_has_come(
        system: RunningSystem, clock: Path) -> None:
    """One VS admin lowering the age used to erase every older child within the hour (issue 23, finding 9)."""
    admin, cw = system.sign_in("admin@demo.test"), system.sign_in("caseworker@demo.test")
    # A second VS admin of the demo LA, invited and registered.
    email = f"second-admin-{uuid.uuid4().hex[:8]}@demo.test"
    register(system, invite(system, admin, LA, "Sasha", "Second", email, "vs_admin"), "Sasha", "Second", email)
    second = system.sign_in(email, GOOD_PASSWORD)
    # As old as a child may be added (25 this month): within a reduction to 25, nobody else's test child is.
    today = datetime.now(UK).date()
    born = date(today.year - 25, today.month, 1)
    old = new_child(system, cw, date_of_birth=born.isoformat(), year_group="Year 13")["id"]
    path = f"/api/v1/organisations/{LA}/retention"
    kept = "SELECT count(*) FROM pep.children WHERE id = $1"
    due = today + timedelta(days=30)
    try:
        status, state, _ = system.api("PUT", path, {"keep_until_age": 25}, cookie=admin)
        # The answer says the age in effect is unchanged, when the reduction would take effect, and that it waits.
        assert status == 200 and state["keep_until_age"] == 75, state
        assert state["pending"]["keep_until_age"] == 25 and state["pending"]["previous_age"] == 75
        assert state["pending"]["takes_effect_on"] == due.isoformat() and state["pending"]["confirmed_by"] is None
        assert system.api("GET", path, cookie=cw)[1]["pending"]["takes_effect_on"] == due.isoformat()

        # Its date has come, but nobody confirmed it: nobody is erased.
        set_clock(clock, due + timedelta(days=1))
        time.sleep(1.5)  # several ticks of each replica
        assert count(system, kept, old) == 1
        # The one who proposed it cannot confirm it.
        status, body, _ = system.api("POST", f"{path}/confirm", {"keep_until_age": 25}, cookie=admin)
        assert (status, body["code"]) == (403, "same_admin"), body
        # Nor can anyone but a VS admin of the LA, nor a confirmation of an age nobody proposed.
        assert system.api("POST", f"{path}/confirm", {"keep_until_age": 25}, cookie=cw)[0] == 403
        assert system.api("POST", f"{path}/confirm", {"keep_until_age": 25},
                          cookie=system.sign_in("admin@northshire.test"))[0] == 404
        assert system.api("POST", f"{path}/confirm", {"keep_until_age": 26}, cookie=second)[0] == 409
        time.sleep(1.0)
        assert count(system, kept, old) == 1

        # Confirmed by the second admin, but a day before its date: still kept.
        set_clock(clock, due - timedelta(days=1))
        status, state, _ = system.api("POST", f"{path}/confirm", {"keep_until_age": 25}, cookie=second)
        assert status == 200 and state["pending"]["confirmed_by"] and state["keep_until_age"] == 75, state
        time.sleep(1.5)
        assert count(system, kept, old) == 1
        assert system.api("GET", path, cookie=cw)[1]["keep_until_age"] == 75

        # Confirmed and due: it takes effect, and the child is erased.
        set_clock(clock, due)
        eventually(lambda: count(system, "SELECT count(*) FROM pep.erased_children WHERE child_id = $1", old),
                   "the confirmed reduction to take effect")
        assert system.api("GET", path, cookie=cw)[1] == {"keep_until_age": 25, "pending": None}
        # The audit trail: who proposed and who confirmed, the old and new age, when it took effect.
        (change,) = system.admin_sql(
            "SELECT previous_age, keep_until_age, proposed_by::text, confirmed_by::text, takes_effect_on, "
            "applied_at IS NOT NULL AS applied FROM pep.retention_changes WHERE la_id = $1 AND keep_until_age = 25",
            LA)
        assert (change[0], change[1], change[4], change[5]) == (75, 25, due, True)
        assert change[2] != change[3] and None not in (change[2], change[3])
        # The service role cannot rewrite the trail.
        assert as_service_role(system, "epep_pep", "UPDATE pep.retention_changes SET keep_until_age = 99") == \
            "InsufficientPrivilegeError"
        assert as_service_role(system, "epep_pep", "DELETE FROM pep.retention_changes") == \
            "InsufficientPrivilegeError"
    finally:
        # Back to 75: an increase, at once.
        assert system.api("PUT", path, {"keep_until_age": 75}, cookie=admin)[:2] == (
            200, {"keep_until_age": 75, "pending": None})
