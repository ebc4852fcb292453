"""The bus on a three-node RabbitMQ cluster (tests/chaos/rabbit_cluster.py, RabbitMQ 3.10.8 as Debian gives it):
a stream of events from a publisher to a consumer carries on while the node leading the consumer's queue is
killed, while a node is cut off from the others and healed, and while the node leading the retry queue is
killed with retries waiting in it. Every event is handled exactly once (by its effect in Postgres), nothing is
dead-lettered, every queue is a quorum queue with a member on each node and the leaders are spread.

Real processes throughout: the cluster's nodes in network namespaces of their own, the shared Postgres, and
shared/bus.py's Bus, OutboxRelay and Consumers given every node's URL (comma-separated, as EPEP_AMQP_URL)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from pydantic import SecretStr

from shared import db
from shared.bus import (
    Bus,
    Consumers,
    MessageContext,
    OutboxRelay,
    Subscription,
    add_event,
    queue_name,
    retry_queue_name,
)
from shared.contracts import UserChanged
from shared.migrate import ensure_database, migrate
from shared.settings import ServiceSettings
from tests.chaos.rabbit_cluster import RabbitCluster
from tests.conftest import PG_HOST, PG_PORT, RUN_ID, drop_database

log = logging.getLogger(__name__)
SERVICE = "clustertest"
CONSUMER = "clustertest.record"
FLAKY = "flaky"  # a family name whose event fails its first attempt, so it goes through the retry queue
# How long a failed event waits in the retry queue: ample time to see it there and kill the queue's leader.
RETRY_WAIT = 20.0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RabbitCluster]:
    nodes = RabbitCluster(tmp_path_factory.mktemp("rabbit-cluster"))
    try:
        nodes.start()
        yield nodes
    finally:
        nodes.stop()
        nodes.remove()


class World:
    """The publisher's and the consumer's buses (separate connections, as in separate services), the consumer's
    record of what it was handed, and every event id published."""

    def __init__(self, settings: ServiceSettings, pool: asyncpg.Pool) -> None:
        self.settings, self.pool = settings, pool
        self.publisher, self.consumer_bus = Bus(settings, "identity"), Bus(settings, SERVICE)
        self.consumers = Consumers(self.consumer_bus, pool, settings)
        # The outbox is in this test's schema; identity (the publisher's bus) owns the events it holds.
        self.relay = OutboxRelay(pool, self.publisher, settings, SERVICE, poll_interval=0.2)
        self.published: list[uuid.UUID] = []
        self.attempts: Counter[int] = Counter()
        self.retried: list[uuid.UUID] = []
        self.failed = 0

    async def handle(self, ctx: MessageContext) -> None:
        self.attempts[ctx.attempt] += 1
        if ctx.envelope.data["family_name"] == FLAKY and ctx.attempt == 0:
            self.failed += 1
            raise ConnectionError("the first attempt fails: this event waits in the retry queue")
        if ctx.attempt:
            self.retried.append(ctx.envelope.event_id)
        async with ctx.effect() as conn:
            await conn.execute("INSERT INTO effects (event_id) VALUES ($1)", ctx.envelope.event_id)

    async def publish(self, family_name: str) -> None:
        """Into the outbox; the relay publishes it (with confirms) when the broker takes it."""
        event = UserChanged(user_id=uuid.uuid4(), email="someone@example.test", given_name="S",
                            family_name=family_name, memberships=[])
        async with self.pool.acquire() as conn, conn.transaction():
            self.published.append((await add_event(conn, "identity", event)).event_id)

    async def handled(self) -> int:
        return int(await self.pool.fetchval("SELECT count(DISTINCT event_id) FROM effects"))

    async def until_handled(self, n: int, timeout: float = 60) -> None:
        await _until(lambda: self.handled(), n, timeout)


async def _until(count, n: int, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while (got := await count()) < n:
        assert asyncio.get_running_loop().time() < deadline, f"{got} of {n} after {timeout:.0f}s"
        await asyncio.sleep(0.2)


@pytest.fixture
async def world(cluster: RabbitCluster, tmp_path: Path) -> AsyncIterator[World]:
    (tmp_path / "0001_effects.sql").write_text("CREATE TABLE effects (event_id uuid NOT NULL);")
    database = f"epep_cluster_{RUN_ID}"
    settings = ServiceSettings(pg_host=PG_HOST, pg_port=PG_PORT, pg_database=database,
                               amqp_url=SecretStr(cluster.url), bus_retry_delays=[RETRY_WAIT, 1.0],
                               environment="test")
    await ensure_database(settings)
    admin = await asyncpg.connect(settings.admin_dsn())
    await admin.execute(f"DROP SCHEMA IF EXISTS {SERVICE} CASCADE")
    await admin.close()
    await migrate(settings, SERVICE, tmp_path)  # effects, and the bus's outbox and inbox
    pool = await db.create_pool(settings, SERVICE)
    w = World(settings, pool)
    try:
        yield w
    finally:
        for close in (w.consumers.stop(timeout=5), w.relay.close(), w.publisher.close(), w.consumer_bus.close(),
                      pool.close()):
            with contextlib.suppress(Exception):
                await close
        await drop_database(f"postgresql://postgres@{PG_HOST}:{PG_PORT}/postgres", database)


async def _stream(world: World, stop: asyncio.Event) -> None:
    n = 0
    while not stop.is_set():
        await world.publish(f"n{n}")
        n += 1
        await asyncio.sleep(0.05)


async def test_events_are_handled_once_across_a_lost_node_a_partition_and_a_lost_retry_leader(
        cluster: RabbitCluster, world: World) -> None:
    await world.publisher.connect()
    await world.consumer_bus.connect()
    await world.consumers.start([Subscription(name=CONSUMER, routing_keys=["identity.user.changed.v1"],
                                              handler=world.handle)])
    names = {queue_name(world.settings, s) for s in world.consumers.subscriptions}
    (queue,) = names
    retry, dlq = retry_queue_name(world.settings, world.consumers.subscriptions[0]), f"{queue}.dlq"

    # Every queue the bus declared is replicated on every node, and new queues' leaders are spread.
    info = {q["name"]: q for q in cluster.queue_info()}
    for name in (queue, retry, dlq, "epep.unrouted"):
        assert info[name]["type"] == "quorum", name
        assert sorted(info[name]["members"]) == sorted(cluster.nodes), name
    assert len({info[name]["leader"] for name in (queue, retry, dlq, "epep.unrouted")}) >= 2

    relay = asyncio.create_task(world.relay.run())
    stop = asyncio.Event()
    stream = asyncio.create_task(_stream(world, stop))
    try:
        await world.until_handled(30)

        # 1. The node leading the consumer's queue is lost, then comes back.
        lost = cluster.nodes.index(cluster.leaders()[queue])
        log.info("killing %s, leader of the consumer's queue", cluster.nodes[lost])
        cluster.kill_node(lost)
        before = await world.handled()
        await world.until_handled(before + 30)  # the stream flows on the other two
        log.info("starting %s again", cluster.nodes[lost])
        cluster.start_node(lost)
        await asyncio.to_thread(cluster.await_healthy, 120)

        # 2. A node is cut off from the other two: it pauses (pause_minority) and its clients move on.
        cut = (lost + 1) % len(cluster.nodes)
        log.info("cutting %s off", cluster.nodes[cut])
        cluster.partition(cut)
        await _until(lambda: _async(lambda: not cluster.running(cut)), 1, 60)
        before = await world.handled()
        await world.until_handled(before + 30)
        log.info("healing %s", cluster.nodes[cut])
        cluster.heal(cut)
        await asyncio.to_thread(cluster.await_healthy, 120)

        # 3. Retries are waiting in the retry queue when the node leading it is lost.
        stop.set()
        await stream
        for _ in range(5):
            await world.publish(FLAKY)
        await _until(lambda: _async(lambda: world.failed), 5, 60)
        await _until(lambda: _async(lambda: _messages(cluster, retry) >= 5), 1, RETRY_WAIT / 2)
        retry_leader = cluster.nodes.index(cluster.leaders()[retry])
        log.info("killing %s, leader of the retry queue", cluster.nodes[retry_leader])
        cluster.kill_node(retry_leader)
        await world.until_handled(len(world.published), timeout=RETRY_WAIT + 60)
        cluster.start_node(retry_leader)
        await asyncio.to_thread(cluster.await_healthy, 120)
    finally:
        stop.set()
        await stream
        world.relay.stop()
        await relay

    assert await world.pool.fetchval("SELECT count(*) FROM effects") == len(world.published)  # none twice
    assert {r["event_id"] for r in await world.pool.fetch("SELECT event_id FROM effects")} == set(world.published)
    assert len(world.retried) >= 5  # the flaky ones, at their second attempt, after the retry leader was lost
    assert _messages(cluster, dlq) == 0
    assert _messages(cluster, queue) == 0 and _messages(cluster, retry) == 0


async def _async(check) -> int:  # type: ignore[no-untyped-def]
    return int(await asyncio.to_thread(check))


def _messages(cluster: RabbitCluster, name: str) -> int:
    return next((messages for queue, messages, _ in cluster.queues() if queue == name), 0)
