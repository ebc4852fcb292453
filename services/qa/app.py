from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from aiohttp import web
from pydantic import Field

from services.qa import dashboard, erasure, funding, readmodels, reviews, timescales
from services.qa.pep_client import pep_client
from shared.bus import Subscription
from shared.readmodels import users_subscription
from shared.service import ServiceSpec
from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    internal_issuer: ClassVar[str | None] = "qa"  # it calls pep: as itself, or relaying the gateway's token
    port: int = 8105
    # EPEP_PEP_URL: qa asks pep, with the caller's own claims, whether they may see a PEP, and takes its actions
    pep_url: str = "http://127.0.0.1:8102"
    # EPEP_TERMLY_PAYMENT_INTERVAL_SECONDS: how often each replica looks for termly PP+ payments to make
    termly_payment_interval_seconds: float = Field(default=300.0, gt=0)


def _routes(app: web.Application) -> None:
    app.router.add_routes(reviews.routes)
    app.router.add_routes(funding.routes)
    app.router.add_routes(dashboard.routes)
    app[dashboard.COUNTED] = dashboard.Counted()
    app.router.add_routes(erasure.routes)  # its part of a child's subject access export


def _subscriptions(app: web.Application) -> list[Subscription]:
    return [users_subscription("qa"), *readmodels.subscriptions(), funding.subscription(), erasure.subscription,
            timescales.subscription()]


SPEC = ServiceSpec(name="qa", settings_class=Settings, routes=_routes, subscriptions=_subscriptions,
                   migrations=Path(__file__).parent / "migrations", shared_migrations=("bus", "users"),
                   extra_contexts=[pep_client, funding.scheduler])
