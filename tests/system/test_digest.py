"""Reminders once a day: someone who chooses a daily digest gets their reminders gathered into one email from
07:00 UK time, exactly once per day however many notify replicas run; everyone else still gets them at once.
The clock is the one thing replaced (the replicas read "now" from a file)."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from services.pep.domain.core_data import academic_year_label
from shared import demo
from shared.bus import add_event
from shared.contracts import TaskReminder
from tests.browser.helpers import create_account
from tests.conftest import RunningSystem
from tests.support.clock import replicas_on_a_clock, set_clock
from tests.system.test_children import SW, new_child

REPLICAS = ("notify-r1", "notify-r2")
PASSWORD = "kettle-orbit-tangerine-59"
DIGEST = "Your ePEP reminders for today"


@pytest.fixture
def clock(system: RunningSystem, tmp_path: Path) -> Iterator[Path]:
    """Two replicas of notify whose clock is a file; stopped afterwards."""
    with replicas_on_a_clock(system, "notify", REPLICAS, tmp_path / "now",
                             "EPEP_DIGEST_INTERVAL_SECONDS") as clock_file:
        yield clock_file


async def _remind(dsn: str, task: dict[str, Any], rule: str, occurrence: date) -> None:
    """A reminder as delegation's scheduler sends it: into delegation's outbox, which its relay publishes."""
    conn = await asyncpg.connect(dsn, server_settings={"search_path": "delegation"})
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    try:
        await add_event(conn, "delegation", TaskReminder(
            task_id=task["id"], pep_id=task["pep_id"], child_id=task["child_id"], la_id=task["la_id"],
            setting_id=task["setting_id"], originator_id=task["originator_id"], kind=task["kind"], rule=rule,
            occurrence=occurrence, due_date=task["due_date"]), tenant=task["la_id"])
    finally:
        await conn.close()


def mail(system: RunningSystem, to: str, task_id: str, since: float) -> list[tuple[str, str]]:
    out = []
    for m in system.mailbox.messages(to, since):
        body = m.get_body(preferencelist=("plain",))
        text = body.get_content() if body else ""
        if f"/tasks/{task_id}" in text:
            out.append((str(m["Subject"]), text))
    return out


def wait_for(check: Any, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.2)


def test_a_daily_digest_gathers_reminders_and_goes_once_a_day(system: RunningSystem, clock: Path) -> None:
    since = time.time() - 1
    staff_email = f"kit.{secrets.token_hex(4)}@demo.test"
    create_account(system, ("dt@demo.test", "demo-pass-2026"), str(demo.OAKFIELD), "setting_staff", "Kit",
                   "Keen", staff_email, PASSWORD)
    staff = system.sign_in(staff_email, PASSWORD)
    # A newcomer sees no child until their DT grants it (issue 23, finding 9), and is sent nothing about one:
    # the DT lets Kit see every child at the setting, as the demo's staff may.
    staff_id = system.api("GET", "/api/v1/me", cookie=staff)[1]["id"]
    assert system.api("PUT", f"/api/v1/organisations/{demo.OAKFIELD}/staff/{staff_id}/access",
                      {"children": None, "sections": None}, cookie=system.sign_in("dt@demo.test"))[0] == 204
    prefs = "/api/v1/me/notification-preferences"
    assert system.api("GET", prefs, cookie=staff)[1] == {"reminders": "immediate"}
    status, body, _ = system.api("PUT", prefs, {"reminders": "weekly"}, cookie=staff)
    assert status == 422 and [e["field"] for e in body["errors"]] == ["reminders"]
    assert system.api("PUT", prefs, {"reminders": "daily"}, cookie=staff)[1] == {"reminders": "daily"}

    cw = system.sign_in("caseworker@demo.test")
    child = new_child(system, cw, social_worker_id=SW)
    status, pep, _ = system.api("POST", f"/api/v1/children/{child['id']}/peps", {
        "kind": "initial", "term": "autumn", "academic_year": academic_year_label(date.today())}, cookie=cw)
    assert status == 201, pep
    due = date.today() + timedelta(days=60)
    status, task, _ = system.api("POST", f"/api/v1/peps/{pep['id']}/delegations",
                                 {"sections": ["education"], "due_date": due.isoformat()}, cookie=cw)
    assert status == 201, task
    short = f"{child['given_name']} {child['family_name'][0]}."

    # A reminder: the DT (immediate) has it at once; the member of staff who chose a digest does not.
    asyncio.run(_remind(system.admin_dsn, task, "due_soon", due - timedelta(days=2)))
    wait_for(lambda: (f"Due soon: PEP task for {short}" in [s for s, _ in mail(system, "dt@demo.test", task["id"],
                                                                                     since)]), "the DT's reminder")
    assert [s for s, _ in mail(system, staff_email, task["id"], since)] == [f"A PEP task for you: {short}"]

    # From 07:00 (UK time) on the replicas' day, one digest with it, however many schedulers look.
    day = due - timedelta(days=2)
    set_clock(clock, day, 7, 30)

    def digests() -> list[str]:
        return [text for s, text in mail(system, staff_email, task["id"], since) if s == DIGEST]
    wait_for(lambda: len(digests()) == 1, "the first digest")
    time.sleep(1.5)  # many more ticks of both replicas
    assert len(digests()) == 1 and "Due soon: complete sections of the PEP for" in digests()[0]

    # Another reminder the same day waits for the next day's digest, which has only it.
    asyncio.run(_remind(system.admin_dsn, task, "overdue", due + timedelta(days=1)))
    time.sleep(1.5)
    if len(digests()) == 1:  # (the real-time notify may have taken it for its own today: still one each)
        nxt = day + timedelta(days=1)
        set_clock(clock, nxt, 8)
    wait_for(lambda: len(digests()) == 2, "the second digest")
    time.sleep(1.5)
    texts = digests()
    assert len(texts) == 2
    assert sum("Overdue:" in t for t in texts) == 1 and sum("Due soon:" in t for t in texts) == 1
    assert not [s for s, _ in mail(system, staff_email, task["id"], since) if s.startswith(("Due soon", "Overdue"))]
