from __future__ import annotations

from pathlib import Path

from aiohttp import web

from services.notify import digest, erasure
from services.notify.consumers import subscriptions
from services.notify.handlers import routes
from services.notify.settings import NotifySettings
from shared.service import ServiceSpec


def _routes(app: web.Application) -> None:
    app.router.add_routes(routes)
    app.router.add_routes(digest.routes)
    app.router.add_routes(erasure.routes)  # its part of a child's subject access export


SPEC = ServiceSpec(name="notify", settings_class=NotifySettings, routes=_routes, subscriptions=subscriptions,
                   migrations=Path(__file__).parent / "migrations", shared_migrations=("bus", "users"),
                   extra_contexts=[digest.scheduler])
