"""notify's event handlers: each event becomes one or more delivery rows, then emails.

One consumer (one quorum queue) per event type, so a flood of one kind of email never holds up another:
a security notice such as a new sign-in is always sent straight away, never batched or delayed behind
anything else.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import asyncpg
from aiohttp import web
from pydantic import ValidationError

from services.notify import (
    clock_notices,
    digest,
    directory,
    emails,
    erasure,
    funding_notices,
    meeting_reminders,
    notices,
    pep_notices,
    sending,
    task_notices,
    views_notices,
)
from services.notify.emails import Email
from services.notify.settings import NotifySettings
from shared.bus import MessageContext, PermanentError, Subscription, subscribe
from shared.contracts import (
    AccountChanged,
    DigestDue,
    EmailCodeIssued,
    EventData,
    FundingDecided,
    InvitationCreated,
    MeetingReminderDue,
    Organisation,
    PepClockPrompt,
    PepMeetingChanged,
    PepStatusChanged,
    ReviewDecided,
    SignedIn,
    SignInCodeIssued,
    TaskChanged,
    TaskReminder,
    ViewsCodeIssued,
    ViewsInvitationSent,
)
from shared.db import DATABASE_AWAY_OR_CLOSED, until_database_back
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
    subject = emails.subject_for(email.template, settings.service_name, email.values)
    delivery_id: uuid.UUID = await ctx.pool.fetchval(
        "INSERT INTO deliveries (id, event_id, recipient, template, subject, tenant, payload) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7) "
        "ON CONFLICT (event_id, recipient, template) DO UPDATE SET updated_at = deliveries.updated_at "
        "RETURNING id", uuid.uuid4(), ctx.envelope.event_id, email.recipient, email.template, subject,
        ctx.envelope.tenant, emails.payload_of(email))
    outcome = await send_delivery(ctx.pool, settings, delivery_id, email, subject,
                                  {"event_id": str(ctx.envelope.event_id), "attempt": ctx.attempt})
    if outcome == "in_flight":
        # A redelivery racing the first delivery, which is sending it right now. Its outcome is not
        # known yet (it may fail and need a retry), so come back later rather than record the event.
        raise sending.TemporaryFailure("being sent by another worker")


async def send_delivery(pool: asyncpg.Pool, settings: NotifySettings, delivery_id: uuid.UUID, email: Email,
                        subject: str, log_fields: dict[str, object]) -> str:
    """Send one delivery row's email behind its status guard. Returns the outcome: sent, permanent_failure,
    done (sent or refused earlier), or in_flight (another worker holds it); raises TemporaryFailure."""
    fields = {"delivery_id": str(delivery_id), "template": email.template, **log_fields}
    # Rendered before claiming, so a template error cannot leave the row marked as being sent.
    message = emails.render(email, delivery_id=delivery_id, sender=settings.mail_from, subject=subject,
                            service_name=settings.service_name)
    if not await _claim(pool, settings, delivery_id):
        return "in_flight" if await sending.in_flight(pool, delivery_id) else "done"
    try:
        await sending.smtp_send(settings, message)
    except sending.TemporaryFailure as exc:
        await sending.mark(pool, delivery_id, "temporary_failure", str(exc))
        log.warning("email not sent yet", extra={**fields, "error": str(exc)})
        raise
    except sending.PermanentFailure as exc:
        await sending.mark(pool, delivery_id, "permanent_failure", str(exc))
        log.error("email refused", extra={**fields, "error": str(exc)})
        return "permanent_failure"
    await _record_sent(pool, delivery_id, fields)
    log.info("email sent", extra=fields)
    return "sent"


async def _claim(pool: asyncpg.Pool, settings: NotifySettings, delivery_id: uuid.UUID) -> bool:
    """Claim the delivery; False only once its outcome is final or another worker holds it right now.

    A claim that fails because another worker holds the row can meet that worker letting go a moment later
    (its send failed for now: temporary_failure). That is neither final nor in flight: read as "done", the event
    would be recorded and the other worker's retry skipped, leaving the email unsent (found by make chaos). So
    the claim is taken again."""
    while not await sending.claim(pool, delivery_id, settings.sending_lease_seconds):
        if await sending.status(pool, delivery_id) not in sending.RELEASED:
            return False
    return True


async def _record_sent(pool: asyncpg.Pool, delivery_id: uuid.UUID, fields: dict[str, object],
                       patience: float = 60.0) -> None:
    """The email has gone, so recording it must outlast a moment without the database (a Postgres restart):
    left `sending`, the row would make the event's retry wait out the lease and then send the email again."""
    await until_database_back(lambda: sending.mark(pool, delivery_id, "sent"), "email sent but", fields,
                              retry_on=(OSError, asyncpg.PostgresError, *DATABASE_AWAY_OR_CLOSED), patience=patience)


def _consumer(name: str, model: type[E], compose: Callable[[E, NotifySettings], list[Email]],
              settings: NotifySettings, *, signed_by_account: bool = False) -> Subscription:
    """A queue for one event type whose handler sends what `compose` says that event becomes.

    `signed_by_account`: the event names no LA (identity's codes and security notices), so each email
    that names no Virtual School is given the one of the account it goes to, if there is one."""

    async def handle(ctx: MessageContext, data: E) -> None:
        try:
            outgoing = compose(data, settings)
        except (ValidationError, TypeError, notices.UnknownNotice) as exc:
            # Retrying cannot make this event sendable: straight to the dead-letter queue for an operator.
            # A validation error's text can quote the event's data (a code), so only its type is logged.
            reason = str(exc) if isinstance(exc, notices.UnknownNotice) else type(exc).__name__
            log.error("event cannot become an email", extra={"consumer": name, "reason": reason,
                                                             "event_id": str(ctx.envelope.event_id)})
            raise PermanentError(reason) from exc
        if signed_by_account:
            outgoing = await _signed_by_account(ctx.pool, getattr(data, "user_id", None), outgoing)
        await deliver(ctx, settings, outgoing)

    return subscribe(name, model, handle)


async def _signed_by_account(pool: asyncpg.Pool, user_id: uuid.UUID | None,
                             outgoing: Sequence[Email]) -> list[Email]:
    """Each email without a Virtual School, with that of the account its address (or the event's user) belongs to.

    An address with no account (a registration's check, before the account exists; a new address being
    confirmed) stays without one, as before."""
    found: dict[str, Organisation | None] = {}
    signed = []
    for email in outgoing:
        if email.virtual_school is None:
            key = email.recipient.casefold()
            if key not in found:
                found[key] = await directory.account_virtual_school(pool, email.recipient, user_id)
            email = dataclasses.replace(email, virtual_school=found[key])
        signed.append(email)
    return signed


# ---- PEP events: addressed from notify's read models ---------------------------------------------------------


def _pep_consumer(name: str, model: type[E],
                  compose: Callable[[MessageContext, E, NotifySettings], Awaitable[list[Email]]],
                  settings: NotifySettings) -> Subscription:
    """A queue for one event about a PEP, a task or a child, addressed from notify's read models."""
    async def handle(ctx: MessageContext, data: E) -> None:
        # directory.ChildNotKnownYet propagates: the event is retried after the bus's delays, by when the
        # child's own event (on another queue) has normally arrived.
        await deliver(ctx, settings, await compose(ctx, data, settings))
    return subscribe(name, model, handle)


async def _meeting_emails(ctx: MessageContext, data: PepMeetingChanged, settings: NotifySettings) -> list[Email]:
    pool = ctx.pool
    child = await directory.child(pool, data.child_id)
    setting_id = data.setting_id or child.setting_id
    people = [p for p in [await directory.person(pool, child.social_worker_id)] if p is not None]
    people += await directory.people_with_role(pool, setting_id, "designated_teacher")
    recipients = pep_notices.meeting_recipients(data.invitees, people)
    decided = await _meeting_version(pool, data, recipients)
    if decided is None:
        log.info("older meeting change skipped", extra={"event_id": str(ctx.envelope.event_id)})
        return []
    return pep_notices.meeting_emails(
        data, child=child, recipients=recipients, previous=decided[-1] if decided else None,
        ever_invited=frozenset().union(*(v.invited for v in decided)),
        virtual_school=await directory.virtual_school(pool, data.la_id), settings=settings,
        stamp=ctx.envelope.occurred_at)


async def _meeting_version(pool: asyncpg.Pool, data: PepMeetingChanged,
                           recipients: list[pep_notices.Recipient]) -> list[pep_notices.MeetingVersion] | None:
    """Record this change's version and return the versions before it, which its emails are decided from; None if
    a newer change came first (this one is skipped).

    Decided once, so that each retry of the event decides exactly as its first attempt did: one change of a PEP's
    meeting at a time (a lock held until this version is recorded). Two changes handled at once used to both find
    no version yet and both record theirs; the later one's retry then found the earlier one, sent an update in
    place of its invitation, and the invitation the mail server had been away for stayed unsent for ever. Now a
    change that finds a newer one recorded is skipped, and once a version is recorded no older change is, so the
    versions before it never change.

    A retry of a change whose version was recorded before a newer one came is not skipped: its emails started
    before the newer one's, and skipped, those the mail server was away for would stay unsent."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('notify meeting ' || $1::text, 0))",
                           str(data.pep_id))
        versions = [pep_notices.MeetingVersion(r["sequence"], r["meeting_date"], r["meeting_time"], r["location"],
                                               frozenset(r["invited"]))
                    for r in await conn.fetch("SELECT * FROM meeting_versions WHERE pep_id = $1 ORDER BY sequence",
                                              data.pep_id)]
        retried = any(v.sequence == data.sequence for v in versions)
        if not retried:
            if any(v.sequence > data.sequence for v in versions):
                return None
            await conn.execute(
                "INSERT INTO meeting_versions (pep_id, sequence, meeting_date, meeting_time, location, invited, "
                "cancelled, child_id, la_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)", data.pep_id,
                data.sequence, data.meeting_date, data.meeting_time, data.location,
                sorted({r.key for r in recipients}), data.change == "cancelled", data.child_id, data.la_id)
    return [v for v in versions if v.sequence < data.sequence]


async def _on_review_decided(ctx: MessageContext, data: ReviewDecided) -> None:
    """Keep the grade QA gave each PEP, for the emails that say it. An older event never overwrites a newer."""
    async with ctx.effect() as conn:
        await conn.execute(
            "INSERT INTO pep_ratings (pep_id, grade_label, decided_at) VALUES ($1, $2, $3) ON CONFLICT (pep_id) "
            "DO UPDATE SET grade_label = $2, decided_at = $3 WHERE pep_ratings.decided_at <= $3",
            data.pep_id, data.grade_label, ctx.envelope.occurred_at)


async def _status_emails(ctx: MessageContext, data: PepStatusChanged, settings: NotifySettings) -> list[Email]:
    if data.status not in pep_notices.STATUS_TEMPLATES:
        return []
    pool = ctx.pool
    child = await directory.child(pool, data.child_id)
    recipients = pep_notices.status_recipients(
        data, social_worker=await directory.person(pool, child.social_worker_id),
        designated_teachers=await directory.people_with_role(pool, data.setting_id or child.setting_id,
                                                             "designated_teacher"),
        virtual_school_staff=await directory.people_with_role(pool, data.la_id, "vs_caseworker", "vs_admin"))
    by = await directory.person(pool, data.by_user)
    rating = await pool.fetchval("SELECT grade_label FROM pep_ratings WHERE pep_id = $1", data.pep_id)
    return pep_notices.status_emails(data, child=child, recipients=recipients, rating=rating or "",
                                     by_name=f"{by.given_name} {by.family_name}" if by else "",
                                     virtual_school=await directory.virtual_school(pool, data.la_id),
                                     settings=settings)


async def _views_invitation_emails(ctx: MessageContext, data: ViewsInvitationSent,
                                   settings: NotifySettings) -> list[Email]:
    """A views invitation's link, from the child's LA's Virtual School."""
    return views_notices.views_invitation(data, settings, await directory.virtual_school(ctx.pool, data.la_id))


async def _views_code_emails(ctx: MessageContext, data: ViewsCodeIssued, settings: NotifySettings) -> list[Email]:
    """The code that opens a views invitation, from the child's LA's Virtual School."""
    return views_notices.views_code(data, settings, await directory.virtual_school(ctx.pool, data.la_id))


def subscriptions_for(settings: NotifySettings) -> list[Subscription]:
    """Every consumer notify runs. Queue names start with `notify.`; renaming one orphans its queue."""
    return [
        _consumer("notify.sign_in_code", SignInCodeIssued, notices.sign_in_code, settings, signed_by_account=True),
        _consumer("notify.invitations", InvitationCreated, notices.invitation, settings),
        _consumer("notify.email_codes", EmailCodeIssued, notices.email_code, settings, signed_by_account=True),
        _consumer("notify.new_sign_ins", SignedIn, notices.new_sign_in, settings, signed_by_account=True),
        _consumer("notify.account_changes", AccountChanged, notices.account_changed, settings, signed_by_account=True),
        _pep_consumer("notify.pep_meetings", PepMeetingChanged, _meeting_emails, settings),
        _pep_consumer("notify.pep_workflow", PepStatusChanged, _status_emails, settings),
        _pep_consumer("notify.tasks", TaskChanged, task_notices.task_changed, settings),
        _pep_consumer("notify.task_reminders", TaskReminder, task_notices.task_reminder, settings),
        _pep_consumer("notify.clock_prompts", PepClockPrompt, clock_notices.clock_prompt, settings),
        subscribe("notify.pep_ratings", ReviewDecided, _on_review_decided),
        _pep_consumer("notify.digests", DigestDue, digest.digest_emails, settings),
        _pep_consumer("notify.funding_decisions", FundingDecided, funding_notices.funding_decided, settings),
        _pep_consumer("notify.meeting_reminders", MeetingReminderDue, meeting_reminders.reminder_emails, settings),
        # A code is waited for on a page: its own queue, so it never waits behind an invitation or anything else.
        _pep_consumer("notify.views_invitations", ViewsInvitationSent, _views_invitation_emails, settings),
        _pep_consumer("notify.views_codes", ViewsCodeIssued, _views_code_emails, settings),
        users_subscription("notify"),
        *directory.subscriptions(),
        erasure.subscription,
    ]


def subscriptions(app: web.Application) -> list[Subscription]:
    """The service runner's hook: the same consumers, with the settings the app was built with."""
    settings = app[SETTINGS]
    assert isinstance(settings, NotifySettings)
    return subscriptions_for(settings)
