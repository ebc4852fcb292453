from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from services.gateway import identity_routes
from services.gateway.handlers import IDENTITY, routes
from services.gateway.settings import GatewaySettings
from shared.service import SETTINGS, ServiceSpec
from shared.web import ServiceClient, client_session


async def _clients(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    assert isinstance(settings, GatewaySettings)
    session = client_session()
    app[IDENTITY] = ServiceClient("identity", settings.identity_url, settings.internal_token_keys, session)
    yield
    await session.close()


def _routes(app: web.Application) -> None:
    app.router.add_routes(routes)
    app.router.add_routes(identity_routes.routes)


SPEC = ServiceSpec(name="gateway", settings_class=GatewaySettings, routes=_routes, migrations=None,
                   uses_bus=False, internal=False, extra_contexts=[_clients])
