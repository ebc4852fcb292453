"""The bus: outbox, relay, consumers with inbox de-duplication, timed retries and dead letters.

Topology (names carry the optional EPEP_BUS_PREFIX):
- `epep`            durable topic exchange every event is published to, routing key `<service>.<entity>.<verb>.v<N>`;
                    its alternate exchange `epep.unrouted` keeps events nobody subscribes to yet, so a publish
                    with `mandatory` never fails only because no queue is bound;
- `<consumer>`      a quorum queue per consumer, dead-lettering to `epep.dead` with an explicit x-delivery-limit
                    (RabbitMQ 3.10 has no default) so a message that crashes its consumer cannot loop forever;
- `<consumer>.dlq`  its dead-letter queue;
- `<consumer>.retry` a quorum queue of messages waiting to be tried again, each stamped with the time it is due
                    (`x-epep-due`). The consumer takes them as they come, holds each (unacked) until it is
                    due, then handles it; it dead-letters to `epep.dead` like the consumer's queue.

Every queue is a quorum queue, replicated on a cluster, so losing a node loses no work and no retry.
EPEP_AMQP_URL may name several nodes of one cluster, comma-separated: a connection tries them in turn, and a
robust connection moves on to the next on every reconnect, so a client whose node dies or pauses (a partitioned
minority) carries on with another.

A handler that raises gets its message re-published (with publisher confirms) to its retry queue, stamped
with the next delay, and only then acked; after the last delay it is rejected (not nacked) into the
dead-letter queue. A waiting retry is an unacked message in a durable queue, never a TTL expiry: a broker
restart or a killed process gives it back to the queue, and nothing depends on a dead-lettering step (which
RabbitMQ does at most once, so a retry could vanish if the target queue had no leader at that moment).
Delivery is at-least-once: the inbox row, written in the same transaction as the handler's effect, turns a
redelivery into a no-op.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aio_pika
import aiormq.exceptions
import asyncpg
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)
from aio_pika.exceptions import CONNECTION_EXCEPTIONS, ChannelPreconditionFailed
from aio_pika.robust_connection import RobustConnection
from opentelemetry import trace
from pamqp.commands import Basic
from pydantic import ValidationError
from yarl import URL

from shared import db
from shared.contracts import Envelope, EventData, event_type_of
from shared.settings import ServiceSettings
from shared.telemetry import context_from, current_carrier, tracer
from shared.tombstones import about_erased

log = logging.getLogger(__name__)
_tracer = tracer("epep.bus")
ATTEMPT_HEADER = "x-epep-attempt"
DUE_HEADER = "x-epep-due"  # when a retry may be tried, in milliseconds since the epoch


def owner_of(event_type: str) -> str:
    """The service that owns an event, and alone may publish it: its type's first part (`pep.child.erased`)."""
    return event_type.split(".", 1)[0]


def redeliver_exchange_name(settings: ServiceSettings, service: str) -> str:
    """A service's own direct exchange, to which each of its consumer and retry queues is bound by name: its
    retries and dead-letter replays go through it. No service may publish on the default exchange (deploy/
    rabbitmq), which would let any broker user put anything into any queue."""
    return f"{settings.bus_prefix}{service}.redeliver"


def amqp_urls(settings: ServiceSettings) -> list[str]:
    """The broker's URLs: EPEP_AMQP_URL holds one, or several nodes of one cluster separated by commas."""
    urls = [url.strip() for url in settings.amqp_url.get_secret_value().split(",") if url.strip()]
    if not urls:
        raise ValueError("EPEP_AMQP_URL names no broker")
    return urls


def broker_user(settings: ServiceSettings) -> str:
    return urllib.parse.unquote(urllib.parse.urlsplit(amqp_urls(settings)[0]).username or "")


CONNECT_TIMEOUT = 10.0  # a node cut off by a partition may not refuse a connection, only never answer it


class FailoverConnection(RobustConnection):
    """A robust connection that tries the cluster's nodes in turn: each connection attempt, the first and every
    reconnect, goes to the next URL in the list, so a client whose node died or paused lands on another.

    aio-pika (10.2) reconnects in RobustConnection's private `__connect_transport`, which connects to
    `self.url`; this overrides that one step to move `self.url` on first. tests/shared/test_bus_failover.py
    checks the hook is still called, so an aio-pika upgrade that renames it fails a test, not production."""

    def __init__(self, urls: list[str], start: int = 0, **kwargs: Any) -> None:
        self.urls = [URL(url) for url in urls]
        self.attempts = start
        super().__init__(self.urls[start % len(self.urls)], **kwargs)

    def next_url(self) -> URL:
        url = self.urls[self.attempts % len(self.urls)]
        self.attempts += 1
        return url

    async def _RobustConnection__connect_transport(self) -> None:  # noqa: N802 - the name aio-pika calls
        self.url = self.next_url()
        await super()._RobustConnection__connect_transport()  # type: ignore[misc]


async def connect_robust(settings: ServiceSettings, *, start: int | None = None,
                         **kwargs: Any) -> AbstractRobustConnection:
    """A robust connection to the first node that answers, from `start` (by default a random one, so that a
    service's processes spread over the cluster); after that it reconnects to the nodes in turn."""
    urls = amqp_urls(settings)
    first = random.randrange(len(urls)) if start is None else start
    last: BaseException = ConnectionError("no broker")
    for offset in range(len(urls)):
        connection = FailoverConnection(urls, start=first + offset, **kwargs)
        try:
            await connection.connect(timeout=CONNECT_TIMEOUT)
            return connection
        except CONNECTION_EXCEPTIONS as exc:  # this node is away: the next one
            last = exc
            with contextlib.suppress(Exception):
                await connection.close()
    raise last


async def connect(settings: ServiceSettings, *, timeout: float = CONNECT_TIMEOUT, **kwargs: Any) -> AbstractConnection:
    """A plain connection (for a command-line tool or a one-off job) to the first of the nodes that answers."""
    last: BaseException = ConnectionError("no broker")
    for url in amqp_urls(settings):
        try:
            return await aio_pika.connect(url, timeout=timeout, **kwargs)
        except CONNECTION_EXCEPTIONS as exc:
            last = exc
    raise last


class PermanentError(Exception):
    """Raised by a handler when retrying cannot help: the message goes straight to the dead-letter queue."""


class AlreadyProcessed(Exception):
    """The inbox already holds this event for this consumer."""


# ---- outbox ---------------------------------------------------------------------------------------


async def add_event(
    conn: asyncpg.Connection,
    producer: str,
    data: EventData,
    *,
    tenant: str | None = None,
    correlation_id: str | None = None,
) -> Envelope:
    """Write an event to the outbox inside the caller's transaction; the relay publishes it after commit."""
    event_type, version = event_type_of(type(data))
    if owner_of(event_type) != producer:  # consumers refuse it: a service publishes only its own events
        raise ValueError(f"{producer} cannot publish {event_type}: {owner_of(event_type)} owns it")
    envelope = Envelope(
        event_type=event_type,
        version=version,
        producer=producer,
        tenant=tenant,
        correlation_id=correlation_id,
        data=data.model_dump(mode="json"),
    )
    carrier = current_carrier()
    await conn.execute(
        "INSERT INTO outbox (event_id, routing_key, envelope, traceparent, tracestate) VALUES ($1, $2, $3, $4, $5)",
        envelope.event_id,
        envelope.routing_key,
        envelope.model_dump(mode="json"),
        carrier.get("traceparent"),
        carrier.get("tracestate"),
    )
    return envelope


# ---- connection and topology ----------------------------------------------------------------------


class Bus:
    """One robust connection per process, a confirming channel for publishing, one for consuming."""

    def __init__(self, settings: ServiceSettings, service: str) -> None:
        self.settings = settings
        self.service = service
        p = settings.bus_prefix
        self.exchange_name = f"{p}epep"
        self.dead_exchange_name = f"{p}epep.dead"
        self.unrouted_name = f"{p}epep.unrouted"
        self.connection: AbstractRobustConnection | None = None
        self.publish_channel: AbstractChannel | None = None
        self.consume_channel: AbstractChannel | None = None
        self.retry_channel: AbstractChannel | None = None
        self.exchange: AbstractExchange | None = None
        self._exchanges: dict[tuple[int, str], AbstractExchange] = {}
        self._renewing = asyncio.Lock()

    async def connect(self) -> None:
        self.connection = await connect_robust(
            self.settings,
            client_properties={"connection_name": f"epep-{self.service}"},
            reconnect_interval=1,
        )
        # on_return_raises: an unroutable mandatory publish raises instead of vanishing silently.
        self.publish_channel = await self.connection.channel(publisher_confirms=True, on_return_raises=True)
        self.exchange = await self._declare_exchanges(self.publish_channel)
        self.consume_channel = await self.connection.channel(publisher_confirms=True, on_return_raises=True)
        await self.consume_channel.set_qos(prefetch_count=self.settings.bus_prefetch)
        # Waiting retries are held unacked until due, so their channel allows many more in hand at once.
        self.retry_channel = await self.connection.channel()
        await self.retry_channel.set_qos(prefetch_count=self.settings.bus_retry_prefetch)

    async def _declare_exchanges(self, channel: AbstractChannel) -> AbstractExchange:
        unrouted = await channel.declare_exchange(self.unrouted_name, aio_pika.ExchangeType.FANOUT, durable=True)
        unrouted_queue = await channel.declare_queue(
            self.unrouted_name, durable=True, arguments={"x-queue-type": "quorum", "x-max-length": 100_000}
        )
        await unrouted_queue.bind(unrouted)
        await channel.declare_exchange(self.dead_exchange_name, aio_pika.ExchangeType.DIRECT, durable=True)
        return await channel.declare_exchange(
            self.exchange_name,
            aio_pika.ExchangeType.TOPIC,
            durable=True,
            arguments={"alternate-exchange": self.unrouted_name},
        )

    async def publish(self, envelope: dict[str, Any], routing_key: str, headers: dict[str, Any]) -> None:
        assert self.exchange is not None, "Bus.connect() first"
        message = aio_pika.Message(
            body=_json_bytes(envelope),
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=str(envelope["event_id"]),
            type=routing_key,
            headers=headers,
            user_id=broker_user(self.settings) or None,  # the broker refuses it unless it is who we logged in as
        )
        await self.publish_message(self.exchange_name, message, routing_key)

    async def publish_message(self, exchange_name: str, message: aio_pika.Message, routing_key: str) -> None:
        """Publish on the confirming publish channel; raises unless the broker confirms the message.

        A nack renews the channel before it is raised: on RabbitMQ 3.10, after a quorum queue's leader is
        lost, a channel that published to it before goes on nacking every publish routed there (for a minute
        and more, measured on tests/chaos/rabbit_cluster.py's cluster) while a new channel is confirmed at once.
        """
        channel = self.publish_channel
        assert channel is not None, "Bus.connect() first"
        exchange = await self._exchange_on(channel, exchange_name)
        try:
            # Publishes can hang while the connection is down: never wait for a confirm forever.
            await asyncio.wait_for(exchange.publish(message, routing_key=routing_key, mandatory=True),
                                   timeout=self.settings.bus_publish_timeout)
        except aio_pika.exceptions.DeliveryError as exc:
            if isinstance(exc.frame, Basic.Nack):
                await self._renew_publish_channel(channel)
            raise

    async def _exchange_on(self, channel: AbstractChannel, name: str) -> AbstractExchange:
        key = (id(channel), name)
        if key not in self._exchanges:
            self._exchanges[key] = await channel.get_exchange(name, ensure=False)
        return self._exchanges[key]

    async def _renew_publish_channel(self, nacked: AbstractChannel) -> None:
        """A new publish channel in place of `nacked`, once however many publishes on it were nacked."""
        assert self.connection is not None
        async with self._renewing:
            if self.publish_channel is not nacked:
                return  # another publish renewed it already
            log.warning("publishes nacked by the broker: publishing on a new channel", extra={
                "service": self.service})
            self._exchanges = {}
            fresh = await self.connection.channel(publisher_confirms=True, on_return_raises=True)
            self.exchange = await fresh.get_exchange(self.exchange_name, ensure=False)
            self.publish_channel = fresh
            with contextlib.suppress(Exception):
                await nacked.close()

    @property
    def is_connected(self) -> bool:
        return bool(self.connection and not self.connection.is_closed and self.publish_channel
                    and not self.publish_channel.is_closed)

    async def close(self) -> None:
        if self.connection is not None:
            await self.connection.close()


def _json_bytes(value: Any) -> bytes:
    import json

    return json.dumps(value, separators=(",", ":"), default=str).encode()


# ---- relay ----------------------------------------------------------------------------------------


class OutboxRelay:
    """Publishes committed outbox rows. Replicas cooperate: each claims rows with FOR UPDATE SKIP LOCKED.

    Woken by LISTEN/NOTIFY as soon as a row is committed; polls as a fallback (a lost notification, or the
    listening connection being down); backs off exponentially while the broker or database is away.
    """

    def __init__(self, pool: asyncpg.Pool, bus: Bus, settings: ServiceSettings, service: str,
                 *, batch_size: int = 100, poll_interval: float = 1.0, retention_seconds: int = 3600) -> None:
        self.pool, self.bus, self.settings, self.service = pool, bus, settings, service
        self.batch_size, self.poll_interval, self.retention_seconds = batch_size, poll_interval, retention_seconds
        self._wake = asyncio.Event()
        self._stopped = asyncio.Event()
        self._stopping = False
        self._listen_conn: asyncpg.Connection | None = None

    def _notified(self, *_: Any) -> None:
        self._wake.set()

    async def _ensure_listening(self) -> None:
        if self._listen_conn is not None and not self._listen_conn.is_closed():
            return
        try:
            self._listen_conn = await db.connect(self.settings, self.service)
            await self._listen_conn.add_listener(f"{self.service}_outbox", self._notified)
        except (OSError, asyncpg.PostgresError):
            self._listen_conn = None  # the poll fallback carries on until the database is back

    async def run(self) -> None:
        backoff = 0.5
        last_cleanup = 0.0
        loop = asyncio.get_running_loop()
        while not self._stopping:
            await self._ensure_listening()
            self._wake.clear()
            try:
                published = await self.publish_batch()
                backoff = 0.5
                if loop.time() - last_cleanup > 60:
                    await self.delete_old_rows()
                    last_cleanup = loop.time()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker or database away: wait, then try again
                log.warning("outbox relay failed, backing off", extra={"service": self.service,
                            "error": type(exc).__name__, "backoff_s": backoff})
                # Not woken by new events: while the broker or database is away every commit notifies, and
                # waking on each would retry at the rate events are written (285 failed publishes in a minute
                # of a RabbitMQ node's loss under make chaos), not at the backoff's.
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stopped.wait(), timeout=backoff * (0.5 + random.random()))
                backoff = min(backoff * 2, 30.0)
                continue
            if published < self.batch_size:
                await self._sleep(self.poll_interval)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)

    async def publish_batch(self) -> int:
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "SELECT id, routing_key, envelope, traceparent, tracestate FROM outbox "
                "WHERE published_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
                self.batch_size,
            )
            if not rows:
                return 0
            results = await asyncio.gather(*(self._publish_row(r) for r in rows), return_exceptions=True)
            done = [r["id"] for r, res in zip(rows, results, strict=True) if not isinstance(res, BaseException)]
            failed = [(r["id"], type(res).__name__) for r, res in zip(rows, results, strict=True)
                      if isinstance(res, BaseException)]
            if done:
                await conn.execute("UPDATE outbox SET published_at = now(), attempts = attempts + 1 "
                                   "WHERE id = ANY($1::bigint[])", done)
            for row_id, error in failed:
                await conn.execute("UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1",
                                   row_id, error)
        if failed:
            raise ConnectionError(f"{len(failed)} of {len(rows)} outbox events not confirmed")
        return len(done)

    async def _publish_row(self, row: asyncpg.Record) -> None:
        parent = context_from({"traceparent": row["traceparent"], "tracestate": row["tracestate"]})
        with _tracer.start_as_current_span(
            f"{row['routing_key']} publish", context=parent, kind=trace.SpanKind.PRODUCER,
            attributes={"messaging.system": "rabbitmq", "messaging.destination.name": self.bus.exchange_name,
                        "messaging.rabbitmq.destination.routing_key": row["routing_key"],
                        "messaging.message.id": str(row["envelope"]["event_id"])},
        ):
            await self.bus.publish(row["envelope"], row["routing_key"], current_carrier())

    async def drain(self) -> None:
        """Publish every committed row, batch by batch: the last thing a stopping relay does."""
        while await self.publish_batch() >= self.batch_size:
            pass

    async def delete_old_rows(self) -> None:
        """Published events are kept a while for operators, then deleted (some carry short-lived secrets)."""
        async with self.pool.acquire() as conn:
            await conn.execute(
                "DELETE FROM outbox WHERE published_at < now() - make_interval(secs => $1)",
                float(self.retention_seconds),
            )

    def stop(self) -> None:
        self._stopping = True
        self._stopped.set()
        self._wake.set()

    async def close(self) -> None:
        self.stop()
        if self._listen_conn is not None and not self._listen_conn.is_closed():
            await self._listen_conn.close()


# ---- consumers ------------------------------------------------------------------------------------


@dataclass
class MessageContext:
    consumer: str
    envelope: Envelope
    attempt: int
    pool: asyncpg.Pool
    effect_recorded: bool = False
    consumers: Consumers | None = field(default=None, repr=False)  # the service's consumers, settings and all

    @contextlib.asynccontextmanager
    async def effect(self) -> AsyncIterator[asyncpg.Connection]:
        """A transaction that records this event in the inbox along with the handler's effect.

        Raises AlreadyProcessed (the consumer then acks) when another delivery got there first.
        """
        async with self.pool.acquire() as conn, conn.transaction():
            inserted = await conn.fetchval(
                "INSERT INTO inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1",
                self.consumer, self.envelope.event_id,
            )
            if not inserted:
                raise AlreadyProcessed()
            yield conn
        self.effect_recorded = True


Handler = Callable[[MessageContext], Awaitable[None]]
E = TypeVar("E", bound=EventData)


@dataclass
class Subscription:
    """A named consumer: its own queue bound to the routing keys it wants. Made with `subscribe` for a consumer
    of one event model; built directly, its handler reads the envelope itself."""

    name: str  # e.g. "notify.sign_in_code"; also the inbox's consumer column
    routing_keys: list[str]
    handler: Handler
    queue: AbstractQueue | None = field(default=None, repr=False)
    consumer_tag: str | None = None
    event: type[EventData] | None = None  # the event model the handler takes, when made with `subscribe`


def subscribe(name: str, event: type[E], handler: Callable[[MessageContext, E], Awaitable[None]]) -> Subscription:
    """A consumer of one event model, bound to its routing key (`<type>.v<version>`). The bus parses and
    validates the event's data as `event` once and the handler receives it typed:

        async def _on_child_changed(ctx: MessageContext, child: ChildChanged) -> None: ...
        subscribe("qa.children", ChildChanged, _on_child_changed)

    Data that is not a valid `event` (or an envelope of another type) cannot be made valid by retrying it, so it
    goes straight to the consumer's dead-letter queue, as a malformed envelope does."""
    event_type, version = event_type_of(event)

    async def handle(ctx: MessageContext) -> None:
        await handler(ctx, _data_as(event, (event_type, version), ctx))

    return Subscription(name=name, routing_keys=[f"{event_type}.v{version}"], handler=handle, event=event)


def _data_as(event: type[E], key: tuple[str, int], ctx: MessageContext) -> E:
    envelope = ctx.envelope
    fields = {"consumer": ctx.consumer, "event_type": envelope.routing_key, "event_id": str(envelope.event_id),
              "model": event.__name__}
    if (envelope.event_type, envelope.version) != key:
        log.error("event of another type dead-lettered", extra=fields)
        raise PermanentError(f"{envelope.routing_key} is not {event.__name__}")
    try:
        return event.model_validate(envelope.data)
    except ValidationError:
        # Only the error's type: a validation error's text can quote the event's data (a code, a name).
        log.error("event data not valid for its model, dead-lettered", extra=fields)
        raise PermanentError(f"{envelope.routing_key} data is not a valid {event.__name__}") from None


def queue_name(settings: ServiceSettings, sub: Subscription) -> str:
    return f"{settings.bus_prefix}{sub.name}"


def retry_queue_name(settings: ServiceSettings, sub: Subscription) -> str:
    return f"{queue_name(settings, sub)}.retry"


async def declare_subscription(bus: Bus, sub: Subscription) -> AbstractQueue:
    """A consumer's queue, bindings, dead-letter queue and retry queues. Idempotent: run at deploy time (so no
    event is published before its queue exists) and again when the consumer starts."""
    channel, settings = bus.consume_channel, bus.settings
    assert channel is not None and bus.exchange is not None, "Bus.connect() first"
    name = queue_name(settings, sub)
    queue = await channel.declare_queue(name, durable=True, arguments={
        "x-queue-type": "quorum",
        "x-dead-letter-exchange": bus.dead_exchange_name,
        "x-dead-letter-routing-key": name,
        "x-delivery-limit": settings.bus_delivery_limit,
    })
    exchange = await channel.get_exchange(bus.exchange_name)
    for key in sub.routing_keys:
        await queue.bind(exchange, routing_key=key)
    dlq = await channel.declare_queue(f"{name}.dlq", durable=True, arguments={"x-queue-type": "quorum"})
    await dlq.bind(await channel.get_exchange(bus.dead_exchange_name), routing_key=name)
    retry_arguments: dict[str, Any] = {"x-dead-letter-exchange": bus.dead_exchange_name,
                                       "x-dead-letter-routing-key": name}
    if await _retry_queue_is_quorum(bus, retry_queue_name(settings, sub), retry_arguments):
        retry_arguments["x-queue-type"] = "quorum"
    retries = await channel.declare_queue(retry_queue_name(settings, sub), durable=True, arguments=retry_arguments)
    own = await channel.declare_exchange(redeliver_exchange_name(settings, bus.service),
                                         aio_pika.ExchangeType.DIRECT, durable=True)
    await queue.bind(own, routing_key=name)  # dead-letter replays
    await retries.bind(own, routing_key=retry_queue_name(settings, sub))
    return queue


async def _retry_queue_is_quorum(bus: Bus, name: str, arguments: dict[str, Any]) -> bool:
    """Declare a retry queue as a quorum queue, or say it must stay classic for now.

    Retry queues were classic queues before; RabbitMQ refuses to redeclare one as quorum (PRECONDITION_FAILED,
    which closes the channel, so this runs on a channel of its own). An empty classic retry queue nobody
    consumes is deleted and made anew as a quorum queue. One that holds retries, or that an older replica
    still consumes, is left as it is and used as it is: its retries come due and drain by themselves, and a
    later start, once it is empty, replaces it. The log says so, naming the queue."""
    assert bus.connection is not None, "Bus.connect() first"
    quorum = {**arguments, "x-queue-type": "quorum"}
    probe = await bus.connection.channel()
    try:
        await probe.declare_queue(name, durable=True, arguments=quorum)
        return True
    except ChannelPreconditionFailed:
        pass  # a classic retry queue from before, or a queue of that name with other arguments
    finally:
        with contextlib.suppress(Exception):
            await probe.close()
    probe = await bus.connection.channel()
    try:
        await probe.queue_delete(name, if_unused=True, if_empty=True)
        await probe.declare_queue(name, durable=True, arguments=quorum)
        log.warning("classic retry queue replaced by a quorum queue", extra={"queue": name})
        return True
    except ChannelPreconditionFailed:
        log.error("classic retry queue still holds retries or has consumers: kept as a classic queue (not "
                  "replicated) until a later start finds it empty and unused; to replace it now, stop every "
                  "replica of this service, let `rabbitmqctl list_queues` show it empty and start one",
                  extra={"queue": name})
        return False
    finally:
        with contextlib.suppress(Exception):
            await probe.close()


# The broker connection went away under a call (a node restarted, killed or cut off): the robust connection comes
# back by itself, to this node or another. Not a refused declaration (PRECONDITION_FAILED closes only the channel).
BROKER_AWAY = (aiormq.exceptions.AMQPConnectionError, aiormq.exceptions.ChannelInvalidStateError, ConnectionError,
               asyncio.TimeoutError)
START_PATIENCE = 180.0  # longer than a node's restart on a busy machine


async def _until_broker_back(step: Callable[[], Awaitable[None]], what: str,
                             patience: float = START_PATIENCE) -> None:
    deadline = time.monotonic() + patience
    while True:
        try:
            await step()
            return
        except BROKER_AWAY as exc:
            if time.monotonic() > deadline:
                raise
            log.warning("broker away while starting a consumer; trying again", extra={
                "consumer": what, "error": type(exc).__name__})
            await asyncio.sleep(1.0)


class Consumers:
    """Runs a service's subscriptions as callback consumers on the bus's consuming channel."""

    def __init__(self, bus: Bus, pool: asyncpg.Pool, settings: ServiceSettings) -> None:
        self.bus, self.pool, self.settings = bus, pool, settings
        self.subscriptions: list[Subscription] = []
        self._inflight: set[asyncio.Task[None]] = set()
        self._retry_exchange: AbstractExchange | None = None
        self._retry_tags: list[tuple[AbstractQueue, str]] = []
        self._stopping = asyncio.Event()

    async def declare(self, sub: Subscription) -> AbstractQueue:
        return await declare_subscription(self.bus, sub)

    async def start(self, subscriptions: list[Subscription]) -> None:
        """Declare and consume each subscription. A broker node that goes away meanwhile (a restart, a node lost
        during a rolling deploy) does not stop the process: each step is taken again once the robust connection
        is back, and a step already done is not done twice (a second consumer on a queue would double its work)."""
        channel = self.bus.consume_channel
        assert channel is not None, "Bus.connect() first"

        async def exchange() -> None:
            self._retry_exchange = await channel.declare_exchange(
                redeliver_exchange_name(self.settings, self.bus.service), aio_pika.ExchangeType.DIRECT, durable=True)

        await _until_broker_back(exchange, "the redeliver exchange")
        for sub in subscriptions:
            done: set[str] = set()
            await _until_broker_back(lambda sub=sub, done=done: self._start_one(sub, done), sub.name)  # type: ignore[misc]

    async def _start_one(self, sub: Subscription, done: set[str]) -> None:
        retry_channel = self.bus.retry_channel
        assert retry_channel is not None, "Bus.connect() first"
        if "queue" not in done:
            sub.queue = await self.declare(sub)
            done.add("queue")
        if "retries" not in done:
            # Declared (passively) on the robust channel itself, so its consumer is restored after a reconnect.
            retries = await retry_channel.declare_queue(retry_queue_name(self.settings, sub), passive=True)
            self._retry_tags.append((retries, await retries.consume(self._retry_callback(sub))))
            done.add("retries")
        assert sub.queue is not None
        sub.consumer_tag = await sub.queue.consume(self._callback(sub))
        self.subscriptions.append(sub)

    def _callback(self, sub: Subscription) -> Callable[[AbstractIncomingMessage], Awaitable[None]]:
        async def on_message(message: AbstractIncomingMessage) -> None:
            # The handling runs in a task of our own, shielded: when the broker connection drops, aiormq cancels
            # the tasks it runs callbacks in, and a handler cut off between its side effect and its record (an
            # email accepted by the mail server, not yet marked sent) would do that effect again on redelivery.
            # So the work runs to its end; only its ack is lost, the broker redelivers and the inbox (or the
            # delivery's status) makes that a no-op.
            task = asyncio.ensure_future(self._finish(sub, message))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
            await asyncio.shield(task)
        return on_message

    async def _finish(self, sub: Subscription, message: AbstractIncomingMessage) -> None:
        try:
            await self._handle(sub, message)
        except Exception as exc:  # the outcome could not be acked: the broker went away meanwhile
            log.warning("message handled but not acknowledged", extra={"consumer": sub.name,
                        "message_id": message.message_id, "error": type(exc).__name__})

    def _retry_callback(self, sub: Subscription) -> Callable[[AbstractIncomingMessage], Awaitable[None]]:
        """A retry is held until it is due, then handled as if it had come from the consumer's queue."""
        handle = self._callback(sub)

        async def on_retry(message: AbstractIncomingMessage) -> None:
            due = (message.headers or {}).get(DUE_HEADER)
            wait = (due / 1000 - time.time()) if isinstance(due, int | float) else 0.0
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=wait)
            if self._stopping.is_set():
                # Stopping: back to the queue for another replica, or this one when it starts again.
                with contextlib.suppress(Exception):
                    await message.nack(requeue=True)
                return
            if message.channel.is_closed:
                return  # the broker went away while it waited; it gave the message back to the queue
            await handle(message)
        return on_retry

    async def _handle(self, sub: Subscription, message: AbstractIncomingMessage) -> None:
        try:
            envelope = Envelope.model_validate_json(message.body)
        except ValidationError:
            log.error("malformed message dead-lettered", extra={"consumer": sub.name,
                      "message_id": message.message_id})
            await message.reject(requeue=False)
            return
        if (refused := self._refusal(message, envelope)) is not None:
            log.error("event refused, dead-lettered: its publisher does not own it", extra={
                "consumer": sub.name, "event_type": envelope.routing_key, "event_id": str(envelope.event_id),
                "producer": envelope.producer, "reason": refused})
            await message.reject(requeue=False)
            return
        raw_attempt = (message.headers or {}).get(ATTEMPT_HEADER, 0)
        attempt = raw_attempt if isinstance(raw_attempt, int) else 0
        parent = context_from(dict(message.headers or {}))
        with _tracer.start_as_current_span(
            f"{envelope.routing_key} process", context=parent, kind=trace.SpanKind.CONSUMER,
            attributes={"messaging.system": "rabbitmq", "messaging.consumer.group.name": sub.name,
                        "messaging.message.id": str(envelope.event_id), "epep.attempt": attempt},
        ) as span:
            ctx = MessageContext(sub.name, envelope, attempt, self.pool, consumers=self)
            try:
                if await self._seen(sub.name, envelope):
                    await message.ack()
                    return
                if await about_erased(self.pool, envelope.event_type, envelope.data):
                    # Erasure is final (shared/tombstones.py): a late, retried or replayed event about an erased
                    # child recreates nothing. Ids only in the log.
                    log.info("event about an erased child dropped", extra={
                        "consumer": sub.name, "event_type": envelope.routing_key, "event_id": str(envelope.event_id)})
                    await message.ack()
                    return
                await sub.handler(ctx)
                if not ctx.effect_recorded:
                    # A handler with no database effect of its own still gets its inbox row.
                    with contextlib.suppress(AlreadyProcessed):
                        async with ctx.effect():
                            pass
            except AlreadyProcessed:
                pass
            except Exception as exc:
                span.record_exception(exc)
                span.set_status(trace.StatusCode.ERROR)
                await self._retry_or_dead_letter(sub, message, envelope, attempt, exc)
                return
            await message.ack()

    def _refusal(self, message: AbstractIncomingMessage, envelope: Envelope) -> str | None:
        """Why this message is not its owner's event (None: it is). An event comes from the `epep` exchange,
        published by the service that owns its type; a retry or a replay from this service's own exchange. With
        one broker user per service (`epep_<service>`, deploy/rabbitmq), the broker vouches for the publisher
        (the validated user id); with one shared user (development, tests) the envelope and exchange still must
        agree, so a message put straight into a queue, or another service's event, is refused."""
        owner = owner_of(envelope.event_type)
        if envelope.producer != owner:
            return "producer"
        own_exchange = redeliver_exchange_name(self.settings, self.bus.service)
        if message.exchange not in (self.bus.exchange_name, own_exchange):
            return "exchange"
        me = broker_user(self.settings)
        if me.startswith("epep_"):
            expected = f"epep_{owner}" if message.exchange == self.bus.exchange_name else me
            if message.user_id != expected:
                return "publisher"
        return None

    async def _seen(self, consumer: str, envelope: Envelope) -> bool:
        return bool(await self.pool.fetchval(
            "SELECT 1 FROM inbox WHERE consumer = $1 AND event_id = $2", consumer, envelope.event_id))

    async def _retry_or_dead_letter(self, sub: Subscription, message: AbstractIncomingMessage,
                                    envelope: Envelope, attempt: int, exc: Exception) -> None:
        delays = self.settings.bus_retry_delays
        fields = {"consumer": sub.name, "event_type": envelope.routing_key, "event_id": str(envelope.event_id),
                  "attempt": attempt, "error": type(exc).__name__}
        if isinstance(exc, PermanentError) or attempt >= len(delays):
            log.error("event dead-lettered", extra=fields)
            await message.reject(requeue=False)
            return
        headers = {k: v for k, v in (message.headers or {}).items() if not k.startswith("x-death")
                   and not k.startswith("x-first-death") and not k.startswith("x-last-death")}
        headers[ATTEMPT_HEADER] = attempt + 1
        headers[DUE_HEADER] = int((time.time() + delays[attempt]) * 1000)
        retry = aio_pika.Message(body=message.body, headers=headers, content_type=message.content_type,
                                 delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                                 message_id=message.message_id, type=message.type,
                                 user_id=broker_user(self.settings) or None)
        try:
            # On the bus's publish channel, which is renewed when the broker nacks (see Bus.publish_message).
            await self.bus.publish_message(redeliver_exchange_name(self.settings, self.bus.service), retry,
                                           retry_queue_name(self.settings, sub))
        except Exception:
            # Could not park it for later: give it back (this counts towards x-delivery-limit).
            log.warning("retry publish failed, requeued", extra=fields)
            await message.reject(requeue=True)
            return
        log.warning("event will be retried", extra={**fields, "delay_s": delays[attempt]})
        await message.ack()

    @property
    def consuming(self) -> bool:
        channel = self.bus.consume_channel
        return bool(channel and not channel.is_closed and all(s.consumer_tag for s in self.subscriptions))

    async def cancel(self) -> None:
        """Take no new messages (the broker keeps them for other replicas); the ones in hand carry on, except
        waiting retries, which go back to their queue at once."""
        self._stopping.set()
        for queue, tag in self._retry_tags:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(queue.cancel(tag), timeout=self.settings.bus_publish_timeout)
        self._retry_tags.clear()
        for sub in self.subscriptions:
            if sub.queue is not None and sub.consumer_tag is not None:
                with contextlib.suppress(Exception):  # with the broker away there is nothing to cancel
                    await asyncio.wait_for(sub.queue.cancel(sub.consumer_tag),
                                           timeout=self.settings.bus_publish_timeout)
                sub.consumer_tag = None

    async def stop(self, timeout: float) -> None:
        """Stop taking messages, then let the ones in hand finish (unfinished ones are redelivered)."""
        await self.cancel()
        if self._inflight:
            _, pending = await asyncio.wait(set(self._inflight), timeout=timeout)
            if pending:
                log.warning("shutdown timed out: messages still in hand are left for redelivery",
                            extra={"messages": len(pending)})


async def delete_topology(settings: ServiceSettings, consumers: list[str], *, exchanges: bool = True) -> None:
    """Remove consumers' queues (their dead-letter and retry queues too) and, with `exchanges`, the shared
    exchanges: for a retired consumer, or a test run's own prefixed names. Messages in them are lost."""
    prefix = settings.bus_prefix
    async with await connect(settings) as conn:
        channel = await conn.channel()
        for name in consumers:
            for suffix in ("", ".dlq", ".retry"):
                await channel.queue_delete(f"{prefix}{name}{suffix}")
        if exchanges:
            services = {name.removeprefix(prefix).split(".", 1)[0] for name in consumers}
            for exchange in ("epep", "epep.dead", "epep.unrouted", *(f"{s}.redeliver" for s in sorted(services))):
                await channel.exchange_delete(f"{prefix}{exchange}")
            await channel.queue_delete(f"{prefix}epep.unrouted")
