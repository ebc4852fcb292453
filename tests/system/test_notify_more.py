"""More of notify through the whole system: PP+ funding decisions, each to the child's setting's Designated
Teachers and social worker and never to a carer, read from the mail sink's Maildir."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import asyncpg
import pytest

from shared.bus import add_event
from shared.contracts import EventData, FundingDecided
from tests.conftest import RunningSystem
from tests.system.test_children import SW, new_child
from tests.system.test_notifications import body_of, wait_for_mail

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
