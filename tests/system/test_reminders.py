"""Reminders with a controllable clock and two more replicas of delegation running (three schedulers in all):
each reminder is sent once, not zero times and not twice, and a restart sends nothing again. The clock is the
one thing replaced: the replicas read "now" from a file the test writes."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from services.delegation.domain.reminders import owed
from services.delegation.domain.timescales import Calendar
from services.pep.domain.core_data import academic_year_label
from tests.conftest import RunningSystem
from tests.support.clock import replicas_on_a_clock, set_clock
from tests.system.test_children import SW, new_child

REPLICAS = ("delegation-r1", "delegation-r2")


@pytest.fixture
def clock(system: RunningSystem, tmp_path: Path) -> Iterator[Path]:
    """Two replicas of delegation whose clock is a file; stopped afterwards."""
    with replicas_on_a_clock(system, "delegation", REPLICAS, tmp_path / "now",
                             "EPEP_REMINDER_INTERVAL_SECONDS") as clock_file:
        yield clock_file


def sent(system: RunningSystem, task_id: str) -> Counter[tuple[str, str]]:
    rows = system.admin_sql(
        "SELECT envelope->'data'->>'rule' AS rule, envelope->'data'->>'occurrence' AS occurrence "
        "FROM delegation.outbox WHERE routing_key = 'delegation.task.reminder.v1' "
        "AND envelope->'data'->>'task_id' = $1", task_id)
    return Counter((r["rule"], r["occurrence"]) for r in rows)


def settle(system: RunningSystem, task_id: str, expected: set[tuple[str, str]], timeout: float = 20) -> None:
    """Wait until every expected reminder was sent, then long enough for every scheduler to tick many times."""
    deadline = time.monotonic() + timeout
    while not expected <= set(sent(system, task_id)):
        assert time.monotonic() < deadline, f"not sent: {expected - set(sent(system, task_id))}"
        time.sleep(0.2)
    time.sleep(1.5)  # about 7 ticks of each replica


def test_each_reminder_is_sent_once_by_three_schedulers_and_across_a_restart(
        system: RunningSystem, clock: Path) -> None:
    started = time.time() - 1
    cw = system.sign_in("caseworker@demo.test")
    child = new_child(system, cw, social_worker_id=SW)
    status, pep, _ = system.api("POST", f"/api/v1/children/{child['id']}/peps", {
        "kind": "initial", "term": "autumn", "academic_year": academic_year_label(date.today())}, cookie=cw)
    assert status == 201, pep
    # Due well beyond the real clock's reach, so only the replicas' clock makes anything owed.
    due = date.today() + timedelta(days=90)
    status, task, _ = system.api("POST", f"/api/v1/peps/{pep['id']}/delegations",
                                 {"sections": ["education"], "due_date": due.isoformat()}, cookie=cw)
    assert status == 201, task
    calendar = Calendar()  # reminders count working days: weekends and bank holidays
    expected: set[tuple[str, str]] = set()

    def move_to(day: date, hour: int = 9) -> None:
        set_clock(clock, day, hour)
        expected.update((r.rule, r.occurrence.isoformat()) for r in owed(due, day, calendar))
        settle(system, task["id"], expected)
        counts = sent(system, task["id"])
        assert set(counts) == expected and all(n == 1 for n in counts.values()), counts

    soon = calendar.add(due, -2, "working_days")
    set_clock(clock, soon, hour=6)  # before 07:00 UK time nothing goes out
    time.sleep(1.0)
    assert sent(system, task["id"]) == Counter()
    move_to(soon)
    move_to(due)
    escalation = calendar.add(due, 5, "working_days")
    move_to(escalation)
    assert {rule for rule, _ in expected} == {"due_soon", "due_today", "overdue", "escalated"}

    # A replica restarted on the same day sends nothing again.
    system.local.stop(REPLICAS[0])
    system.local.start_replica("delegation", REPLICAS[0], {"EPEP_CLOCK_FILE": str(clock),
                                                           "EPEP_REMINDER_INTERVAL_SECONDS": "0.2"})
    move_to(escalation)
    # A week later: the overdue reminder again (a new occurrence); the escalation is not repeated.
    move_to(escalation + timedelta(days=7))
    assert Counter(rule for rule, _ in expected)["overdue"] >= 2 and \
        Counter(rule for rule, _ in expected)["escalated"] == 1

    # Each reminder was one email (after the one saying the task was assigned): the school's DT for due soon,
    # due today and each overdue; the Virtual School's caseworker (who also delegated it) for the escalation.
    short = f"{child['given_name']} {child['family_name'][0]}."

    def subjects(to: str) -> Counter[str]:
        return Counter(str(m["Subject"]) for m in system.mailbox.messages(to, started)
                       if f"/tasks/{task['id']}" in (m.get_body(preferencelist=("plain",)) or m).get_content())
    expected_mail = Counter({f"A PEP task for you: {short}": 1, f"Due soon: PEP task for {short}": 1,
                             f"Due today: PEP task for {short}": 1,
                             f"Overdue: PEP task for {short}": Counter(r for r, _ in expected)["overdue"]})
    deadline = time.monotonic() + 20
    while subjects("dt@demo.test") != expected_mail and time.monotonic() < deadline:
        time.sleep(0.3)
    assert subjects("dt@demo.test") == expected_mail
    assert subjects("caseworker@demo.test") == Counter({f"Overdue PEP task for {short}": 1})

    # Once the task is retracted, nothing more is owed.
    assert system.api("POST", f"/api/v1/tasks/{task['id']}/retract", {"reason": "Done elsewhere"},
                      cookie=cw)[0] == 200
    before = sent(system, task["id"])
    set_clock(clock, escalation + timedelta(days=14))
    time.sleep(1.5)
    assert sent(system, task["id"]) == before
