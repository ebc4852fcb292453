"""Prompts for a child's PEP clocks (issue 18, item 4), with a controllable clock and two more replicas of delegation
running their prompt schedulers: the child's social worker and Designated Teacher are emailed when the initial PEP
is about to be due and when it is overdue, the Virtual School when it has been overdue for the LA's escalation
period; each once per person, not zero times and not twice, and nothing again after a restart or a week later.
The clock is the one thing replaced: the replicas read "now" from a file the test writes."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from services.delegation.domain.clocks import due_soon_from, escalates_on
from services.delegation.domain.timescales import Calendar, Timescales, from_json
from tests.conftest import RunningSystem
from tests.support.clock import replicas_on_a_clock, set_clock
from tests.system.test_children import LA, SW, new_child

REPLICAS = ("delegation-p1", "delegation-p2")
INTERVAL = "EPEP_PROMPT_INTERVAL_SECONDS"


@pytest.fixture
def clock(system: RunningSystem, tmp_path: Path) -> Iterator[Path]:
    """Two replicas of delegation whose clock is a file, prompting every 0.2 s; stopped afterwards."""
    with replicas_on_a_clock(system, "delegation", REPLICAS, tmp_path / "now", INTERVAL) as clock_file:
        yield clock_file


def la_timescales(system: RunningSystem) -> Timescales:
    rows = system.admin_sql("SELECT config FROM delegation.timescale_versions WHERE la_id = $1::text::uuid "
                            "ORDER BY version DESC LIMIT 1", LA)
    return from_json(json.loads(rows[0]["config"])) if rows else Timescales()


def prompted(system: RunningSystem, child_id: str) -> Counter[tuple[str, str, str]]:
    """The initial PEP's prompts sent for the child, as (stage, due, clock), counted."""
    rows = system.admin_sql(
        "SELECT envelope->'data'->>'stage' AS stage, envelope->'data'->>'due' AS due, "
        "envelope->'data'->>'clock' AS clock FROM delegation.outbox WHERE routing_key = 'delegation.clock.prompt.v1' "
        "AND envelope->'data'->>'child_id' = $1", child_id)
    return Counter((r["stage"], r["due"], r["clock"]) for r in rows if r["clock"] == "initial_pep")


def settle(system: RunningSystem, child_id: str, expected: set[tuple[str, str, str]], timeout: float = 20) -> None:
    """Wait until every expected prompt was sent, then long enough for every scheduler to tick many times."""
    deadline = time.monotonic() + timeout
    while not expected <= set(prompted(system, child_id)):
        assert time.monotonic() < deadline, f"not sent: {expected - set(prompted(system, child_id))}"
        time.sleep(0.2)
    time.sleep(1.5)  # about 7 ticks of each replica
    counts = prompted(system, child_id)
    assert set(counts) == expected and all(n == 1 for n in counts.values()), counts


def test_the_people_responsible_then_the_virtual_school_are_prompted_once_each_by_three_schedulers(
        system: RunningSystem, clock: Path) -> None:
    started = time.time() - 1
    cw = system.sign_in("caseworker@demo.test")
    entered = date.today()  # pep takes no date entered care after today; the replicas' clock moves on from it
    child = new_child(system, cw, social_worker_id=SW, date_entered_care=entered.isoformat(),
                      entered_care_emergency=True)
    # The initial PEP by the LA's rules (emergency placement), its due-soon day and its escalation day.
    config = la_timescales(system)
    rule = config.rule("initial_pep_emergency")
    due = Calendar.of(config).add(entered, rule.amount, rule.unit)
    soon, escalation = due_soon_from(config, due), escalates_on(config, due)
    assert entered < soon <= due < escalation
    # The child's facts reach delegation's read model by pep's event.
    deadline = time.monotonic() + 20
    while not system.admin_sql("SELECT 1 FROM delegation.children WHERE id = $1::text::uuid AND date_entered_care "
                               "IS NOT NULL AND entered_care_emergency", child["id"]):
        assert time.monotonic() < deadline, "delegation never heard the child's date entered care"
        time.sleep(0.2)

    expected: set[tuple[str, str, str]] = set()

    def move_to(day: date, *owed: str, hour: int = 9) -> None:
        set_clock(clock, day, hour)
        expected.update((stage, due.isoformat(), "initial_pep") for stage in owed)
        settle(system, child["id"], expected)

    set_clock(clock, soon, hour=6)  # before 07:00 UK time nothing goes out
    time.sleep(1.0)
    move_to(soon - timedelta(days=1))  # the day before the due-soon days: nothing yet
    move_to(soon, "due_soon")
    move_to(due)  # still due soon: not told again
    move_to(due + timedelta(days=1), "overdue")
    move_to(escalation - timedelta(days=1))
    move_to(escalation, "escalated")

    # A replica restarted on the same day sends nothing again; nor does a week later.
    system.local.stop(REPLICAS[0])
    system.local.start_replica("delegation", REPLICAS[0], {"EPEP_CLOCK_FILE": str(clock), INTERVAL: "0.2"})
    move_to(escalation)
    move_to(escalation + timedelta(days=7))
    rows = system.admin_sql("SELECT stage FROM delegation.clock_prompts WHERE child_id = $1::text::uuid "
                            "AND clock = 'initial_pep'", child["id"])
    assert sorted(r["stage"] for r in rows) == ["due_soon", "escalated", "overdue"]

    # Each prompt was one email to each person told: the social worker and the school's DT for due soon and
    # overdue; the Virtual School's caseworker and admin for the escalation; nobody else.
    short = f"{child['given_name']} {child['family_name'][0]}."
    link = f"/children/{child['id']}"

    def text(m: EmailMessage) -> str:
        return (m.get_body(preferencelist=("plain",)) or m).get_content()  # type: ignore[no-any-return]

    def subjects(to: str) -> Counter[str]:
        return Counter(str(m["Subject"]) for m in system.mailbox.messages(to, started)
                       if link in text(m) and "What is due: Initial PEP" in text(m))

    responsible = Counter({f"Due soon: a PEP deadline for {short}": 1, f"Overdue: a PEP deadline for {short}": 1})
    virtual_school = Counter({f"Overdue PEP deadline for {short}": 1})
    wanted: dict[str, Counter[str]] = {"sw@demo.test": responsible, "dt@demo.test": responsible,
                                       "caseworker@demo.test": virtual_school, "admin@demo.test": virtual_school,
                                       "dt2@demo.test": Counter(), "approver@demo.test": Counter()}
    deadline = time.monotonic() + 20
    while any(subjects(to) != want for to, want in wanted.items()) and time.monotonic() < deadline:
        time.sleep(0.3)
    time.sleep(1.0)  # and no second copy behind
    assert {to: subjects(to) for to in wanted} == wanted

    # What the DT read: what is due, by when, the rule, and the child's page; the escalation says its rule.
    dt_mail = next(text(m) for m in system.mailbox.messages("dt@demo.test", started)
                   if link in text(m) and str(m["Subject"]).startswith("Overdue:"))
    assert f"Due by: {due:%A} {due.day} {due:%B %Y}" in dt_mail
    assert f"by emergency placement ({'default rule' if rule.version == 0 else 'LA rule'} 'initial_pep_emergency'" \
        in dt_mail
    vs_mail = next(text(m) for m in system.mailbox.messages("admin@demo.test", started) if link in text(m))
    assert f"so from {escalation.day} {escalation:%B %Y}" in vs_mail and "'escalate_after'" in vs_mail


def test_a_child_not_in_care_is_not_prompted(system: RunningSystem, clock: Path) -> None:
    cw = system.sign_in("caseworker@demo.test")
    entered = date.today()
    child = new_child(system, cw, social_worker_id=SW, date_entered_care=entered.isoformat(),
                      entered_care_emergency=True, in_care=False)
    deadline = time.monotonic() + 20
    while not system.admin_sql("SELECT 1 FROM delegation.children WHERE id = $1::text::uuid AND NOT in_care",
                               child["id"]):
        assert time.monotonic() < deadline, "delegation never heard of the child"
        time.sleep(0.2)
    set_clock(clock, entered + timedelta(days=60))
    time.sleep(2.0)
    assert prompted(system, child["id"]) == Counter()
