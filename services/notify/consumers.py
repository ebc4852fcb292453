"""notify's event handlers: each event becomes one or more delivery rows, then emails.

One consumer (one quorum queue) per event type, so a flood of one kind of email never holds up another:
a security notice such as a new sign-in is always sent straight away, never batched or delayed behind
anything else.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from typing import TypeVar

from aiohttp import web
from pydantic import ValidationError

from services.notify import emails, notices, sending
from services.notify.emails import Email
from services.notify.settings import NotifySettings
from shared.bus import MessageContext, PermanentError, Subscription
from shared.contracts import (
    AccountChanged,
    EmailCodeIssued,
    EventData,
    InvitationCreated,
    SignedIn,
    SignInCodeIssued,
    event_type_of,
    parse_data,
)
from shared.readmodels import users_subscription
from shared.service import SETTINGS

log = logging.getLogger(__name__)

E = TypeVar("E", bound=EventData)


async def deliver(ctx: MessageContext, settings: NotifySettings, outgoing: Sequence[Email]) -> None:
    """Exactly one email per (event, recipient, template), however often the event is delivered.

    Each email's delivery row is created idempotently and its send is guarded by the row's status. If any
    email fails for now, the others are still tried, then the failure is raised so the bus retries the
    event after a delay (and only what is still unsent goes out then). The inbox row is written only once
    every email's outcome is final: written earlier, a retry would be skipped and an email lost.
    """
    not_yet: list[sending.TemporaryFailure] = []
    for email in outgoing:
        try:
            await _send_once(ctx, settings, email)
        except sending.TemporaryFailure as exc:
            not_yet.append(exc)
    if not_yet:
        raise not_yet[0]
    async with ctx.effect():
        pass


async def _send_once(ctx: MessageContext, settings: NotifySettings, email: Email) -> None:
    subject = emails.subject_for(email.template, settings.service_name)
    delivery_id: uuid.UUID = await ctx.pool.fetchval(
        "INSERT INTO deliveries (id, event_id, recipient, template, subject, tenant) VALUES ($1, $2, $3, $4, $5, $6) "
        "ON CONFLICT (event_id, recipient, template) DO UPDATE SET updated_at = deliveries.updated_at "
        "RETURNING id", uuid.uuid4(), ctx.envelope.event_id, email.recipient, email.template, subject,
        ctx.envelope.tenant)
    fields = {"delivery_id": str(delivery_id), "template": email.template, "event_id": str(ctx.envelope.event_id)}
    # Rendered before claiming, so a template error cannot leave the row marked as being sent.
    message = emails.render(email, delivery_id=delivery_id, sender=settings.mail_from, subject=subject,
                            service_name=settings.service_name)
    if not await sending.claim(ctx.pool, delivery_id, settings.sending_lease_seconds):
        if await sending.in_flight(ctx.pool, delivery_id):
            # A redelivery racing the first delivery, which is sending it right now. Its outcome is not
            # known yet (it may fail and need a retry), so come back later rather than record the event.
            raise sending.TemporaryFailure("being sent by another worker")
        return  # sent, or refused for good, by an earlier delivery of this event
    try:
        await sending.smtp_send(settings, message)
    except sending.TemporaryFailure as exc:
        await sending.mark(ctx.pool, delivery_id, "temporary_failure", str(exc))
        log.warning("email not sent yet", extra={**fields, "error": str(exc), "attempt": ctx.attempt})
        raise
    except sending.PermanentFailure as exc:
        await sending.mark(ctx.pool, delivery_id, "permanent_failure", str(exc))
        log.error("email refused", extra={**fields, "error": str(exc)})
    else:
        await sending.mark(ctx.pool, delivery_id, "sent")
        log.info("email sent", extra=fields)


def _consumer(name: str, model: type[E], compose: Callable[[E, NotifySettings], list[Email]],
              settings: NotifySettings) -> Subscription:
    """A queue for one event type whose handler sends what `compose` says that event becomes."""
    event_type, version = event_type_of(model)

    async def handle(ctx: MessageContext) -> None:
        try:
            data = parse_data(ctx.envelope)
            if not isinstance(data, model):
                raise TypeError(f"{ctx.envelope.routing_key} is not {model.__name__}")
            outgoing = compose(data, settings)
        except (ValidationError, TypeError, notices.UnknownNotice) as exc:
            # Retrying cannot make this event sendable: straight to the dead-letter queue for an operator.
            # A validation error's text can quote the event's data (a code), so only its type is logged.
            reason = str(exc) if isinstance(exc, notices.UnknownNotice) else type(exc).__name__
            log.error("event cannot become an email", extra={"consumer": name, "reason": reason,
                                                             "event_id": str(ctx.envelope.event_id)})
            raise PermanentError(reason) from exc
        await deliver(ctx, settings, outgoing)

    return Subscription(name=name, routing_keys=[f"{event_type}.v{version}"], handler=handle)


def subscriptions_for(settings: NotifySettings) -> list[Subscription]:
    """Every consumer notify runs. Queue names start with `notify.`; renaming one orphans its queue."""
    return [
        _consumer("notify.sign_in_code", SignInCodeIssued, notices.sign_in_code, settings),
        _consumer("notify.invitations", InvitationCreated, notices.invitation, settings),
        _consumer("notify.email_codes", EmailCodeIssued, notices.email_code, settings),
        _consumer("notify.new_sign_ins", SignedIn, notices.new_sign_in, settings),
        _consumer("notify.account_changes", AccountChanged, notices.account_changed, settings),
        users_subscription("notify"),
    ]


def subscriptions(app: web.Application) -> list[Subscription]:
    """The service runner's hook: the same consumers, with the settings the app was built with."""
    settings = app[SETTINGS]
    assert isinstance(settings, NotifySettings)
    return subscriptions_for(settings)
