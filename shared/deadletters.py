"""Dead letters: what failed every retry, for a person to look at, then replay or discard.

    python -m shared.deadletters list                          # each consumer queue's dead letters
    python -m shared.deadletters inspect notify.sign_in_code   # what is in notify.sign_in_code.dlq
    python -m shared.deadletters replay notify.sign_in_code --id <event id> [--id ...] | --all
    python -m shared.deadletters discard notify.sign_in_code --id <event id> | --all

Run it where a service runs (`kubectl exec deploy/notify -- python -m shared.deadletters list`): it reads the
same EPEP_AMQP_URL and EPEP_BUS_PREFIX, and lists the queues of the services whose code is there. Replay
puts a message back on its own consumer's queue only (through the default exchange, so no other
subscriber sees the event again), with its retry count reset; the consumer's inbox turns a message that was
in fact already applied into a no-op. Nothing here prints an event's data: only its type, ids, producer,
times, headers and why it was dead-lettered.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import sys
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage
from aiohttp import web

from shared.bus import ATTEMPT_HEADER, broker_user, connect, queue_name, redeliver_exchange_name
from shared.service import SETTINGS
from shared.settings import ServiceSettings

SERVICES = ("identity", "pep", "delegation", "notify", "qa")
_DEATH_HEADERS = ("x-death", "x-first-death-exchange", "x-first-death-queue", "x-first-death-reason",
                  "x-last-death-exchange", "x-last-death-queue", "x-last-death-reason", "x-delivery-count")


@dataclass
class DeadLetter:
    message_id: str
    event_type: str
    summary: dict[str, Any]  # envelope fields without `data`, death headers: never personal data


def consumer_queues() -> list[str]:
    """Every consumer queue of the services whose code is importable here (in a service's image: its own)."""
    names: list[str] = []
    for service in SERVICES:
        try:
            spec = importlib.import_module(f"services.{service}.app").SPEC
        except ModuleNotFoundError:
            continue
        app = web.Application()
        app[SETTINGS] = spec.settings_class()  # the service's own (notify's subscriptions need NotifySettings)
        if spec.subscriptions is not None:
            names.extend(queue_name(app[SETTINGS], sub) for sub in spec.subscriptions(app))
    return names


def _queue(settings: ServiceSettings, name: str) -> str:
    """`notify.sign_in_code`, `notify.sign_in_code.dlq` or the prefixed name: the consumer queue's full name."""
    name = name.removesuffix(".dlq")
    return name if name.startswith(settings.bus_prefix) else f"{settings.bus_prefix}{name}"


def describe(message: AbstractIncomingMessage) -> DeadLetter:
    headers = dict(message.headers or {})
    summary: dict[str, Any] = {"routing_key": message.type, "redelivered": message.redelivered}
    try:
        envelope = json.loads(message.body)
        if isinstance(envelope, dict):
            summary.update({k: envelope.get(k) for k in (
                "event_id", "event_type", "version", "producer", "occurred_at", "tenant", "correlation_id")})
    except ValueError:
        summary["body"] = f"not JSON ({len(message.body)} bytes)"
    summary["attempt"] = headers.get(ATTEMPT_HEADER, 0)
    deaths = headers.get("x-death")
    deaths = deaths if isinstance(deaths, list) else []
    summary["deaths"] = [{"queue": d.get("queue"), "reason": d.get("reason"), "count": d.get("count"),
                          "time": str(d.get("time"))} for d in deaths if isinstance(d, dict)]
    for key in _DEATH_HEADERS[1:]:
        if key in headers:
            summary[key] = headers[key]
    return DeadLetter(message_id=message.message_id or "-", event_type=str(summary.get("event_type") or message.type),
                      summary=summary)


async def _connect(settings: ServiceSettings) -> aio_pika.abc.AbstractConnection:
    return await connect(settings, timeout=10)  # the first node of EPEP_AMQP_URL's list that answers


async def counts(settings: ServiceSettings, queues: list[str]) -> dict[str, int]:
    """Messages in each consumer queue's dead-letter queue (queues not declared yet are left out)."""
    found: dict[str, int] = {}
    async with await _connect(settings) as conn:
        channel = await conn.channel()
        for name in queues:
            if channel.is_closed:
                channel = await conn.channel()
            try:
                dlq = await channel.declare_queue(f"{_queue(settings, name)}.dlq", passive=True)
            except aio_pika.exceptions.ChannelNotFoundEntity:
                continue
            found[name] = dlq.declaration_result.message_count or 0
    return found


async def _take(channel: AbstractChannel, dlq: str, limit: int) -> list[AbstractIncomingMessage]:
    """Up to `limit` messages, held unacked: those not acked go back to the queue when the channel closes."""
    queue = await channel.declare_queue(dlq, passive=True)
    taken: list[AbstractIncomingMessage] = []
    while len(taken) < limit and (message := await queue.get(fail=False, no_ack=False)) is not None:
        taken.append(message)
    return taken


async def inspect(settings: ServiceSettings, queue: str, limit: int = 100) -> list[DeadLetter]:
    """What is in the dead-letter queue, left there: each message is given back (requeued) once described.

    The broker counts a given-back message again only once it has processed the requeue, so a count read
    straight after may still be short (`counts` is what the broker last knew, not a promise)."""
    async with await _connect(settings) as conn:
        channel = await conn.channel()
        taken = await _take(channel, f"{_queue(settings, queue)}.dlq", limit)
        letters = [describe(m) for m in taken]
        for message in taken:
            await message.nack(requeue=True)
        return letters


async def replay(settings: ServiceSettings, queue: str, ids: set[str] | None, limit: int = 10_000) -> list[str]:
    """Republish the chosen dead letters (all when `ids` is None) to their consumer's queue, through the service's
    own exchange (nobody may publish on the default exchange); then ack each. The consumer checks each again: a
    dead letter that is not its owner's event is refused once more."""
    target = _queue(settings, queue)
    service = target.removeprefix(settings.bus_prefix).split(".", 1)[0]
    done: list[str] = []
    async with await _connect(settings) as conn:
        channel = await conn.channel(publisher_confirms=True, on_return_raises=True)
        own = await channel.declare_exchange(redeliver_exchange_name(settings, service), aio_pika.ExchangeType.DIRECT,
                                             durable=True)
        for message in await _take(channel, f"{target}.dlq", limit):
            if ids is not None and message.message_id not in ids:
                await message.nack(requeue=True)  # not chosen: back where it was
                continue
            headers = {k: v for k, v in (message.headers or {}).items()
                       if k not in _DEATH_HEADERS and k != ATTEMPT_HEADER}
            await own.publish(
                aio_pika.Message(body=message.body, headers=headers, content_type=message.content_type,
                                 delivery_mode=aio_pika.DeliveryMode.PERSISTENT, message_id=message.message_id,
                                 type=message.type, user_id=broker_user(settings) or None),
                routing_key=target, mandatory=True, timeout=10)
            await message.ack()  # only once the broker has confirmed the copy
            done.append(message.message_id or "-")
    return done


async def discard(settings: ServiceSettings, queue: str, ids: set[str] | None, limit: int = 10_000) -> list[str]:
    """Delete the chosen dead letters for good (all when `ids` is None)."""
    done: list[str] = []
    async with await _connect(settings) as conn:
        channel = await conn.channel()
        for message in await _take(channel, f"{_queue(settings, queue)}.dlq", limit):
            if ids is None or message.message_id in ids:
                await message.ack()
                done.append(message.message_id or "-")
            else:
                await message.nack(requeue=True)  # not chosen: back where it was
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.deadletters", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="dead letters per consumer queue")
    listing.add_argument("--all", action="store_true", help="show queues with none too")
    look = commands.add_parser("inspect", help="what is in a queue's dead-letter queue (left in place)")
    look.add_argument("queue")
    look.add_argument("--limit", type=int, default=100)
    for name, what in (("replay", "republish to the consumer's queue"), ("discard", "delete for good")):
        command = commands.add_parser(name, help=what)
        command.add_argument("queue")
        chosen = command.add_mutually_exclusive_group(required=True)
        chosen.add_argument("--id", action="append", dest="ids", help="a message (event) id; repeat for more")
        chosen.add_argument("--all", action="store_true")
    args = parser.parse_args(argv)
    settings = ServiceSettings()

    if args.command == "list":
        found = asyncio.run(counts(settings, consumer_queues()))
        for name, n in sorted(found.items()):
            if n or args.all:
                print(f"{n:>6}  {name}.dlq")
        total = sum(found.values())
        print(f"{total} dead letter(s) in {sum(1 for n in found.values() if n)} queue(s)", file=sys.stderr)
        return 1 if total else 0
    if args.command == "inspect":
        for letter in asyncio.run(inspect(settings, args.queue, args.limit)):
            print(json.dumps({"message_id": letter.message_id, **letter.summary}, default=str))
        return 0
    ids = None if args.all else set(args.ids)
    act = replay if args.command == "replay" else discard
    done = asyncio.run(act(settings, args.queue, ids))
    for message_id in done:
        print(f"{args.command}ed {message_id}")
    missing = (ids or set()) - set(done)
    for message_id in sorted(missing):
        print(f"not found: {message_id}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
