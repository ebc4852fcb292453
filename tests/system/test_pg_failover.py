"""A Postgres failover under load: the services, given both nodes' addresses (EPEP_PG_HOSTS), follow the promoted
standby by themselves; a save in flight while it happens is answered 503 with Retry-After, never a 500 and never
left hanging; and every save that was acknowledged is on the new primary. Then back again.

Real processes throughout: a primary and synchronous standby of the test's own (tests/chaos/pg_standby.py), the
identity, notify, pep and gateway services with the mail sink, on the machine's RabbitMQ in a vhost of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import asyncpg
import pytest

from deploy.local.system import DEFAULT_PORTS, LocalSystem, free_port
from shared import demo
from tests.chaos.pg_standby import PostgresPair
from tests.conftest import AMQP_HOST, AMQP_PORT, RUN_ID, RunningSystem, _rabbitmqctl
from tests.support.mailbox import Mailbox
from tests.support.tcp_proxy import TcpProxy

CHILD = str(demo.CHILDREN[0]["id"])
WRITERS = 3
# No request may take longer than this to be answered, failover or not (the gateway gives up on a service at 10 s).
ANSWER_BOUND = 20.0
SERVICES = ["identity", "notify", "pep", "gateway"]


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresPair]:
    pg = PostgresPair(tmp_path_factory.mktemp("pg"))
    try:
        pg.start()
        yield pg
    finally:
        pg.stop()
        pg.remove()


@pytest.fixture(scope="module")
def failover_system(pair: PostgresPair, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSystem]:
    vhost = f"epep_failover_{RUN_ID}"
    if not (_rabbitmqctl("add_vhost", vhost) and _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*",
                                                                ".*")):
        pytest.fail("rabbitmqctl could not make a vhost for the test")
    proxy = TcpProxy(AMQP_HOST, AMQP_PORT).start()
    local = LocalSystem(
        var=tmp_path_factory.mktemp("var"), ports={name: free_port() for name in DEFAULT_PORTS}, database="epep",
        pg_hosts=pair.hosts_setting(), amqp_url=f"amqp://guest:guest@127.0.0.1:{proxy.port}/{vhost}",
        environment="test", extra_env={"EPEP_DB_POOL_MAX": "4"})
    try:
        local.migrate()
        local.seed_demo()
        local.start_all(SERVICES)
        yield RunningSystem(local, proxy, Mailbox(local.maildir), pair.admin_dsn("epep"))
    finally:
        local.stop_all()
        proxy.close()
        _rabbitmqctl("delete_vhost", vhost)


@dataclass
class Writers:
    """Saves to a PEP's sections, one writer per section, until told to stop: what was acknowledged (section,
    version, answer) and how every other request was answered."""
    gateway: str
    cookie: str
    pep_id: str
    sections: dict[str, str]  # section key -> the text question each save answers
    acked: list[tuple[str, int, str]] = field(default_factory=list)
    refusals: Counter[str] = field(default_factory=Counter)  # "503", "503 without Retry-After", "500", "timeout"...
    slowest: float = 0.0
    stop_after: float | None = None  # saves acknowledged after this moment (monotonic) count towards stopping
    after: Counter[str] = field(default_factory=Counter)

    async def run(self, enough_after: int) -> None:
        """Until every writer has had `enough_after` saves acknowledged after stop_after is set."""
        timeout = aiohttp.ClientTimeout(total=ANSWER_BOUND)
        async with aiohttp.ClientSession(timeout=timeout, headers={"Cookie": self.cookie}) as session:
            await asyncio.gather(*(self._write(session, key, question, enough_after)
                                   for key, question in self.sections.items()))

    async def _write(self, session: aiohttp.ClientSession, key: str, question: str, enough_after: int) -> None:
        path = f"{self.gateway}/api/v1/peps/{self.pep_id}/sections/{key}"
        version, n = None, 0
        while self.after[key] < enough_after:
            if version is None:  # at the start, and after any save whose outcome we were not told
                status, body = await self._request(session, "GET", path)
                version = body["version"] if status == 200 else None
                if version is None:
                    await asyncio.sleep(0.2)
                    continue
            n += 1
            answer = f"{key} save {n}"
            status, body = await self._request(session, "PUT", path, {"answers": {question: answer},
                                                                      "version": version})
            if status == 200:
                version = int(body["version"])
                self.acked.append((key, version, answer))
                if self.stop_after is not None and time.monotonic() > self.stop_after:
                    self.after[key] += 1
            else:
                version = None
                await asyncio.sleep(0.2)

    async def _request(self, session: aiohttp.ClientSession, method: str, url: str,
                       body: Any = None) -> tuple[int, Any]:
        began = time.monotonic()
        try:
            async with session.request(method, url, json=body) as resp:
                payload = await resp.json(content_type=None)
                status, retry_after = resp.status, resp.headers.get("Retry-After")
        except TimeoutError:
            self.refusals["no answer within the bound"] += 1
            return 0, None
        finally:
            self.slowest = max(self.slowest, time.monotonic() - began)
        if status != 200:
            self.refusals[f"{status}" if status != 503 or retry_after else "503 without Retry-After"] += 1
            if status != 503:
                self.refusals[f"{method} {status}: {json.dumps(payload)[:200]}"] += 1
        return status, payload


def _text_question(section: dict[str, Any]) -> str | None:
    return next((f["key"] for f in section["definition"]["fields"]
                 if f["type"] in ("text", "long_text") and not f.get("show_when")), None)


@pytest.fixture(scope="module")
def writers(failover_system: RunningSystem) -> Writers:
    system = failover_system
    sw = system.sign_in("sw@demo.test")
    status, pep, _ = system.api("POST", f"/api/v1/children/{CHILD}/peps", {
        "kind": "initial", "term": "autumn", "academic_year": "2026/27", "meeting_date": "2026-12-01"}, cookie=sw)
    assert status == 201, pep
    overview = system.api("GET", f"/api/v1/peps/{pep['id']}", cookie=sw)[1]
    sections: dict[str, str] = {}
    for s in overview["sections"]:
        if s["can_edit"] and len(sections) < WRITERS:
            question = _text_question(system.api("GET", f"/api/v1/peps/{pep['id']}/sections/{s['key']}",
                                                 cookie=sw)[1])
            if question:
                sections[s["key"]] = question
    assert len(sections) == WRITERS, f"the social worker writes fewer than {WRITERS} sections with a text question"
    return Writers(system.gateway_url, sw, pep["id"], sections)


async def _failover_under_load(pair: PostgresPair, writers: Writers) -> str:
    writers.stop_after = None
    writers.after.clear()
    load = asyncio.create_task(writers.run(enough_after=3))
    await asyncio.sleep(1.0)  # saves going through before the primary goes
    try:
        detail = await asyncio.to_thread(pair.failover)
    finally:
        writers.stop_after = time.monotonic()
    await asyncio.wait_for(load, timeout=90)
    return detail


async def _on_the_primary(pair: PostgresPair, writers: Writers) -> tuple[int, list[tuple[str, int]]]:
    """The port of the node the multi-host address reaches, and every acknowledged save missing there."""
    conn = await asyncpg.connect(pair.admin_dsn("epep"))
    try:
        port = int(await conn.fetchval("SELECT inet_server_port()"))
        missing = []
        for key, version, answer in writers.acked:
            stored = await conn.fetchval("SELECT answers::text FROM pep.section_history WHERE pep_id = $1 "
                                         "AND section_key = $2 AND version = $3", writers.pep_id, key, version)
            if stored is None or json.loads(stored).get(writers.sections[key]) != answer:
                missing.append((key, version))
        return port, missing
    finally:
        await conn.close()


def _outboxes_drained(system: RunningSystem, timeout: float = 60.0) -> None:
    """The services' outbox relays (their own connections, LISTENing) found the new primary too."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError, asyncpg.PostgresError):
            rows = system.admin_sql("SELECT (SELECT count(*) FROM pep.outbox WHERE published_at IS NULL) "
                                    "+ (SELECT count(*) FROM identity.outbox WHERE published_at IS NULL) AS n")
            if rows[0]["n"] == 0:
                return
        assert time.monotonic() < deadline, "events written before the failover still unpublished"
        time.sleep(0.5)


@pytest.mark.parametrize("round_trip", ["to the standby", "and back"])
def test_saves_follow_a_failover_and_none_acknowledged_is_lost(
        pair: PostgresPair, failover_system: RunningSystem, writers: Writers, round_trip: str) -> None:
    old_primary, expected_primary = pair.primary.port, pair.standby.port
    detail = asyncio.run(_failover_under_load(pair, writers))
    assert pair.primary.port == expected_primary != old_primary, detail

    port, missing = asyncio.run(_on_the_primary(pair, writers))
    assert port == expected_primary
    assert writers.acked and not missing, f"acknowledged saves lost in the failover: {missing}"
    # Anything not saved was a 503 with Retry-After: no 500, no other refusal, nothing left unanswered.
    assert set(writers.refusals) <= {"503"}, dict(writers.refusals)
    assert writers.slowest < ANSWER_BOUND
    # Saves went on after it with no change to any service's configuration, and no service fell over.
    assert all(writers.after[key] >= 3 for key in writers.sections)
    assert all(proc.poll() is None for proc in failover_system.local.processes.values())
    _outboxes_drained(failover_system)
    print(f"failover {round_trip}: {detail}; {len(writers.acked)} saves acknowledged so far, refusals "
          f"{dict(writers.refusals)}, slowest answer {writers.slowest:.1f}s")


def test_the_standby_streams_synchronously_after_the_failovers(pair: PostgresPair) -> None:
    pair.await_streaming(timeout=30)
    assert pair.failovers == 2 and (pair.standby.data / "standby.signal").exists()
