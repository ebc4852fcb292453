from __future__ import annotations

from pathlib import Path

from aiohttp import web
from pydantic import Field

from services.pep import (
    access_log,
    attachments,
    child_record,
    children,
    delegations,
    demo,
    exports,
    peps,
    reached,
    retention,
    subject_access,
    templates_api,
)
from shared.api.attachments import ATTACHMENT_MAX_BYTES
from shared.bus import Subscription
from shared.readmodels import users_subscription
from shared.service import ServiceSpec
from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    port: int = 8102
    attachment_max_bytes: int = ATTACHMENT_MAX_BYTES  # EPEP_ATTACHMENT_MAX_BYTES
    # How often each replica looks for children whose retention has ended (EPEP_RETENTION_INTERVAL_SECONDS).
    retention_interval_seconds: float = Field(default=3600.0, gt=0)


def _routes(app: web.Application) -> None:
    app.router.add_routes(children.routes)
    app.router.add_routes(child_record.routes)
    app.router.add_routes(access_log.routes)
    app.router.add_routes(subject_access.routes)
    app.router.add_routes(retention.routes)
    app.router.add_routes(peps.routes)
    app.router.add_routes(templates_api.routes)
    app.router.add_routes(attachments.routes)
    app.router.add_routes(exports.routes)


def _subscriptions(app: web.Application) -> list[Subscription]:
    return [users_subscription("pep"), child_record.funding_subscription(), delegations.subscription()]


SPEC = ServiceSpec(name="pep", settings_class=Settings, routes=_routes, subscriptions=_subscriptions,
                   middlewares=lambda settings: [reached.middleware],
                   migrations=Path(__file__).parent / "migrations", shared_migrations=("bus", "users"),
                   extra_contexts=[retention.scheduler], commands={"seed-demo": demo.seed})
