"""notify's internal API: the delivery log an LA's Virtual School admins search, and resending a failed email.

Only a VS admin of the LA sees its log; anyone else, another LA's admin included, gets 404. The log says which
email went to whom, its status, attempts and times: never a code, a link token or a message body (they are
not stored: an email is rendered from its event when it is sent).
"""

from __future__ import annotations

import contextlib
import uuid

import asyncpg
from aiohttp import web

from services.notify import directory, emails, previews, sending
from services.notify.consumers import send_delivery
from services.notify.settings import NotifySettings
from shared.api import notifications as api
from shared.api.notifications import Delivery, DeliveryPage, EmailPreviews, TemplateChoice
from shared.authz import not_found, organisations_where, roles_at
from shared.errors import FieldError, Problem
from shared.service import POOL, SETTINGS
from shared.web import CLAIMS, path_uuid, serves

routes = web.RouteTableDef()

PAGE_SIZE = 25
STATUSES = ("created", "sending", "sent", "temporary_failure", "permanent_failure")
FAILED = ("temporary_failure", "permanent_failure")
# What an admin reads in the log: the kind of email, not its words.
TEMPLATE_NAMES = {
    "sign_in_code": "Sign-in code",
    "invitation": "Invitation to register",
    "verify_registration": "Registration email check",
    "change_email": "New email address check",
    "reset_password": "Password reset code",
    "new_sign_in": "New sign-in notice",
    "password_changed": "Password changed notice",
    "email_changed": "Email address changed notice",
    "meeting_invitation": "PEP meeting invitation",
    "meeting_update": "PEP meeting update",
    "meeting_cancelled": "PEP meeting cancellation",
    "meeting_reminder": "PEP meeting reminder",
    "pep_submitted": "PEP submitted",
    "pep_resubmitted": "PEP resubmitted after amendment",
    "pep_returned": "PEP returned for amendment",
    "pep_approved": "PEP approved",
    "pep_finalised": "PEP signed off",
    "task_assigned": "Task assigned",
    "task_retracted": "Task taken back",
    "task_rescheduled": "Task due date changed",
    "task_due_soon": "Task due soon",
    "task_due_today": "Task due today",
    "task_overdue": "Task overdue",
    "task_escalated": "Overdue task escalated",
    "clock_due_soon": "PEP deadline due soon",
    "clock_overdue": "PEP deadline overdue",
    "clock_escalated": "Overdue PEP deadline escalated",
    "daily_digest": "Daily digest of reminders",
    "funding_approved": "PP+ funding approved",
    "funding_refused": "PP+ funding refused",
    "funding_more_information": "PP+ funding: more information needed",
    "views_invitation": "Views invitation to a young person",
    "views_invitation_carer": "Views invitation to a carer",
    "views_code": "Views invitation code",
}


@routes.get("/deliveries/summary")
async def delivery_summary(request: web.Request) -> web.Response:
    """Counts by status: what an operator on call looks at first."""
    if not request[CLAIMS].is_service:
        raise Problem(403, "Forbidden", code="forbidden")
    rows = await request.app[POOL].fetch("SELECT status, count(*) AS n FROM deliveries GROUP BY status")
    return web.json_response({r["status"]: r["n"] for r in rows})


def _admin_la(request: web.Request) -> uuid.UUID:
    la_id = path_uuid(request, "la_id")
    if "vs_admin" not in roles_at(request[CLAIMS], str(la_id)):
        raise not_found("delivery log")
    return la_id


@serves(routes, api.LIST_DELIVERIES)
async def delivery_log(request: web.Request) -> DeliveryPage:
    """An LA's emails, newest first, 25 a page. Query: recipient (part of an address), template, status, page."""
    la_id = _admin_la(request)
    query = request.query
    recipient = query.get("recipient", "").strip()[:254]
    template, status = query.get("template", "").strip(), query.get("status", "").strip()
    errors = []
    if template and template not in TEMPLATE_NAMES:
        errors.append(FieldError(field="template", message="Choose a kind of email from the list"))
    if status and status not in STATUSES:
        errors.append(FieldError(field="status", message="Choose a status from the list"))
    try:
        page = max(1, int(query.get("page", "1")))
    except ValueError:
        errors.append(FieldError(field="page", message="Enter a page number"))
        page = 1
    if errors:
        raise Problem(422, "The request has invalid fields", code="validation", errors=errors)
    where, args = ["tenant = $1"], [str(la_id)]
    if recipient:
        like = recipient.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        args.append(f"%{like}%")
        where.append(f"recipient ILIKE ${len(args)}")
    for column, value in (("template", template), ("status", status)):
        if value:
            args.append(value)
            where.append(f"{column} = ${len(args)}")
    condition = " AND ".join(where)
    pool: asyncpg.Pool = request.app[POOL]
    total = await pool.fetchval(f"SELECT count(*) FROM deliveries WHERE {condition}", *args)  # noqa: S608
    rows = await pool.fetch(
        f"SELECT * FROM deliveries WHERE {condition} ORDER BY created_at DESC, id DESC "  # noqa: S608
        f"LIMIT {PAGE_SIZE} OFFSET {(page - 1) * PAGE_SIZE}", *args)
    return DeliveryPage(
        items=[_entry(r) for r in rows], page=page, pages=max(1, -(-total // PAGE_SIZE)), total=total,
        templates=[TemplateChoice(value=k, name=v) for k, v in TEMPLATE_NAMES.items()], statuses=list(STATUSES))


@serves(routes, api.RESEND_DELIVERY)
async def resend(request: web.Request) -> Delivery:
    """Send a failed email again, now, and answer with how it went.

    Sent here rather than queued because an admin is waiting to see the outcome; the delivery's status
    guard still makes sure a retry from the bus and this cannot both send it. An email that held a code or
    link token cannot be resent (it was never kept, and would be out of date): they ask for a new one."""
    la_id = _admin_la(request)
    pool: asyncpg.Pool = request.app[POOL]
    settings = request.app[SETTINGS]
    assert isinstance(settings, NotifySettings)
    row = await pool.fetchrow("SELECT * FROM deliveries WHERE id = $1 AND tenant = $2",
                              path_uuid(request, "delivery_id"), str(la_id))
    if row is None:
        raise not_found("email")
    if row["payload"] is None:
        raise Problem(409, "This email cannot be sent again", "It held a code or link that works only once. "
                      "Ask the person to request a new one.", code="not_resendable")
    reopened = await pool.fetchrow(
        "UPDATE deliveries SET status = 'created', resent_at = now(), updated_at = now() "
        "WHERE id = $1 AND status = ANY($2::text[]) RETURNING *", row["id"], list(FAILED))
    if reopened is None:
        raise Problem(409, "Only an email that failed can be sent again", code="not_failed",
                      extra={"delivery_status": row["status"]})
    email = emails.from_payload(row["template"], row["recipient"], row["payload"])
    # A temporary failure is recorded on the row: the admin sees "not sent yet" and may try again.
    with contextlib.suppress(sending.TemporaryFailure):
        await send_delivery(pool, settings, row["id"], email, row["subject"], {"resent": True})
    done = await pool.fetchrow("SELECT * FROM deliveries WHERE id = $1", row["id"])
    return _entry(done)


def _entry(row: asyncpg.Record) -> Delivery:
    return Delivery(id=str(row["id"]), template=row["template"],
                    template_name=TEMPLATE_NAMES.get(row["template"], row["template"].replace("_", " ")),
                    recipient=row["recipient"], status=row["status"], attempts=row["attempts"],
                    error=row["last_error"], created_at=row["created_at"], sent_at=row["sent_at"],
                    updated_at=row["updated_at"], resent_at=row["resent_at"],
                    can_resend=row["status"] in FAILED and row["payload"] is not None)


@serves(routes, api.EMAIL_PREVIEWS)
async def email_previews(request: web.Request) -> EmailPreviews:
    """Every kind of email notify sends, rendered from built-in sample values (never anyone's real data): its
    subject, plain text and HTML. For Virtual School admins, with their LA's contact details in the footer;
    anyone else gets 404."""
    claims = request[CLAIMS]
    las = organisations_where(claims, "vs_admin")
    if claims.is_service or not las:
        raise not_found()
    settings = request.app[SETTINGS]
    assert isinstance(settings, NotifySettings)
    school = await directory.virtual_school(request.app[POOL], uuid.UUID(sorted(las)[0]))
    return EmailPreviews(items=[previews.rendered(email, settings, TEMPLATE_NAMES[email.template])
                                for email in previews.one_of_each(settings, school)])
