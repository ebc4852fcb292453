"""Issue 23, finding 4: a broker user must not forge another service's events. notify's credentials once could
push `pep.child.erased` into delegation's erasure queue (an irreversible erasure), straight through the default
exchange or as an event of its own on `epep`. Here delegation's consumer, on the real broker, refuses both and
dead-letters them; pep's own event, and a retry through delegation's own exchange, still get through."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path

import aio_pika
import asyncpg
import pytest
from pydantic import SecretStr

from shared import db
from shared.bus import Bus, Consumers, MessageContext, Subscription, add_event, delete_topology
from shared.contracts import ChildErased, Envelope
from shared.migrate import ensure_database, migrate
from shared.settings import ServiceSettings
from tests.conftest import AMQP_HOST, AMQP_PORT, PG_HOST, PG_PORT, RUN_ID, drop_database

SCHEMA = "busforge"
CONSUMER = "delegation.child_erasure"


@pytest.fixture(scope="module", autouse=True)
def forge_database() -> Iterator[str]:
    name = f"epep_busforge_{RUN_ID}"
    yield name
    asyncio.run(drop_database(f"postgresql://postgres@{PG_HOST}:{PG_PORT}/postgres", name))


@pytest.fixture
async def env(tmp_path: Path, forge_database: str) -> AsyncIterator[tuple[ServiceSettings, asyncpg.Pool]]:
    settings = ServiceSettings(pg_host=PG_HOST, pg_port=PG_PORT, pg_database=forge_database,
                               bus_prefix=f"bf{secrets.token_hex(3)}.", bus_retry_delays=[0.1],
                               amqp_url=SecretStr(f"amqp://guest:guest@{AMQP_HOST}:{AMQP_PORT}/"), environment="test")
    await ensure_database(settings)
    admin = await asyncpg.connect(settings.admin_dsn())
    await admin.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    await admin.close()
    await migrate(settings, SCHEMA, tmp_path)
    pool = await db.create_pool(settings, SCHEMA)
    yield settings, pool
    await pool.close()
    await delete_topology(settings, [CONSUMER])


def child_erased(child_id: uuid.UUID) -> ChildErased:
    return ChildErased(child_id=child_id, la_id=uuid.uuid4(), retention_ended=date(2020, 1, 1))


def erased(child_id: uuid.UUID, producer: str) -> Envelope:
    return Envelope(event_type="pep.child.erased", version=1, producer=producer,
                    data=child_erased(child_id).model_dump(mode="json"))


async def wait_for(condition, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if await condition():
            return True
        await asyncio.sleep(0.1)
    return False


async def test_delegation_refuses_a_child_erasure_that_pep_did_not_publish(
        env: tuple[ServiceSettings, asyncpg.Pool]) -> None:
    settings, pool = env
    erasures: list[str] = []
    failed_once: set[str] = set()

    async def erase(ctx: MessageContext) -> None:
        child = str(ctx.envelope.data["child_id"])
        if child.startswith("0") and child not in failed_once:  # fails once: comes back as a retry
            failed_once.add(child)
            raise RuntimeError("try again")
        erasures.append(child)

    delegation, notify, pep = Bus(settings, "delegation"), Bus(settings, "notify"), Bus(settings, "pep")
    for bus in (delegation, notify, pep):
        await bus.connect()
    consumers = Consumers(delegation, pool, settings)
    await consumers.start([Subscription(name=CONSUMER, routing_keys=["pep.child.erased.v1"], handler=erase)])
    try:
        # 1. notify publishes the event on `epep` as itself (its broker user may write only notify.* there in
        #    production; here all share guest, so the envelope says who published it).
        as_notify = erased(uuid.uuid4(), producer="notify")
        await notify.publish(as_notify.model_dump(mode="json"), as_notify.routing_key, {})
        # 2. notify writes pep's event, producer and all, straight into delegation's queue (the default exchange).
        straight_in = erased(uuid.uuid4(), producer="pep")
        assert notify.publish_channel is not None
        await notify.publish_channel.default_exchange.publish(
            aio_pika.Message(body=straight_in.model_dump_json().encode(), content_type="application/json",
                             message_id=str(straight_in.event_id)),
            routing_key=f"{settings.bus_prefix}{CONSUMER}")
        # 3. pep's own event, through pep's outbox, handled; one that fails once comes back through delegation's
        #    own exchange and is handled too.
        real, retried = uuid.uuid4(), uuid.UUID("0" + uuid.uuid4().hex[1:])
        for child in (real, retried):
            async with pool.acquire() as conn:
                envelope = await add_event(conn, "pep", child_erased(child))
            await pep.publish(envelope.model_dump(mode="json"), envelope.routing_key, {})

        async def both_handled() -> bool:
            return {str(real), str(retried)} <= set(erasures)
        assert await wait_for(both_handled)

        dead: set[str] = set()

        async def both_dead() -> bool:
            assert delegation.consume_channel is not None
            dlq = await delegation.consume_channel.declare_queue(f"{settings.bus_prefix}{CONSUMER}.dlq", passive=True)
            while (message := await dlq.get(no_ack=True, fail=False)) is not None:
                dead.add(str(message.message_id))
            return len(dead) >= 2
        assert await wait_for(both_dead)
        assert dead == {str(as_notify.event_id), str(straight_in.event_id)}
        assert str(as_notify.data["child_id"]) not in erasures
        assert str(straight_in.data["child_id"]) not in erasures
    finally:
        await consumers.stop(timeout=2)
        for bus in (pep, notify, delegation):
            await bus.close()


async def test_a_service_cannot_put_another_services_event_in_its_outbox(
        env: tuple[ServiceSettings, asyncpg.Pool]) -> None:
    _, pool = env
    async with pool.acquire() as conn:
        with pytest.raises(ValueError, match="pep owns it"):
            await add_event(conn, "notify", child_erased(uuid.uuid4()))
