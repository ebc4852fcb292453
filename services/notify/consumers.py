"""notify's event handlers: each event becomes a delivery row, then an email."""

from __future__ import annotations

import logging
import uuid

from aiohttp import web

from services.notify import emails, sending
from services.notify.settings import NotifySettings
from shared.bus import MessageContext, Subscription
from shared.contracts import SignInCodeIssued, parse_data
from shared.readmodels import users_subscription
from shared.service import SETTINGS

log = logging.getLogger(__name__)


async def deliver(ctx: MessageContext, settings: NotifySettings, template: str, recipient: str,
                  values: dict[str, object]) -> None:
    """Exactly one email per (event, recipient, template), however often the event is delivered.

    The delivery row is created idempotently; the send is guarded by its status; a temporary failure raises,
    so the bus retries the event after a delay; the inbox row is written only once the outcome is final.
    """
    subject = emails.subject_for(template, settings.service_name)
    delivery_id = await ctx.pool.fetchval(
        "INSERT INTO deliveries (id, event_id, recipient, template, subject, tenant) VALUES ($1, $2, $3, $4, $5, $6) "
        "ON CONFLICT (event_id, recipient, template) DO UPDATE SET updated_at = deliveries.updated_at "
        "RETURNING id", uuid.uuid4(), ctx.envelope.event_id, recipient, template, subject, ctx.envelope.tenant)
    if await sending.claim(ctx.pool, delivery_id, settings.sending_lease_seconds):
        message = emails.render(template, delivery_id, settings.mail_from, recipient, subject,
                                {**values, "service_name": settings.service_name})
        try:
            await sending.smtp_send(settings, message)
        except sending.TemporaryFailure as exc:
            await sending.mark(ctx.pool, delivery_id, "temporary_failure", str(exc))
            log.warning("email not sent yet", extra={"delivery_id": str(delivery_id), "template": template,
                                                     "error": str(exc), "attempt": ctx.attempt})
            raise
        except sending.PermanentFailure as exc:
            await sending.mark(ctx.pool, delivery_id, "permanent_failure", str(exc))
            log.error("email refused", extra={"delivery_id": str(delivery_id), "template": template,
                                              "error": str(exc)})
        else:
            await sending.mark(ctx.pool, delivery_id, "sent")
            log.info("email sent", extra={"delivery_id": str(delivery_id), "template": template})
    async with ctx.effect():
        pass


def _settings(app: web.Application) -> NotifySettings:
    settings = app[SETTINGS]
    assert isinstance(settings, NotifySettings)
    return settings


def subscriptions(app: web.Application) -> list[Subscription]:
    settings = _settings(app)

    async def on_sign_in_code(ctx: MessageContext) -> None:
        data = parse_data(ctx.envelope)
        assert isinstance(data, SignInCodeIssued)
        await deliver(ctx, settings, "sign_in_code", data.email, {"given_name": data.given_name, "code": data.code})

    return [
        Subscription(name="notify.sign_in_code", routing_keys=["identity.sign_in_code.issued.v1"],
                     handler=on_sign_in_code),
        users_subscription("notify"),
    ]
