from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from aiohttp import web
from pydantic import Field

from services.delegation import (
    caseload,
    clocks,
    erasure,
    funding_tasks,
    in_date,
    prompts,
    reminders,
    review_tasks,
    task_consumers,
    tasks,
    timescales,
)
from shared.bus import Subscription
from shared.readmodels import users_subscription
from shared.service import ServiceSpec
from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    internal_issuer: ClassVar[str | None] = "delegation"  # it calls pep: as itself, or relaying the gateway's token
    port: int = 8103
    pep_url: str = "http://127.0.0.1:8102"  # EPEP_PEP_URL: delegation asks pep whether the caller may see a PEP
    reminder_interval_seconds: float = Field(default=60.0, gt=0)  # how often each replica looks for reminders
    # How often each replica works out every child's PEP clocks for prompts (services/delegation/prompts.py): they
    # change by the day, so minutes are soon enough, and a tick reads every child in care.
    prompt_interval_seconds: float = Field(default=300.0, gt=0)


def _routes(app: web.Application) -> None:
    app.router.add_routes(timescales.routes)
    app.router.add_routes(tasks.routes)
    app.router.add_routes(caseload.routes)
    app.router.add_routes(clocks.routes)
    app.router.add_routes(in_date.routes)
    app.router.add_routes(erasure.routes)  # its part of a child's subject access export


def _subscriptions(app: web.Application) -> list[Subscription]:
    return [users_subscription("delegation"), *task_consumers.subscriptions(), *caseload.subscriptions(),
            *funding_tasks.subscriptions(), *review_tasks.subscriptions(), erasure.subscription,
            *in_date.subscriptions()]


SPEC = ServiceSpec(name="delegation", settings_class=Settings, routes=_routes, subscriptions=_subscriptions,
                   migrations=Path(__file__).parent / "migrations", shared_migrations=("bus", "users"),
                   extra_contexts=[tasks.pep_client, reminders.scheduler, prompts.scheduler])
