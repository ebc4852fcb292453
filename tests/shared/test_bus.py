"""The shared bus on real Postgres and RabbitMQ: outbox to consumer, de-duplication, retries, dead letters."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aio_pika
import asyncpg
import pytest
from pydantic import SecretStr

from shared import db
from shared.bus import (
    ATTEMPT_HEADER,
    Bus,
    Consumers,
    MessageContext,
    OutboxRelay,
    PermanentError,
    Subscription,
    add_event,
    delete_topology,
    queue_name,
    subscribe,
)
from shared.contracts import UserChanged
from shared.migrate import ensure_database, migrate
from shared.settings import ServiceSettings
from tests.conftest import AMQP_HOST, AMQP_PORT, PG_HOST, PG_PORT, RUN_ID, drop_database
from tests.support.tcp_proxy import TcpProxy

SERVICE = "bustest"


@pytest.fixture(scope="module", autouse=True)
def bus_database() -> Iterator[str]:
    """One database for this module's tests, dropped afterwards."""
    name = f"epep_bus_{RUN_ID}"
    yield name
    asyncio.run(drop_database(f"postgresql://postgres@{PG_HOST}:{PG_PORT}/postgres", name))


@pytest.fixture
async def env(tmp_path: Path, bus_database: str) -> AsyncIterator[tuple[ServiceSettings, asyncpg.Pool, Bus]]:
    (tmp_path / "0001_effects.sql").write_text(
        "CREATE TABLE effects (event_id uuid NOT NULL, consumer text NOT NULL, at timestamptz DEFAULT now());")
    prefix = f"bt{secrets.token_hex(3)}."
    settings = ServiceSettings(pg_host=PG_HOST, pg_port=PG_PORT, pg_database=bus_database, bus_prefix=prefix,
                               amqp_url=f"amqp://guest:guest@{AMQP_HOST}:{AMQP_PORT}/",
                               bus_retry_delays=[0.1, 0.2, 0.3], bus_delivery_limit=3, environment="test")
    await ensure_database(settings)
    admin = await asyncpg.connect(settings.admin_dsn())
    await admin.execute(f"DROP SCHEMA IF EXISTS {SERVICE} CASCADE")
    await admin.close()
    await migrate(settings, SERVICE, tmp_path)
    pool = await db.create_pool(settings, SERVICE)
    bus = Bus(settings, SERVICE)
    await bus.connect()
    yield settings, pool, bus
    channel = bus.consume_channel
    assert channel is not None
    await bus.close()
    await pool.close()
    await delete_topology(settings, _declared)
    _declared.clear()


_declared: list[str] = []


def user_event(n: int = 0) -> UserChanged:
    return UserChanged(user_id=uuid.uuid4(), email=f"u{n}@example.test", given_name="U", family_name=str(n),
                       memberships=[])


async def run_consumer(settings: ServiceSettings, pool: asyncpg.Pool, bus: Bus, name: str, handler) -> Consumers:  # type: ignore[no-untyped-def]
    _declared.append(name)
    consumers = Consumers(bus, pool, settings)
    await consumers.start([Subscription(name=name, routing_keys=["identity.user.changed.v1"], handler=handler)])
    return consumers


async def effects(pool: asyncpg.Pool, consumer: str) -> list[uuid.UUID]:
    return [r["event_id"] for r in await pool.fetch("SELECT event_id FROM effects WHERE consumer = $1", consumer)]


async def eventually(check, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_an_event_goes_from_the_outbox_to_its_consumer_once(env) -> None:  # type: ignore[no-untyped-def]
    settings, pool, bus = env

    async def record(ctx: MessageContext) -> None:
        async with ctx.effect() as conn:
            await conn.execute("INSERT INTO effects (event_id, consumer) VALUES ($1, $2)", ctx.envelope.event_id,
                               ctx.consumer)

    consumers = await run_consumer(settings, pool, bus, "bustest.once", record)
    async with pool.acquire() as conn, conn.transaction():
        envelope = await add_event(conn, "identity", user_event())
    relay = OutboxRelay(pool, bus, settings, SERVICE)
    assert await relay.publish_batch() == 1
    await eventually(lambda: _has(pool, "bustest.once", 1))
    # Redelivery of the very same event (at-least-once): the inbox turns it into a no-op.
    await bus.publish(envelope.model_dump(mode="json"), envelope.routing_key, {})
    await asyncio.sleep(0.5)
    assert await effects(pool, "bustest.once") == [envelope.event_id]
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0
    await consumers.stop(timeout=5)


async def _has(pool: asyncpg.Pool, consumer: str, n: int) -> bool:
    return len(await effects(pool, consumer)) >= n


async def test_a_failing_handler_is_retried_after_a_delay_then_succeeds(env) -> None:  # type: ignore[no-untyped-def]
    settings, pool, bus = env
    attempts: list[int] = []

    async def flaky(ctx: MessageContext) -> None:
        attempts.append(ctx.attempt)
        if len(attempts) < 3:
            raise ConnectionError("the thing we call is away")
        async with ctx.effect() as conn:
            await conn.execute("INSERT INTO effects (event_id, consumer) VALUES ($1, $2)", ctx.envelope.event_id,
                               ctx.consumer)

    consumers = await run_consumer(settings, pool, bus, "bustest.flaky", flaky)
    envelope = await _publish_direct(pool, bus)
    await eventually(lambda: _has(pool, "bustest.flaky", 1))
    assert attempts == [0, 1, 2]
    assert await effects(pool, "bustest.flaky") == [envelope]
    await consumers.stop(timeout=5)


async def test_a_message_that_always_fails_is_dead_lettered_and_others_still_flow(env) -> None:  # type: ignore[no-untyped-def]
    settings, pool, bus = env
    poison = uuid.uuid4()

    async def handler(ctx: MessageContext) -> None:
        if ctx.envelope.data["user_id"] == str(poison):
            raise ValueError("this one never works")
        async with ctx.effect() as conn:
            await conn.execute("INSERT INTO effects (event_id, consumer) VALUES ($1, $2)", ctx.envelope.event_id,
                               ctx.consumer)

    consumers = await run_consumer(settings, pool, bus, "bustest.poison", handler)
    bad = user_event()
    bad.user_id = poison
    async with pool.acquire() as conn, conn.transaction():
        await add_event(conn, "identity", bad)
        for i in range(5):
            await add_event(conn, "identity", user_event(i))
    await OutboxRelay(pool, bus, settings, SERVICE).publish_batch()
    await eventually(lambda: _has(pool, "bustest.poison", 5))
    message = await next_dead_letter(bus, "bustest.poison")
    assert str(poison) in message.body.decode()
    assert message.headers["x-death"][0]["reason"] == "rejected"
    await consumers.stop(timeout=5)


async def test_a_permanent_error_skips_the_retries(env) -> None:  # type: ignore[no-untyped-def]
    settings, pool, bus = env
    calls: list[int] = []

    async def refuse(ctx: MessageContext) -> None:
        calls.append(ctx.attempt)
        raise PermanentError("cannot ever work")

    consumers = await run_consumer(settings, pool, bus, "bustest.permanent", refuse)
    await _publish_direct(pool, bus)
    await next_dead_letter(bus, "bustest.permanent")
    assert calls == [0]
    await consumers.stop(timeout=5)


async def test_a_consumer_that_declares_its_event_model_gets_it_typed_and_invalid_data_is_dead_lettered_at_once(
        env) -> None:  # type: ignore[no-untyped-def]
    """`subscribe(name, Model, handler)`: bound to the model's routing key, the handler gets the event parsed and
    validated once. Data that is not a valid model cannot become one by retrying, so it goes straight to the
    dead letters without reaching the handler, and the events after it still flow."""
    settings, pool, bus = env
    name = "bustest.typed"
    seen: list[tuple[int, UserChanged]] = []

    async def record(ctx: MessageContext, user: UserChanged) -> None:
        seen.append((ctx.attempt, user))
        async with ctx.effect() as conn:
            await conn.execute("INSERT INTO effects (event_id, consumer) VALUES ($1, $2)", ctx.envelope.event_id,
                               ctx.consumer)

    sub = subscribe(name, UserChanged, record)
    assert sub.routing_keys == ["identity.user.changed.v1"] and sub.event is UserChanged
    _declared.append(name)
    consumers = Consumers(bus, pool, settings)
    await consumers.start([sub])
    async with pool.acquire() as conn, conn.transaction():
        bad = await add_event(conn, "identity", user_event(1))
        good = await add_event(conn, "identity", user_event(2))
    invalid = bad.model_dump(mode="json")
    invalid["data"]["user_id"] = "not a uuid"
    await bus.publish(invalid, bad.routing_key, {})
    await bus.publish(good.model_dump(mode="json"), good.routing_key, {})
    message = await next_dead_letter(bus, name)
    assert "not a uuid" in message.body.decode()
    assert ATTEMPT_HEADER not in (message.headers or {})  # never retried
    await eventually(lambda: _has(pool, name, 1))
    assert [(attempt, type(user), user.family_name) for attempt, user in seen] == [(0, UserChanged, "2")]
    await consumers.stop(timeout=5)


async def next_dead_letter(bus: Bus, consumer: str, timeout: float = 10.0) -> aio_pika.abc.AbstractIncomingMessage:
    """The next message in a consumer's dead-letter queue (read, then acked away)."""
    channel = bus.consume_channel
    assert channel is not None
    dlq = await channel.declare_queue(f"{bus.settings.bus_prefix}{consumer}.dlq", passive=True)
    deadline = asyncio.get_running_loop().time() + timeout
    while (message := await dlq.get(fail=False)) is None:
        assert asyncio.get_running_loop().time() < deadline, "nothing was dead-lettered"
        await asyncio.sleep(0.05)
    await message.ack()
    return message


async def _publish_direct(pool: asyncpg.Pool, bus: Bus) -> uuid.UUID:
    async with pool.acquire() as conn, conn.transaction():
        envelope = await add_event(conn, "identity", user_event())
    await OutboxRelay(pool, bus, bus.settings, SERVICE).publish_batch()
    return envelope.event_id


async def test_a_waiting_retry_outlives_its_consumer_and_is_handled_once_by_the_next(env) -> None:  # type: ignore[no-untyped-def]
    """A retry waits in a durable queue, held unacked until due: a consumer that stops (or dies) gives it back,
    and whoever consumes next handles it when due, once, with its attempt count kept."""
    settings, pool, bus = env
    slow = settings.model_copy(update={"bus_retry_delays": [1.5]})
    name = "bustest.outlives"
    seen: list[tuple[str, int]] = []

    async def fails(ctx: MessageContext) -> None:
        seen.append(("first", ctx.attempt))
        raise ConnectionError("away")

    async def works(ctx: MessageContext) -> None:
        seen.append(("second", ctx.attempt))
        async with ctx.effect() as conn:
            await conn.execute("INSERT INTO effects (event_id, consumer) VALUES ($1, $2)", ctx.envelope.event_id,
                               ctx.consumer)

    _declared.append(name)
    first = Consumers(bus, pool, slow)
    await first.start([Subscription(name=name, routing_keys=["identity.user.changed.v1"], handler=fails)])
    event_id = await _publish_direct(pool, bus)
    await eventually(lambda: _async(seen == [("first", 0)]))
    await asyncio.sleep(0.3)  # it is now held, waiting to be due
    await first.stop(timeout=5)
    assert bus.connection is not None
    async with bus.connection.channel() as channel:
        async def given_back() -> bool:  # not lost; the broker counts it again once it has processed the return
            waiting = await channel.declare_queue(f"{settings.bus_prefix}{name}.retry", passive=True)
            return waiting.declaration_result.message_count == 1
        await eventually(given_back)

    second = Consumers(bus, pool, slow)
    await second.start([Subscription(name=name, routing_keys=["identity.user.changed.v1"], handler=works)])
    await eventually(lambda: _has(pool, name, 1))
    await asyncio.sleep(0.5)
    assert seen == [("first", 0), ("second", 1)]
    assert await effects(pool, name) == [event_id]
    await second.stop(timeout=5)


async def _async(value: bool) -> bool:
    return value


async def test_a_handler_cut_off_by_the_channel_closing_still_finishes_its_work(env) -> None:  # type: ignore[no-untyped-def]
    """aiormq cancels the tasks it runs consumer callbacks in when the channel closes (a broker restart): the
    handling is shielded, so a side effect is never left without its record (make chaos: an email accepted by the
    mail server, then cancelled before it was marked sent, went again after the lease)."""
    settings, pool, bus = env
    started = asyncio.Event()

    async def slow(ctx: MessageContext) -> None:
        started.set()
        await asyncio.sleep(1.0)  # the channel closes meanwhile
        async with ctx.effect() as conn:
            await conn.execute("INSERT INTO effects (event_id, consumer) VALUES ($1, $2)", ctx.envelope.event_id,
                               ctx.consumer)

    consumers = await run_consumer(settings, pool, bus, "bustest.cutoff", slow)
    event_id = await _publish_direct(pool, bus)
    await asyncio.wait_for(started.wait(), timeout=10)
    assert bus.consume_channel is not None
    await bus.consume_channel.close()
    await eventually(lambda: _has(pool, "bustest.cutoff", 1), timeout=5)
    assert await effects(pool, "bustest.cutoff") == [event_id]
    await consumers.stop(timeout=5)


async def test_consumers_that_start_while_the_broker_is_away_wait_for_it(env) -> None:  # type: ignore[no-untyped-def]
    """A replica started during a rolling deploy while its RabbitMQ node restarts (found by make chaos: the
    process exited 1 when basic_consume met the closed connection). It waits for the robust connection, then
    consumes once: one consumer on the queue, the event handled once."""
    settings, pool, bus = env
    proxy = TcpProxy(AMQP_HOST, AMQP_PORT).start()
    via = settings.model_copy(update={"amqp_url": SecretStr(f"amqp://guest:guest@127.0.0.1:{proxy.port}/")})
    away = Bus(via, SERVICE)
    try:
        await away.connect()

        async def record(ctx: MessageContext) -> None:
            async with ctx.effect() as conn:
                await conn.execute("INSERT INTO effects (event_id, consumer) VALUES ($1, $2)", ctx.envelope.event_id,
                                   ctx.consumer)

        _declared.append("bustest.away")
        sub = Subscription(name="bustest.away", routing_keys=["identity.user.changed.v1"], handler=record)
        consumers = Consumers(away, pool, via)
        proxy.cut()
        starting = asyncio.create_task(consumers.start([sub]))
        await asyncio.sleep(2.0)
        assert not starting.done(), f"start gave up while the broker was away: {starting.exception()!r}"
        proxy.restore()
        await asyncio.wait_for(starting, timeout=60)
        event_id = await _publish_direct(pool, bus)
        await eventually(lambda: _has(pool, "bustest.away", 1), timeout=30)
        assert await effects(pool, "bustest.away") == [event_id]
        assert bus.consume_channel is not None
        queue = await bus.consume_channel.declare_queue(queue_name(settings, sub), passive=True)
        assert queue.declaration_result.consumer_count == 1
        await consumers.stop(timeout=5)
    finally:
        await away.close()
        proxy.close()


async def test_the_relay_backs_off_while_the_broker_is_away_however_many_events_are_written(  # type: ignore[no-untyped-def]
        env, caplog: pytest.LogCaptureFixture) -> None:
    """Each commit notifies the relay; while publishing fails, those wake-ups must not cut its backoff short
    (make chaos: 285 failed publishes in the minute a RabbitMQ node was lost, one per event written)."""
    settings, pool, bus = env
    proxy = TcpProxy(AMQP_HOST, AMQP_PORT).start()
    via = settings.model_copy(update={"amqp_url": SecretStr(f"amqp://guest:guest@127.0.0.1:{proxy.port}/"),
                                      "bus_publish_timeout": 0.05})
    away = Bus(via, SERVICE)
    relay = OutboxRelay(pool, away, via, SERVICE, poll_interval=0.05)
    running: asyncio.Task[None] | None = None
    try:
        await away.connect()
        proxy.cut()
        await asyncio.sleep(0.3)
        caplog.set_level("WARNING", logger="shared.bus")
        running = asyncio.create_task(relay.run())
        for _ in range(60):  # an event every 50 ms for 3 s, each committed with its NOTIFY
            async with pool.acquire() as conn, conn.transaction():
                await add_event(conn, "identity", user_event())
            await asyncio.sleep(0.05)
        failures = [r for r in caplog.records if r.msg == "outbox relay failed, backing off"]
        # Backoff 0.5, 1, 2 s (each between half and one and a half times that): four tries at most in 3 s.
        assert 1 <= len(failures) <= 5, len(failures)
    finally:
        relay.stop()
        if running is not None:
            await asyncio.wait_for(running, timeout=10)
        await relay.close()
        await away.close()
        proxy.close()
        await pool.execute("DELETE FROM outbox")
