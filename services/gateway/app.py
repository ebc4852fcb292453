from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from services.gateway import forwarding, pep_files, subject_access, views_routes
from services.gateway.cross_site import cross_site_guard
from services.gateway.handlers import CLIENTS, IDENTITY
from services.gateway.settings import GatewaySettings
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


# The gateway's own handlers for the operations it answers itself are bound when these are imported.
OWN_HANDLERS = (pep_files, subject_access, views_routes)


def _routes(app: web.Application) -> None:
    forwarding.add_routes(app)


SPEC = ServiceSpec(name="gateway", settings_class=GatewaySettings, routes=_routes, migrations=None,
                   uses_bus=False, internal=False, extra_contexts=[_clients],
                   middlewares=lambda settings: [cross_site_guard])
