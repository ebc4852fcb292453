"""Readiness follows the database and the broker; SIGTERM finishes the work in hand before the process exits.

Both on real Postgres and RabbitMQ, with the small service in tests/shared/lifecycle_service.py built by
shared/service.py exactly as every real service is.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from deploy.local.system import ROOT, free_port
from shared.bus import Bus, delete_topology
from shared.contracts import Envelope, UserChanged
from shared.migrate import ensure_database, migrate
from shared.service import POOL, create_app
from shared.settings import ServiceSettings
from tests.conftest import AMQP_HOST, AMQP_PORT, PG_HOST, PG_PORT, module_database
from tests.shared.lifecycle_service import MIGRATIONS, SERVICE, SPEC
from tests.support.tcp_proxy import TcpProxy

AMQP_URL = f"amqp://guest:guest@{AMQP_HOST}:{AMQP_PORT}/"


database = module_database("epep_life")


@pytest.fixture
async def settings(database: str) -> AsyncIterator[ServiceSettings]:
    """This test's own prefix on the broker, and the service's schema freshly migrated."""
    s = ServiceSettings(pg_host=PG_HOST, pg_port=PG_PORT, pg_database=database, amqp_url=AMQP_URL,
                        bus_prefix=f"lc{secrets.token_hex(3)}.", environment="test", db_pool_max=4)
    await ensure_database(s)
    admin = await asyncpg.connect(s.admin_dsn())
    await admin.execute(f"DROP SCHEMA IF EXISTS {SERVICE} CASCADE")
    await admin.close()
    await migrate(s, SERVICE, MIGRATIONS)
    yield s
    await delete_topology(s, [f"{SERVICE}.slow"])


async def eventually(check: Any, timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def test_a_replica_started_while_the_database_is_away_waits_for_it(settings: ServiceSettings) -> None:
    """A rolling restart meeting a Postgres restart or failover (make chaos: a replica exited 1 when its first
    connection was refused): the process waits for the database, then starts and answers."""
    pg = TcpProxy(PG_HOST, PG_PORT).start()
    via = settings.model_copy(update={"pg_port": pg.port})
    pg.cut()
    client = TestClient(TestServer(create_app(SPEC, via)))
    starting = asyncio.create_task(client.start_server())
    try:
        await asyncio.sleep(2.0)
        assert not starting.done(), f"start gave up while the database was away: {starting.exception()!r}"
        pg.restore()
        await asyncio.wait_for(starting, timeout=30)
        assert (await client.get("/readyz")).status == 200
    finally:
        if starting.done():
            await client.close()
        else:
            starting.cancel()
        pg.close()


async def test_readiness_follows_the_database_and_the_broker_is_a_signal_of_its_own(
        settings: ServiceSettings) -> None:
    """Ready means able to answer requests: the database. Without the broker requests still work (their events wait
    in the outbox), so a broker outage keeps the pod ready and shows in /readyz's checks and in the metrics."""
    pg, amqp = TcpProxy(PG_HOST, PG_PORT).start(), TcpProxy(AMQP_HOST, AMQP_PORT).start()
    through_proxies = settings.model_copy(update={
        "pg_port": pg.port, "amqp_url": SecretStr(f"amqp://guest:guest@127.0.0.1:{amqp.port}/")})
    client = TestClient(TestServer(create_app(SPEC, through_proxies)))
    await client.start_server()

    async def readiness() -> tuple[int, dict[str, Any]]:
        resp = await client.get("/readyz")
        return resp.status, await resp.json()

    async def becomes(status: int, checks: dict[str, str]) -> None:
        async def check() -> bool:
            got = await readiness()
            return got[0] == status and all(got[1]["checks"].get(k) == v for k, v in checks.items())
        await eventually(check, what=f"/readyz {status} {checks}")

    try:
        assert await readiness() == (200, {"status": "ready", "checks": {
            "database": "ok", "broker": "ok", "consumers": "ok"}})

        pg.cut()  # Postgres gone: open connections drop, new ones are refused
        await becomes(503, {"database": "unreachable", "broker": "ok"})
        assert (await readiness())[1]["status"] == "not ready"
        assert (await client.get("/healthz")).status == 200  # alive all the same: no restart for an outage
        pg.restore()
        await becomes(200, {"database": "ok"})

        async def broker_metric() -> tuple[float, float]:
            lines = (await (await client.get("/metrics")).text()).splitlines()
            return tuple(float(next(line for line in lines if line.startswith(name + "{")).rsplit(" ", 1)[1])
                         for name in ("epep_broker_connected", "epep_consumers_consuming"))  # type: ignore[return-value]

        assert await broker_metric() == (1, 1)
        amqp.cut()  # RabbitMQ gone, as a broker restart looks to a client
        await becomes(200, {"broker": "unreachable", "database": "ok"})  # still ready: said, not acted on
        assert (await readiness())[1]["status"] == "ready"
        assert await broker_metric() == (0, 0)
        assert (await client.get("/slow")).status == 200  # and requests are answered
        amqp.restore()
        # The robust connection comes back by itself, with its channels and consumers.
        await becomes(200, {"broker": "ok", "consumers": "ok"})
        assert await broker_metric() == (1, 1)
        # ... and "ok" means it: a message published now is handled.
        bus = Bus(settings, "lifecycletest-client")
        await bus.connect()
        try:
            await publish_user_changed(bus)
        finally:
            await bus.close()

        async def handled() -> bool:
            return bool(await client.app[POOL].fetchval(
                "SELECT count(*) FROM work WHERE kind = 'message' AND finished_at IS NOT NULL"))
        await eventually(handled, what="a message handled after the broker came back")
    finally:
        await client.close()
        pg.close()
        amqp.close()


async def publish_user_changed(bus: Bus) -> None:
    """An event the test service's consumer takes, straight onto the exchange."""
    data = UserChanged(user_id=uuid.uuid4(), email="x@example.test", given_name="X", family_name="Y", memberships=[])
    envelope = Envelope(event_type="identity.user.changed", version=1, producer="identity",
                        data=data.model_dump(mode="json"))
    await bus.publish(envelope.model_dump(mode="json"), envelope.routing_key, {})


def _get(url: str, result: dict[str, Any]) -> None:
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            result["status"] = resp.status
    except (urllib.error.URLError, OSError) as exc:
        result["error"] = repr(exc)


async def test_sigterm_stops_consuming_finishes_the_work_in_hand_drains_the_outbox_and_exits(
        settings: ServiceSettings, tmp_path: Any) -> None:
    port = free_port()
    env = {**os.environ, "EPEP_PORT": str(port), "EPEP_PG_HOST": PG_HOST, "EPEP_PG_PORT": str(PG_PORT),
           "EPEP_PG_DATABASE": settings.pg_database, "EPEP_AMQP_URL": AMQP_URL, "EPEP_BUS_PREFIX": settings.bus_prefix,
           "EPEP_ENVIRONMENT": "test", "EPEP_DB_POOL_MAX": "4", "EPEP_SHUTDOWN_TIMEOUT": "10"}
    log = (tmp_path / "service.log").open("wb")
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "tests.shared.lifecycle_service", "serve",
                                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    pool = await asyncpg.create_pool(settings.admin_dsn(), min_size=1, max_size=2,
                                     server_settings={"search_path": SERVICE})
    bus = Bus(settings, "lifecycletest-client")
    try:
        async def ready() -> bool:
            assert proc.returncode is None, (tmp_path / "service.log").read_text()
            result: dict[str, Any] = {}
            await asyncio.to_thread(_get, f"{base}/readyz", result)
            return result.get("status") == 200
        await eventually(ready, 30, "the service to be ready")
        await bus.connect()

        async def publish() -> None:
            await publish_user_changed(bus)

        # Work in hand: a message being handled, a request being answered, a scheduled tick running.
        await publish()
        request: dict[str, Any] = {}
        requester = threading.Thread(target=_get, args=(f"{base}/slow", request))
        requester.start()

        async def all_in_hand() -> bool:
            kinds = {r["kind"] for r in await pool.fetch("SELECT kind FROM work WHERE finished_at IS NULL")}
            return kinds == {"request", "message", "tick"}
        await eventually(all_in_hand, 10, "a request, a message and a tick in hand")

        proc.send_signal(signal.SIGTERM)

        async def refusing() -> bool:  # the listening socket closes first: no new requests
            result: dict[str, Any] = {}
            await asyncio.to_thread(_get, f"{base}/healthz", result)
            return "error" in result
        await eventually(refusing, 5, "the port to refuse new connections")
        await asyncio.sleep(0.5)
        await publish()  # after SIGTERM: not taken by this process; it waits for another replica

        returncode = await asyncio.wait_for(proc.wait(), 30)
        requester.join(5)
        output = (tmp_path / "service.log").read_text()
        assert returncode == 0, output
        # It finished the work and stopped, rather than waiting out a shutdown timeout (each one says so when it
        # fires). The time it took is no measure of that on a busy machine: two full runs side by side took 11.7 s.
        assert "shutdown timed out" not in output, output
        assert request == {"status": 200}  # the request in hand was answered
        unfinished = await pool.fetch("SELECT kind FROM work WHERE finished_at IS NULL")
        assert unfinished == [], f"cut short: {[r['kind'] for r in unfinished]}"
        assert await pool.fetchval("SELECT count(*) FROM work WHERE kind = 'message'") == 1
        assert await pool.fetchval("SELECT count(*) FROM inbox") == 1
        # The tick's last event was published on the way out (the relay stops after the schedulers).
        assert await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0
        # The message in hand was acked, the one sent after SIGTERM is still there for the next consumer.
        # (What the broker reports lags what it has processed, e.g. the exited process's consumer: wait for it.)
        channel = bus.consume_channel
        assert channel is not None

        async def waiting_for_the_next() -> bool:
            queue = await channel.declare_queue(f"{settings.bus_prefix}{SERVICE}.slow", passive=True)
            return (queue.declaration_result.message_count, queue.declaration_result.consumer_count) == (1, 0)
        await eventually(waiting_for_the_next, 10, "one message waiting and no consumer")
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        log.close()
        await bus.close()
        await pool.close()
