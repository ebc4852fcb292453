from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from aiohttp import web
from pydantic import Field, SecretStr, model_validator

from services.pep import (
    access_log,
    action_plan,
    attachments,
    child_record,
    children,
    contributions,
    delegations,
    demo,
    exports,
    peps,
    qa_outcomes,
    reached,
    retention,
    subject_access,
    templates_api,
    views_invitations,
)
from shared.api.attachments import ATTACHMENT_MAX_BYTES
from shared.bus import Subscription
from shared.readmodels import users_subscription
from shared.service import ServiceSpec
from shared.settings import ServiceSettings

DEV_VIEWS_CODE_KEY = "dev-views-code-key-not-for-production-use-0001"


class Settings(ServiceSettings):
    holds_message_keys: ClassVar[bool] = True  # the codes and tokens notify emails: shared/sealed.py
    port: int = 8102
    attachment_max_bytes: int = ATTACHMENT_MAX_BYTES  # EPEP_ATTACHMENT_MAX_BYTES
    # The codes that open a views invitation: keyed HMACs ("id:secret"; the first signs, all verify).
    views_code_keys: list[SecretStr] = Field(default_factory=lambda: [SecretStr(f"v1:{DEV_VIEWS_CODE_KEY}")])
    views_code_ttl_seconds: int = 600
    views_code_max_tries: int = 5
    views_codes_per_hour: int = 5
    # How long a code's session lasts (never past the invitation): a young person coming back later enters a
    # new code, and loses nothing, since every answer is saved as they go.
    views_session_seconds: int = 4 * 3600

    @model_validator(mode="after")
    def _views_key_set_in_production(self) -> Settings:
        if self.environment == "production" and any(DEV_VIEWS_CODE_KEY in k.get_secret_value()
                                                    for k in self.views_code_keys):
            raise ValueError("EPEP_VIEWS_CODE_KEYS must be set in production")
        return self
    # How often each replica looks for children whose retention has ended (EPEP_RETENTION_INTERVAL_SECONDS).
    retention_interval_seconds: float = Field(default=3600.0, gt=0)


def _routes(app: web.Application) -> None:
    app.router.add_routes(children.routes)
    app.router.add_routes(child_record.routes)
    app.router.add_routes(action_plan.routes)  # targets raised between PEPs
    app.router.add_routes(access_log.routes)
    app.router.add_routes(subject_access.routes)
    app.router.add_routes(retention.routes)
    app.router.add_routes(peps.routes)
    app.router.add_routes(contributions.routes)  # the LA's rule for when PEPs go to QA
    app.router.add_routes(templates_api.routes)
    app.router.add_routes(attachments.routes)
    app.router.add_routes(exports.routes)
    app.router.add_routes(views_invitations.routes)
    app.router.add_routes(qa_outcomes.routes)  # the QA each PEP carries, and its rating


def _subscriptions(app: web.Application) -> list[Subscription]:
    return [users_subscription("pep"), children.organisations_subscription(), child_record.funding_subscription(),
            delegations.subscription(),
            action_plan.termly_subscription(),
            qa_outcomes.subscription(), retention.subscription]


SPEC = ServiceSpec(name="pep", settings_class=Settings, routes=_routes, subscriptions=_subscriptions,
                   middlewares=lambda settings: [reached.middleware],
                   migrations=Path(__file__).parent / "migrations", shared_migrations=("bus", "users"),
                   extra_contexts=[retention.scheduler], commands={"seed-demo": demo.seed})
