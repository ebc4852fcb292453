"""Issue 23, finding 10: erasure is final. Once a child's retention has ended and every service has erased its
part, nothing brings the child back: not an old event about them that failed and waits in a dead-letter queue,
nor one an operator replays from there with `python -m shared.deadletters replay`, nor a late delivery. Each
service keeps a tombstone per erased child and PEP (shared/tombstones.py) and the bus drops any later event about
them; erasing also purges the child's messages from the service's dead-letter and retry queues."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import aio_pika
import pytest

from services.pep.domain.core_data import academic_year_label
from shared import deadletters
from shared.settings import ServiceSettings
from tests.conftest import RunningSystem
from tests.support.clock import replicas_on_a_clock, set_clock
from tests.system.test_children import new_child
from tests.system.test_retention import count, eventually

REPLICAS = ("pep-final-r1", "pep-final-r2")
# Older than every other test's child (test_retention's are born 2004): moving the clock to this child's 75th
# birthday erases no one else's.
BORN = date(2003, 9, 1)
CHILD_QUEUES = ("delegation.children", "qa.children", "notify.children")  # pep.child.changed's consumers
TASK_QUEUE = "pep.delegations"  # pep's read model of delegation's tasks


@pytest.fixture
def clock(system: RunningSystem, tmp_path: Path) -> Iterator[Path]:
    with replicas_on_a_clock(system, "pep", REPLICAS, tmp_path / "now", "EPEP_RETENTION_INTERVAL_SECONDS") as file:
        yield file


def _settings(system: RunningSystem) -> ServiceSettings:
    return ServiceSettings(amqp_url=system.local.amqp_url, bus_prefix=system.local.bus_prefix)


def _latest(system: RunningSystem, schema: str, routing_key: str, key: str, value: str) -> dict[str, Any]:
    rows = system.admin_sql(f"SELECT envelope FROM {schema}.outbox WHERE routing_key = $1 "
                            f"AND envelope->'data'->>'{key}' = $2 ORDER BY id DESC LIMIT 1", routing_key, value)
    assert rows, f"no {routing_key} about {value} in {schema}'s outbox"
    return dict(json.loads(rows[0]["envelope"]))


def _dead_letter(system: RunningSystem, letters: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Each (consumer queue, old envelope) as a dead letter of that consumer, as the broker puts one there after
    its last retry: a copy under a new event id, so no inbox has it yet. The new ids."""
    settings = _settings(system)
    ids = []

    async def run() -> None:
        async with await aio_pika.connect(settings.amqp_url.get_secret_value()) as conn:
            channel = await conn.channel(publisher_confirms=True)
            dead = await channel.get_exchange(f"{settings.bus_prefix}epep.dead")
            for queue, envelope in letters:
                event_id = str(uuid.uuid4())
                ids.append(event_id)
                body = json.dumps({**envelope, "event_id": event_id}).encode()
                await dead.publish(aio_pika.Message(body=body, message_id=event_id, content_type="application/json",
                                                    type=f"{envelope['event_type']}.v{envelope['version']}",
                                                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                                   routing_key=f"{settings.bus_prefix}{queue}")
    asyncio.run(run())
    return ids


def _in_dead_letters(system: RunningSystem, queue: str) -> set[str]:
    return {d.message_id for d in asyncio.run(deadletters.inspect(_settings(system), queue))}


def _copies(system: RunningSystem, child_id: str, family_name: str, pep_id: str) -> dict[str, int]:
    """What each service holds about the child (qa keeps an anonymised row: only the real name counts)."""
    return {
        "delegation.children": count(system, "SELECT count(*) FROM delegation.children WHERE id = $1", child_id),
        "notify.children": count(system, "SELECT count(*) FROM notify.children WHERE id = $1", child_id),
        "qa.children": count(system, "SELECT count(*) FROM qa.children WHERE id = $1 AND family_name = $2",
                             child_id, family_name),
        "pep.delegations": count(system, "SELECT count(*) FROM pep.delegated_sections WHERE pep_id = $1", pep_id),
    }


def test_an_erased_childs_old_events_recreate_nothing_and_the_dead_letter_queues_keep_none(
        system: RunningSystem, clock: Path) -> None:
    cw = system.sign_in("caseworker@demo.test")
    child = new_child(system, cw, date_of_birth=BORN.isoformat(), year_group="Year 13")
    cid = child["id"]
    status, pep, _ = system.api("POST", f"/api/v1/children/{cid}/peps", {
        "kind": "initial", "term": "autumn", "academic_year": academic_year_label(date.today())}, cookie=cw)
    assert status == 201, pep
    status, task, _ = system.api("POST", f"/api/v1/peps/{pep['id']}/delegations", {
        "sections": ["education"], "due_date": (date.today() + timedelta(days=30)).isoformat()}, cookie=cw)
    assert status == 201, task
    eventually(lambda: all(_copies(system, cid, child["family_name"], pep["id"]).values()),
               "every service's copy of the child")
    old = [(queue, _latest(system, "pep", "pep.child.changed.v1", "child_id", cid)) for queue in CHILD_QUEUES]
    old.append((TASK_QUEUE, _latest(system, "delegation", "delegation.task.changed.v1", "task_id", task["id"])))

    # Old events about the child wait in dead-letter queues when the child's retention ends.
    kept = _dead_letter(system, old)
    for (queue, _), event_id in zip(old, kept, strict=True):
        eventually(lambda q=queue, e=event_id: e in _in_dead_letters(system, q), f"the dead letter in {queue}")

    set_clock(clock, BORN.replace(year=BORN.year + 75))
    eventually(lambda: count(system, "SELECT count(*) FROM pep.erased_children WHERE child_id = $1", cid),
               "the retention job")
    eventually(lambda: not any(_copies(system, cid, child["family_name"], pep["id"]).values()),
               "every service to erase its part")
    # Each service tombstoned the child and their PEP.
    for schema in ("pep", "delegation", "qa", "notify"):
        eventually(lambda s=schema: count(system, f"SELECT count(*) FROM {s}.tombstones WHERE child_id = $1 "
                                                  "AND id = ANY($2::uuid[])", cid, [cid, pep["id"]]) == 2,
                   f"{schema}'s tombstones")

    # Erasing took the child's messages out of the dead-letter queues.
    for (queue, _), event_id in zip(old, kept, strict=True):
        eventually(lambda q=queue, e=event_id: e not in _in_dead_letters(system, q),
                   f"the child's dead letter purged from {queue}")

    # An old event dead-lettered after that (a retry that was waiting, a late delivery), replayed by an operator
    # from the command line, recreates nothing anywhere.
    late = _dead_letter(system, old)
    env = {**os.environ, "EPEP_AMQP_URL": system.local.amqp_url, "EPEP_BUS_PREFIX": system.local.bus_prefix}
    for (queue, _), event_id in zip(old, late, strict=True):
        eventually(lambda q=queue, e=event_id: e in _in_dead_letters(system, q), f"the late dead letter in {queue}")
        done = subprocess.run([sys.executable, "-m", "shared.deadletters", "replay", queue, "--id", event_id],
                              env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and f"replayed {event_id}" in done.stdout, done.stderr
    # Each replayed event reached its consumer, which took it (acked) and did nothing with it.
    for (queue, _), event_id in zip(old, late, strict=True):
        eventually(lambda q=queue, e=event_id: e not in _in_dead_letters(system, q), f"{queue} took the replay")
    time.sleep(2.0)  # the consumers have had every chance
    assert _copies(system, cid, child["family_name"], pep["id"]) == dict.fromkeys(
        ("delegation.children", "notify.children", "qa.children", "pep.delegations"), 0)
    for (queue, _), event_id in zip(old, late, strict=True):
        assert count(system, f"SELECT count(*) FROM {queue.split('.')[0]}.inbox WHERE consumer = $1 "
                             "AND event_id = $2", queue, event_id) == 0, queue  # dropped, never applied
