from __future__ import annotations

from pathlib import Path

from aiohttp import web

from services.pep import children, demo, peps, templates_api
from shared.readmodels import users_only
from shared.service import ServiceSpec
from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    port: int = 8102


def _routes(app: web.Application) -> None:
    app.router.add_routes(children.routes)
    app.router.add_routes(peps.routes)
    app.router.add_routes(templates_api.routes)


SPEC = ServiceSpec(name="pep", settings_class=Settings, routes=_routes, subscriptions=users_only("pep"),
                   migrations=Path(__file__).parent / "migrations", shared_migrations=("bus", "users"),
                   commands={"seed-demo": demo.seed})
