"""EPEP_AMQP_URL with several nodes: connections try them in turn, and a robust connection whose node goes away
reconnects to the next one. The "nodes" are two TCP proxies in front of the shared broker, which the test cuts."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator

import aio_pika
import pytest
from aio_pika.exceptions import ChannelPreconditionFailed
from pydantic import SecretStr

from shared.bus import (
    Bus,
    FailoverConnection,
    MessageContext,
    Subscription,
    amqp_urls,
    broker_user,
    connect,
    connect_robust,
    declare_subscription,
    delete_topology,
    queue_name,
    retry_queue_name,
)
from shared.settings import ServiceSettings
from tests.conftest import AMQP_HOST, AMQP_PORT
from tests.support.tcp_proxy import TcpProxy


def settings_for(url: str) -> ServiceSettings:
    return ServiceSettings(amqp_url=SecretStr(url), environment="test")


def test_the_url_setting_holds_one_url_or_several() -> None:
    one = settings_for("amqp://guest:guest@10.0.0.2:5672/")
    several = settings_for(" amqp://epep_pep:x@10.0.0.2:5672/ , amqp://epep_pep:x@10.0.0.3:5672/,")
    assert amqp_urls(one) == ["amqp://guest:guest@10.0.0.2:5672/"]
    assert amqp_urls(several) == ["amqp://epep_pep:x@10.0.0.2:5672/", "amqp://epep_pep:x@10.0.0.3:5672/"]
    assert broker_user(several) == "epep_pep"
    with pytest.raises(ValueError, match="names no broker"):
        amqp_urls(settings_for(" , "))


def test_each_attempt_takes_the_next_url_in_turn() -> None:
    urls = [f"amqp://guest:guest@10.0.0.{n}:5672/" for n in (2, 3, 4)]
    loop = asyncio.new_event_loop()
    try:
        connection = FailoverConnection(urls, start=1, loop=loop)
        assert [connection.next_url().host for _ in range(5)] == ["10.0.0.3", "10.0.0.4", "10.0.0.2", "10.0.0.3",
                                                                  "10.0.0.4"]
    finally:
        loop.close()


@pytest.fixture
def nodes() -> Iterator[tuple[TcpProxy, TcpProxy]]:
    first, second = TcpProxy(AMQP_HOST, AMQP_PORT).start(), TcpProxy(AMQP_HOST, AMQP_PORT).start()
    yield first, second
    first.close()
    second.close()


def url_of(proxy: TcpProxy) -> str:
    return f"amqp://guest:guest@127.0.0.1:{proxy.port}/"


async def test_a_connection_goes_to_the_first_node_that_answers(nodes: tuple[TcpProxy, TcpProxy]) -> None:
    first, second = nodes
    first.cut()
    settings = settings_for(f"{url_of(first)},{url_of(second)}")
    plain = await connect(settings)
    assert plain.url.port == second.port  # type: ignore[attr-defined]
    await plain.close()
    robust = await connect_robust(settings, start=0)
    assert robust.url.port == second.port  # type: ignore[attr-defined]
    await robust.close()


async def test_a_robust_connection_moves_to_another_node_when_its_node_goes(
        nodes: tuple[TcpProxy, TcpProxy]) -> None:
    """Through aio-pika's own reconnect loop: the overridden step is really the one it calls."""
    first, second = nodes
    connection = await connect_robust(settings_for(f"{url_of(first)},{url_of(second)}"), start=0,
                                      reconnect_interval=0.1)
    reconnected = asyncio.Event()
    connection.reconnect_callbacks.add(lambda *_: reconnected.set())
    try:
        assert connection.url.port == first.port  # type: ignore[attr-defined]
        channel = await connection.channel(publisher_confirms=True)
        queue = await channel.declare_queue(f"failover-{secrets.token_hex(4)}", exclusive=True)
        first.cut()  # stays cut: only the other node can take the connection now
        await asyncio.wait_for(reconnected.wait(), timeout=60)
        assert connection.url.port == second.port  # type: ignore[attr-defined]
        # The channel and its (exclusive, so redeclared) queue are back, on the other node.
        await channel.default_exchange.publish(aio_pika.Message(b"after"), routing_key=queue.name)
        message = await queue.get(timeout=10, fail=True)
        assert message is not None and message.body == b"after"
        await message.ack()
    finally:
        await connection.close()


async def _is_quorum(bus: Bus, name: str, arguments: dict[str, object]) -> bool:
    """Whether the queue is a quorum queue: RabbitMQ accepts the quorum declaration only of one."""
    assert bus.connection is not None
    channel = await bus.connection.channel()
    try:
        await channel.declare_queue(name, durable=True, arguments={**arguments, "x-queue-type": "quorum"})
        return True
    except ChannelPreconditionFailed:
        return False
    finally:
        if not channel.is_closed:
            await channel.close()


async def test_a_classic_retry_queue_from_before_becomes_quorum_once_it_is_empty(
        caplog: pytest.LogCaptureFixture) -> None:
    """Retry queues were classic; RabbitMQ refuses to redeclare one as quorum. One that still holds a retry is
    kept (and the log says what to do) so the service runs on; once it is empty the next start replaces it."""
    settings = ServiceSettings(amqp_url=SecretStr(f"amqp://guest:guest@{AMQP_HOST}:{AMQP_PORT}/"),
                               bus_prefix=f"bf{secrets.token_hex(3)}.", environment="test")
    bus = Bus(settings, "busfail")
    await bus.connect()
    sub = Subscription(name="busfail.old", routing_keys=["identity.user.changed.v1"], handler=_never)
    retry = retry_queue_name(settings, sub)
    arguments: dict[str, object] = {"x-dead-letter-exchange": bus.dead_exchange_name,
                                    "x-dead-letter-routing-key": queue_name(settings, sub)}
    try:
        assert bus.connection is not None
        setup = await bus.connection.channel(publisher_confirms=True)
        await setup.declare_queue(retry, durable=True, arguments=arguments)  # classic, as before
        await setup.default_exchange.publish(aio_pika.Message(b"waiting retry"), routing_key=retry)

        await declare_subscription(bus, sub)
        assert not await _is_quorum(bus, retry, arguments)
        assert "classic retry queue still holds retries" in caplog.text
        message = await (await setup.declare_queue(retry, passive=True)).get(timeout=10)
        assert message is not None and message.body == b"waiting retry"  # kept, and used as it is
        await message.ack()

        await declare_subscription(bus, sub)  # the next start: it is empty now
        assert await _is_quorum(bus, retry, arguments)
        assert "classic retry queue replaced by a quorum queue" in caplog.text
        await setup.close()
    finally:
        await bus.close()
        await delete_topology(settings, [sub.name])


async def _never(ctx: MessageContext) -> None:
    raise AssertionError("no message is consumed here")
