from __future__ import annotations

from pathlib import Path

from aiohttp import web

from services.identity import account, admin, demo, session_rules
from services.identity.handlers import routes
from services.identity.settings import IdentitySettings
from shared.service import ServiceSpec


def _routes(app: web.Application) -> None:
    app.router.add_routes(routes)
    app.router.add_routes(account.routes)
    app.router.add_routes(admin.routes)
    app.router.add_routes(session_rules.routes)


SPEC = ServiceSpec(name="identity", settings_class=IdentitySettings, routes=_routes,
                   migrations=Path(__file__).parent / "migrations",
                   commands={"seed-demo": demo.seed})
