"""Horizontal scaling on the whole system: four delegation processes and two notify processes (as
`make run REPLICAS=delegation=4,notify=2` runs them). A gateway that names every delegation replica sends its
HTTP calls to them in turn and passes over one that has died; a burst of reminders owed at once, with four
schedulers looking and two notify consumers competing, is sent once each and emailed once each."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.delegation.domain.reminders import owed
from services.delegation.domain.timescales import Calendar
from services.pep.domain.core_data import academic_year_label
from tests.conftest import RunningSystem
from tests.support.clock import LONG_AGO, set_clock
from tests.system.test_children import SW, new_child
from tests.system.test_reminders import sent

DELEGATION = ("delegation-r1", "delegation-r2", "delegation-r3")
BURST = 8


@dataclass
class Scaled:
    clock: Path
    gateway_url: str
    traces: dict[str, Path]  # each delegation replica's own trace directory: where its HTTP spans land


@pytest.fixture
def scaled(system: RunningSystem, tmp_path: Path) -> Iterator[Scaled]:
    """Three more delegation replicas (schedulers on a clock file), one more notify replica, and a gateway
    whose delegation upstream is all four delegation processes. All stopped afterwards."""
    clock = tmp_path / "now"
    clock.write_text(LONG_AGO)
    local, started = system.local, []
    traces = {name: tmp_path / name for name in DELEGATION}
    try:
        ports = []
        for name in DELEGATION:
            ports.append(local.start_replica("delegation", name, {
                "EPEP_CLOCK_FILE": str(clock), "EPEP_REMINDER_INTERVAL_SECONDS": "0.2",
                "EPEP_TRACE_DIR": str(traces[name])}))
            started.append(name)
        local.start_replica("notify", "notify-r1")
        started.append("notify-r1")
        upstream = ",".join([local.url("delegation"), *(f"http://127.0.0.1:{p}" for p in ports)])
        port = local.start_replica("gateway", "gateway-scaled", {"EPEP_DELEGATION_URL": upstream})
        started.append("gateway-scaled")
        yield Scaled(clock, f"http://127.0.0.1:{port}", traces)
    finally:
        for name in started:
            local.stop(name)


def http_spans(directory: Path) -> int:
    spans = directory / "delegation.jsonl"
    return sum('"/tasks' in line for line in spans.read_text().splitlines()) if spans.exists() else 0


def status_of(url: str, cookie: str) -> int:
    req = urllib.request.Request(url, headers={"Cookie": cookie})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_http_takes_turns_across_replicas_and_passes_over_a_dead_one(system: RunningSystem,
                                                                     scaled: Scaled) -> None:
    dt = system.sign_in("dt@demo.test")
    trays = f"{scaled.gateway_url}/api/v1/tasks?tray=current"
    assert [status_of(trays, dt) for _ in range(12)] == [200] * 12
    reached = {name: http_spans(path) for name, path in scaled.traces.items()}
    assert all(n >= 2 for n in reached.values()), reached  # each replica had its turns
    system.local.kill(DELEGATION[1])
    assert [status_of(trays, dt) for _ in range(8)] == [200] * 8  # and nobody notices one dying


def a_delegated_pep(system: RunningSystem, cw: str, due: date) -> tuple[dict[str, Any], dict[str, Any]]:
    child = new_child(system, cw, social_worker_id=SW)
    status, pep, _ = system.api("POST", f"/api/v1/children/{child['id']}/peps", {
        "kind": "initial", "term": "autumn", "academic_year": academic_year_label(date.today())}, cookie=cw)
    assert status == 201, pep
    status, task, _ = system.api("POST", f"/api/v1/peps/{pep['id']}/delegations",
                                 {"sections": ["education"], "due_date": due.isoformat()}, cookie=cw)
    assert status == 201, task
    return child, task


def test_a_burst_of_reminders_is_sent_once_by_four_schedulers_and_two_mailers(system: RunningSystem,
                                                                              scaled: Scaled) -> None:
    started = time.time() - 1
    cw = system.sign_in("caseworker@demo.test")
    # Due beyond the real clock's reach: only the replicas' clock makes anything owed.
    due = date.today() + timedelta(days=90)
    burst = [a_delegated_pep(system, cw, due) for _ in range(BURST)]
    calendar = Calendar()
    day = calendar.add(due, -2, "working_days")
    expected = {(r.rule, r.occurrence.isoformat()) for r in owed(due, day, calendar)}
    assert expected
    set_clock(scaled.clock, day)  # every task's reminder is owed at the same moment

    deadline = time.monotonic() + 30
    while not all(expected <= set(sent(system, task["id"])) for _, task in burst):
        assert time.monotonic() < deadline, "not every reminder was sent"
        time.sleep(0.3)
    time.sleep(1.5)  # about 7 more ticks of each scheduler
    for _, task in burst:
        counts = sent(system, task["id"])
        assert set(counts) == expected and all(n == 1 for n in counts.values()), counts

    def subjects(task: dict[str, Any]) -> Counter[str]:
        return Counter(str(m["Subject"]) for m in system.mailbox.messages("dt@demo.test", started)
                       if f"/tasks/{task['id']}" in (m.get_body(preferencelist=("plain",)) or m).get_content())

    def wanted(child: dict[str, Any]) -> Counter[str]:
        short = f"{child['given_name']} {child['family_name'][0]}."
        return Counter({f"A PEP task for you: {short}": 1, f"Due soon: PEP task for {short}": 1})

    deadline = time.monotonic() + 30
    while any(subjects(task) != wanted(child) for child, task in burst) and time.monotonic() < deadline:
        time.sleep(0.3)
    time.sleep(1.0)  # and no second copy behind
    assert [subjects(task) for _, task in burst] == [wanted(child) for child, _ in burst]
