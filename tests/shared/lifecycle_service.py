"""A small service for tests/shared/test_lifecycle.py, built by shared/service.py like every real one and run
as a real process: a slow route, a slow consumer and a slow scheduled tick, each recording in its own table
when it started and when it finished, so a test can see what a SIGTERM cut short.

    python -m tests.shared.lifecycle_service serve
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from pathlib import Path

from aiohttp import web

from shared.bus import MessageContext, Subscription, add_event
from shared.contracts import EVENTS, EventData
from shared.schedule import every
from shared.service import POOL, ServiceSpec, main

SERVICE = "lifecycletest"
MIGRATIONS = Path(__file__).with_name("lifecycle_migrations")
WORK_SECONDS = 1.5


class TickDone(EventData):
    """The test service's own event: a service publishes only events it owns (shared/bus.py), as the reminder
    and digest schedulers publish delegation's and notify's."""

    day: date


EVENTS[(f"{SERVICE}.tick.done", 1)] = TickDone


async def _started(app: web.Application, kind: str) -> int:
    return int(await app[POOL].fetchval("INSERT INTO work (kind) VALUES ($1) RETURNING id", kind))


async def slow(request: web.Request) -> web.Response:
    work = await _started(request.app, "request")
    await asyncio.sleep(WORK_SECONDS)
    await request.app[POOL].execute("UPDATE work SET finished_at = clock_timestamp() WHERE id = $1", work)
    return web.json_response({"finished": work})


async def one(request: web.Request) -> web.Response:
    row = await request.app[POOL].fetchrow("SELECT kind FROM work WHERE id = $1", int(request.match_info["work_id"]))
    if row is None:
        raise web.HTTPNotFound()
    return web.json_response({"kind": row["kind"]})


async def fail(request: web.Request) -> web.Response:
    raise RuntimeError("a bug")  # the problem middleware logs it, inside the request's trace


def routes(app: web.Application) -> None:
    app.router.add_get("/slow", slow)
    app.router.add_get("/fail", fail)
    app.router.add_get("/work/{work_id}", one)


def subscriptions(app: web.Application) -> list[Subscription]:
    async def handle(ctx: MessageContext) -> None:
        work = await _started(app, "message")
        await asyncio.sleep(WORK_SECONDS)
        async with ctx.effect() as conn:
            await conn.execute("UPDATE work SET finished_at = clock_timestamp() WHERE id = $1", work)

    return [Subscription(name=f"{SERVICE}.slow", routing_keys=["identity.user.changed.v1"], handler=handle)]


async def _tick(app: web.Application, now: datetime) -> None:
    """Slow scheduled work whose last step writes an event, as the reminder and digest schedulers do."""
    work = await _started(app, "tick")
    await asyncio.sleep(WORK_SECONDS)
    async with app[POOL].acquire() as conn, conn.transaction():
        await add_event(conn, SERVICE, TickDone(day=now.date()))
        await conn.execute("UPDATE work SET finished_at = clock_timestamp() WHERE id = $1", work)


SPEC = ServiceSpec(name=SERVICE, routes=routes, subscriptions=subscriptions, migrations=MIGRATIONS, internal=False,
                   extra_contexts=[every("lifecycle-tick", lambda app: 0.2, _tick)])

if __name__ == "__main__":
    main(SPEC)
