from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from services.gateway import forwarding, pep_files, subject_access, views_routes
from services.gateway.cross_site import cross_site_guard
from services.gateway.handlers import CLIENTS, GATEWAY, IDENTITY, SESSIONS, identity_writes_drop_held_sessions
from services.gateway.sessions import Sessions
from services.gateway.settings import GatewaySettings
from shared.api.sessions import TOUCH_PATH, SessionTouches
from shared.service import SETTINGS, ServiceSpec
from shared.web import ServiceClient, client_session


async def _clients(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    assert isinstance(settings, GatewaySettings)
    session = client_session()
    urls = {"identity": settings.identity_url, "pep": settings.pep_url, "delegation": settings.delegation_url,
            "notify": settings.notify_url, "qa": settings.qa_url}
    app[CLIENTS] = {name: ServiceClient(name, url, settings.internal_signer(), session) for name, url in urls.items()}
    app[IDENTITY] = app[CLIENTS]["identity"]
    yield
    await session.close()


async def _sessions(app: web.Application) -> AsyncIterator[None]:
    """Sessions held in this process, kept honest by identity's events, their idle-clock restarts sent in batches
    (sessions.py). With EPEP_SESSION_CACHE_SECONDS=0 nothing is held and no broker connection is made."""
    settings = app[SETTINGS]
    assert isinstance(settings, GatewaySettings)
    sessions = Sessions(settings, settings.session_cache_seconds, settings.session_cache_max_entries,
                        settings.session_touch_flush_seconds)
    app[SESSIONS] = sessions

    async def send(batch: SessionTouches) -> None:
        await app[IDENTITY].call("POST", TOUCH_PATH, GATEWAY, json_body=batch.model_dump(mode="json"))

    tasks = [asyncio.create_task(sessions.listen(), name="gateway-session-events"),
             asyncio.create_task(sessions.send_touches(send), name="gateway-session-touches")] \
        if sessions.enabled else []
    yield
    sessions.stop()
    if tasks:
        await asyncio.wait(tasks, timeout=settings.bus_publish_timeout)
    for task in tasks:
        task.cancel()
    await sessions.flush(send)  # the last restarts, so identity sees this process's last requests


# The gateway's own handlers for the operations it answers itself are bound when these are imported.
OWN_HANDLERS = (pep_files, subject_access, views_routes)


def _routes(app: web.Application) -> None:
    forwarding.add_routes(app)


SPEC = ServiceSpec(name="gateway", settings_class=GatewaySettings, routes=_routes, migrations=None,
                   uses_bus=False, internal=False, extra_contexts=[_clients, _sessions],
                   middlewares=lambda settings: [cross_site_guard, identity_writes_drop_held_sessions])
