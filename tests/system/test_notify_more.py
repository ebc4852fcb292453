"""More of notify through the whole system, read from the mail sink's Maildir: PP+ funding decisions, each to the
child's setting's Designated Teachers and social worker and never to a carer; and meeting reminders two days
before, exactly once per person with two notify replicas on a clock file, for the new date of a moved meeting
and never for a cancelled one."""
# ruff: noqa: F811  (the `clock` fixture is test_digest's, named as a parameter)

from __future__ import annotations

import asyncio
import json
import secrets
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from services.pep.domain.core_data import academic_year_label
from shared.bus import add_event
from shared.contracts import EventData, FundingDecided
from tests.conftest import RunningSystem
from tests.support.clock import set_clock
from tests.system.test_children import SW, new_child
from tests.system.test_digest import clock  # noqa: F401
from tests.system.test_notifications import body_of, save_meeting, wait_for_mail

DT_EMAIL, SW_EMAIL = "dt@demo.test", "sw@demo.test"


@pytest.fixture(scope="module")
def caseworker(system: RunningSystem) -> str:
    return system.sign_in("caseworker@demo.test")


async def _into_outbox(dsn: str, service: str, event: EventData, tenant: str) -> None:
    """An event as `service` publishes it: into its outbox, which its relay publishes."""
    conn = await asyncpg.connect(dsn, server_settings={"search_path": service})
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    try:
        await add_event(conn, service, event, tenant=tenant)
    finally:
        await conn.close()


def publish(system: RunningSystem, service: str, event: EventData, tenant: str) -> None:
    asyncio.run(_into_outbox(system.admin_dsn, service, event, tenant))


def test_each_funding_decision_tells_the_dt_and_social_worker_but_never_a_carer(system: RunningSystem,
                                                                                 caseworker: str) -> None:
    child = new_child(system, caseworker, social_worker_id=SW)
    short = f"{child['given_name']} {child['family_name'][0]}."
    pep_id = uuid.uuid4()
    link = f"/peps/{pep_id}"

    def decide(decision: str, **more: Any) -> float:
        since = time.time() - 0.5
        publish(system, "qa", FundingDecided(pep_id=pep_id, child_id=child["id"], la_id=child["la_id"], target=1,
                                             decision=decision, academic_year="2026/27", **more), child["la_id"])
        return since

    since = decide("approved", amount="1250.00")
    for to in (DT_EMAIL, SW_EMAIL):
        [message] = wait_for_mail(system, to, since, link)
        assert message["Subject"] == f"PP+ funding approved for {short}"
        assert "Amount approved: £1,250.00" in body_of(message)
        assert child["family_name"] not in message["Subject"]

    refused = decide("refused", reason="Already funded by the school")
    for to in (DT_EMAIL, SW_EMAIL):
        [message] = wait_for_mail(system, to, refused, "PP+ funding refused")
        assert message["Subject"] == f"PP+ funding refused for {short}"
        assert "Why: Already funded by the school" in body_of(message) and link in body_of(message)

    asked = decide("more_information", reason="Which tutor?")
    for to in (DT_EMAIL, SW_EMAIL):
        [message] = wait_for_mail(system, to, asked, "More information needed")
        assert message["Subject"] == f"More information needed: PP+ funding for {short}"
        assert "What is needed: Which tutor?" in body_of(message)

    time.sleep(1)  # room for a duplicate, or a stray email, to show up
    for to in (DT_EMAIL, SW_EMAIL):
        assert len(wait_for_mail(system, to, since, link, timeout=0)) == 3
    for outsider in ("carer@demo.test", "dt2@demo.test", "staff@demo.test", "caseworker@demo.test"):
        assert wait_for_mail(system, outsider, since, link, timeout=0) == []
    rows = system.admin_sql("SELECT template, tenant FROM notify.deliveries WHERE recipient = $1 AND "
                            "template LIKE 'funding_%' AND created_at > to_timestamp($2)", DT_EMAIL, since)
    assert sorted(r["template"] for r in rows if r["tenant"] == child["la_id"]) == [
        "funding_approved", "funding_more_information", "funding_refused"]


def _pep_with_a_meeting(system: RunningSystem, caseworker: str, dt: str, carer: str,
                        answers: dict[str, Any]) -> tuple[dict[str, Any], str]:
    child = new_child(system, caseworker, social_worker_id=SW)
    status, pep, _ = system.api("POST", f"/api/v1/children/{child['id']}/peps", {
        "kind": "initial", "term": "spring", "academic_year": academic_year_label(date.today())}, cookie=caseworker)
    assert status == 201, pep
    since = time.time() - 0.5
    save_meeting(system, dt, pep["id"], {**answers, "attendees": [
        {"name": "Pat Carer", "role": "carer", "email": carer}]})
    wait_for_mail(system, carer, since, f"pep-{pep['id']}@epep")  # invited: notify has recorded the meeting
    return child, pep["id"]


def test_a_meeting_is_reminded_two_days_before_once_each_for_its_latest_date(system: RunningSystem, caseworker: str,
                                                                           clock: Path) -> None:
    dt = system.sign_in(DT_EMAIL)
    carer, gone = (f"{who}.{secrets.token_hex(3)}@example.test" for who in ("pat", "lou"))
    child, pep_id = _pep_with_a_meeting(system, caseworker, dt, carer, {
        "meeting_date": "2030-03-12", "meeting_time": "15:30", "location": "Oakfield Primary School, Room 4"})
    subject = f"Reminder: PEP meeting for {child['given_name']} {child['family_name'][0]}."
    _, cancelled = _pep_with_a_meeting(system, caseworker, dt, gone, {"meeting_date": "2030-03-12"})
    status, body, _ = system.api("POST", f"/api/v1/peps/{cancelled}/actions/cancel", {"reason": "Moved away"},
                                 cookie=caseworker)
    assert status == 200, body
    wait_for_mail(system, gone, 0, "Cancelled: PEP meeting")
    since = time.time() - 0.5

    def reminders(to: str) -> list[str]:
        return [body_of(m) for m in system.mailbox.messages(to, since) if str(m["Subject"]) == subject]

    # Two days before, from 07:00 UK time: one each, however often the two replicas' schedulers look.
    set_clock(clock, date(2030, 3, 10), 6, 50)
    time.sleep(1)
    assert reminders(carer) == []
    set_clock(clock, date(2030, 3, 10), 7, 30)
    for to in (carer, DT_EMAIL, SW_EMAIL):
        [text] = wait_for_mail(system, to, since, subject)
        assert "When: Tuesday 12 March 2030 at 3:30pm Where: Oakfield Primary School, Room 4" in body_of(text)
    time.sleep(1.5)  # many more ticks of both replicas
    assert [len(reminders(to)) for to in (carer, DT_EMAIL, SW_EMAIL)] == [1, 1, 1]
    assert f"/peps/{pep_id}" in reminders(DT_EMAIL)[0] and "/peps/" not in reminders(carer)[0]
    assert "Hello Dana," in reminders(DT_EMAIL)[0]
    assert not [m for m in system.mailbox.messages(gone, since) if str(m["Subject"]).startswith("Reminder")]

    # Moved to the 13th: reminded again, for the new date, from two days before it.
    save_meeting(system, dt, pep_id, {"meeting_date": "2030-03-13", "meeting_time": "10:00",
                                      "location": "Oakfield Primary School, Room 4",
                                      "attendees": [{"name": "Pat Carer", "role": "carer", "email": carer}]})
    wait_for_mail(system, carer, since, "Updated: PEP meeting")
    time.sleep(1)
    assert len(reminders(carer)) == 1  # the 13th is three days away
    set_clock(clock, date(2030, 3, 11), 7, 1)
    for to in (carer, DT_EMAIL, SW_EMAIL):
        assert len(wait_for_mail(system, to, since, subject, count=2)) == 2
    time.sleep(1.5)
    assert [len(reminders(to)) for to in (carer, DT_EMAIL, SW_EMAIL)] == [2, 2, 2]
    assert any("When: Wednesday 13 March 2030 at 10am" in text for text in reminders(carer))
    rows = system.admin_sql("SELECT sequence, count(*) AS n FROM notify.meeting_reminders WHERE pep_id = $1 "
                            "GROUP BY sequence ORDER BY sequence", pep_id)
    assert [r["n"] for r in rows] == [3, 3]
    assert not system.admin_sql("SELECT 1 FROM notify.meeting_reminders WHERE pep_id = $1", cancelled)


def test_every_kind_of_email_can_be_previewed_by_a_vs_admin_only(system: RunningSystem, caseworker: str) -> None:
    from services.notify.emails import SUBJECTS

    admin = system.sign_in("admin@demo.test")
    status, body, _ = system.api("GET", "/api/v1/email-previews", cookie=admin)
    assert status == 200, body
    assert [i["template"] for i in body["items"]] == list(SUBJECTS)
    reminder = next(i for i in body["items"] if i["template"] == "meeting_reminder")
    assert (reminder["name"], reminder["subject"]) == ("PEP meeting reminder", "Reminder: PEP meeting for Jordan E.")
    assert "Demo Virtual School" in reminder["text"] and reminder["html"].startswith("<!DOCTYPE html>")
    other = system.api("GET", "/api/v1/email-previews", cookie=system.sign_in("admin@northshire.test"))[1]
    assert "Demo Virtual School" not in other["items"][0]["text"]  # each admin sees their own LA's footer
    for who in (caseworker, system.sign_in(DT_EMAIL)):
        assert system.api("GET", "/api/v1/email-previews", cookie=who)[0] == 404
    assert system.api("GET", "/api/v1/email-previews")[0] == 401
