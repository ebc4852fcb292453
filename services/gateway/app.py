from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from services.gateway import (
    children_routes,
    forwarding,
    identity_routes,
    notify_routes,
    pep_files,
    pep_routes,
    qa_routes,
    subject_access,
    task_routes,
    timescale_routes,
    views_routes,
)
from services.gateway.cross_site import cross_site_guard
from services.gateway.handlers import CLIENTS, IDENTITY, routes
from services.gateway.settings import GatewaySettings
from shared.service import SETTINGS, ServiceSpec
from shared.web import ServiceClient, client_session


async def _clients(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    assert isinstance(settings, GatewaySettings)
    session = client_session()
    urls = {"identity": settings.identity_url, "pep": settings.pep_url, "delegation": settings.delegation_url,
            "notify": settings.notify_url, "qa": settings.qa_url}
    app[CLIENTS] = {name: ServiceClient(name, url, settings.internal_token_keys, session) for name, url in urls.items()}
    app[IDENTITY] = app[CLIENTS]["identity"]
    yield
    await session.close()


# Each of these declares its operations through forwarding.forward() when imported.
FORWARDED = (identity_routes, children_routes, pep_routes, pep_files, notify_routes, timescale_routes, task_routes,
             qa_routes, views_routes)


def _routes(app: web.Application) -> None:
    app.router.add_routes(routes)
    app.router.add_routes(forwarding.routes)
    app.router.add_routes(pep_files.routes)
    app.router.add_routes(qa_routes.routes)  # the PP+ CSV for finance
    app.router.add_routes(subject_access.routes)  # a child's subject access export, from every service


SPEC = ServiceSpec(name="gateway", settings_class=GatewaySettings, routes=_routes, migrations=None,
                   uses_bus=False, internal=False, extra_contexts=[_clients],
                   middlewares=lambda settings: [cross_site_guard])
