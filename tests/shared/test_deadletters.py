"""The dead-letter CLI on real RabbitMQ: list, inspect (no personal data), replay by id (applied once), discard."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid

import pytest

from shared import deadletters
from shared.bus import MessageContext, PermanentError
from tests.shared.test_bus import _publish_direct, bus_database, effects, env, eventually, run_consumer  # noqa: F401

CONSUMER = "bustest.deadletters"


async def test_dead_letters_are_listed_inspected_replayed_once_and_discarded(env, capsys) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    settings, pool, bus = env
    broken = True

    async def handler(ctx: MessageContext) -> None:
        if broken:
            raise PermanentError("the template is missing")
        async with ctx.effect() as conn:
            await conn.execute("INSERT INTO effects (event_id, consumer) VALUES ($1, $2)", ctx.envelope.event_id,
                               ctx.consumer)

    consumers = await run_consumer(settings, pool, bus, CONSUMER, handler)
    first, second = await _publish_direct(pool, bus), await _publish_direct(pool, bus)

    # The broker's count is what it has processed so far: a message given back (inspect), acked (replay, discard)
    # or dead-lettered shows in it a moment later, so every count is waited for, within a deadline.
    async def dead_letters(n: int) -> None:
        async def counted() -> bool:
            return (await deadletters.counts(settings, [CONSUMER])).get(CONSUMER) == n
        await eventually(counted)

    await dead_letters(2)

    letters = await deadletters.inspect(settings, CONSUMER)
    assert {letter.message_id for letter in letters} == {str(first), str(second)}
    letter = letters[0]
    assert letter.event_type == "identity.user.changed"
    assert letter.summary["deaths"][0]["reason"] == "rejected"
    assert letter.summary["producer"] == "identity"
    assert "example.test" not in repr(letters)  # the event's data (an email address) is never shown
    # Inspecting leaves them in place.
    await dead_letters(2)
    assert {letter.message_id for letter in await deadletters.inspect(settings, CONSUMER)} == {str(first), str(second)}

    broken = False  # the cause is fixed: replay one by id
    assert await deadletters.replay(settings, CONSUMER, {str(first)}) == [str(first)]

    async def applied() -> bool:
        return await effects(pool, CONSUMER) == [first]
    await eventually(applied)
    await dead_letters(1)

    # A replay of an event the consumer already applied is a no-op, thanks to its inbox.
    await bus.publish({**(await pool.fetchval("SELECT envelope FROM outbox WHERE event_id = $1", first))},
                      "identity.user.changed.v1", {})
    await asyncio.sleep(0.5)
    assert await effects(pool, CONSUMER) == [first]

    # The same from the command line, as an operator runs it.
    async def cli(*args: str) -> tuple[int, str]:
        env = {**os.environ, "EPEP_AMQP_URL": settings.amqp_url.get_secret_value(),
               "EPEP_BUS_PREFIX": settings.bus_prefix}
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "shared.deadletters", *args, env=env,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, _ = await proc.communicate()
        return proc.returncode or 0, out.decode()

    status, out = await cli("inspect", f"{CONSUMER}.dlq")
    assert status == 0 and json.loads(out)["message_id"] == str(second) and "example.test" not in out
    assert await cli("discard", CONSUMER, "--id", str(uuid.uuid4())) == (1, "")  # no such message: says so
    assert await cli("discard", CONSUMER, "--id", str(second)) == (0, f"discarded {second}\n")
    await dead_letters(0)
    assert await effects(pool, CONSUMER) == [first]
    await consumers.stop(timeout=5)


def test_the_cli_names_the_queue_with_or_without_prefix_and_suffix() -> None:
    from shared.settings import ServiceSettings

    settings = ServiceSettings(bus_prefix="t1.")
    assert deadletters._queue(settings, "notify.tasks") == "t1.notify.tasks"
    assert deadletters._queue(settings, "t1.notify.tasks.dlq") == "t1.notify.tasks"


def test_list_knows_every_service_s_consumer_queues() -> None:
    queues = deadletters.consumer_queues()
    assert "notify.sign_in_code" in queues
    assert any(q.startswith("delegation.") for q in queues) and any(q.startswith("qa.") for q in queues)


@pytest.mark.parametrize("argv", [["replay", "notify.tasks"], ["discard", "notify.tasks"]])
def test_replay_and_discard_need_ids_or_all(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        deadletters.main(argv)
