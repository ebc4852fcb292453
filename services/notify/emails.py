"""Rendering an email from a template and the event's data: plain text and HTML, never stored.

Every template is a pair, `<name>.txt` and `<name>.html`, extending `_layout.txt` / `_layout.html` so all
emails share one header and footer. SUBJECTS is the registry of templates: a template without a subject
cannot be sent, and the tests render every one listed here.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from services.notify.wording import london_time
from shared.contracts import Organisation

# StrictUndefined: a value missing from the event fails the render (and the delivery is retried or
# dead-lettered) rather than sending an email with a hole in it.
_env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), undefined=StrictUndefined,
                   autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True,
                   keep_trailing_newline=True)
_env.filters["london_time"] = london_time

# Subjects are stored in the delivery log and shown on lock screens: no personal data in them beyond a child's
# first name and family-name initial ({child}, "Jordan E."), which is how the guides say to refer to a child.
# The body, read by someone who works with the child, names them in full ({{ child_name }}, "Jordan Example").
SUBJECTS = {
    "sign_in_code": "Your {service_name} sign-in code",
    "invitation": "You have been invited to use {service_name}",
    "verify_registration": "Confirm your email address for {service_name}",
    "change_email": "Confirm your new email address for {service_name}",
    "reset_password": "Reset your {service_name} password",
    "new_sign_in": "New sign-in to your {service_name} account",
    "password_changed": "Your {service_name} password has been changed",
    "email_changed": "The email address for your {service_name} account has been changed",
    "meeting_invitation": "Invitation: PEP meeting for {child}",
    "meeting_update": "Updated: PEP meeting for {child}",
    "meeting_cancelled": "Cancelled: PEP meeting for {child}",
    "meeting_reminder": "Reminder: PEP meeting for {child}",
    "pep_submitted": "PEP submitted for {child}",
    "pep_resubmitted": "PEP resubmitted after amendment: {child}",
    "pep_returned": "PEP returned for amendment: {child}",
    "pep_approved": "PEP approved for {child}",
    "pep_finalised": "PEP signed off for {child}",
    "task_assigned": "A PEP task for you: {child}",
    "task_retracted": "Task taken back: PEP for {child}",
    "task_rescheduled": "New due date: PEP task for {child}",
    "task_due_soon": "Due soon: PEP task for {child}",
    "task_due_today": "Due today: PEP task for {child}",
    "task_overdue": "Overdue: PEP task for {child}",
    "task_escalated": "Overdue PEP task for {child}",
    "clock_due_soon": "Due soon: a PEP deadline for {child}",
    "clock_overdue": "Overdue: a PEP deadline for {child}",
    "clock_escalated": "Overdue PEP deadline for {child}",
    "daily_digest": "Your {service_name} reminders for today",
    "funding_approved": "PP+ funding approved for {child}",
    "funding_refused": "PP+ funding refused for {child}",
    "funding_more_information": "More information needed: PP+ funding for {child}",
    "views_invitation": "Tell us what you think: your PEP",
    "views_invitation_carer": "Your views for {child}'s PEP meeting",
    "views_code": "Your code to give your views",
}

# Emails that can be sent again from the delivery log: they carry no code or link token, so what they say is
# kept with the delivery (`payload`). The others cannot be resent: the person asks for a new code instead.
RESENDABLE = frozenset({"meeting_invitation", "meeting_update", "meeting_cancelled", "meeting_reminder",
                        "pep_submitted", "pep_resubmitted", "pep_returned", "pep_approved", "pep_finalised",
                        "task_assigned",
                        "task_retracted", "task_rescheduled", "task_due_soon", "task_due_today", "task_overdue",
                        "task_escalated", "clock_due_soon", "clock_overdue", "clock_escalated", "daily_digest",
                        "funding_approved", "funding_refused",
                        "funding_more_information"})


@dataclass(frozen=True)
class CalendarFile:
    """An iCalendar attachment: `method` is REQUEST or CANCEL, `ics` the file itself."""

    method: str
    ics: bytes


@dataclass(frozen=True)
class Email:
    """One email an event causes: which template, to whom, with what values, from which Virtual School."""

    template: str
    recipient: str
    values: Mapping[str, object] = field(default_factory=dict)
    virtual_school: Organisation | None = None
    calendar: CalendarFile | None = None


def subject_for(template: str, service_name: str, values: Mapping[str, object] | None = None) -> str:
    return SUBJECTS[template].format_map({**(values or {}), "service_name": service_name})


def payload_of(email: Email) -> dict[str, object] | None:
    """What the delivery log keeps to resend an email: nothing for one holding a code or link token."""
    if email.template not in RESENDABLE:
        return None
    return {"values": dict(email.values),
            "virtual_school": email.virtual_school.model_dump() if email.virtual_school else None,
            "calendar": {"method": email.calendar.method, "ics": email.calendar.ics.decode()}
            if email.calendar else None}


def from_payload(template: str, recipient: str, payload: Mapping[str, Any]) -> Email:
    school, calendar = payload.get("virtual_school"), payload.get("calendar")
    values = dict(payload.get("values") or {})
    if "child" in values:
        values.setdefault("child_name", values["child"])  # kept before bodies named the child in full
    return Email(template, recipient, values,
                 virtual_school=Organisation.model_validate(school) if school else None,
                 calendar=CalendarFile(calendar["method"], calendar["ics"].encode()) if calendar else None)


def render(email: Email, *, delivery_id: uuid.UUID, sender: str, subject: str, service_name: str) -> EmailMessage:
    context = {**email.values, "subject": subject, "service_name": service_name,
               "virtual_school": email.virtual_school}
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, email.recipient, subject
    message["Date"] = formatdate(localtime=False)
    # Stable per delivery, so a resend after a lost acknowledgement is recognisably the same message.
    message["Message-ID"] = make_msgid(idstring=delivery_id.hex, domain="epep.invalid")
    message["X-EPEP-Delivery"] = str(delivery_id)
    message.set_content(_env.get_template(f"{email.template}.txt").render(context))
    message.add_alternative(_env.get_template(f"{email.template}.html").render(context), subtype="html")
    if email.calendar is not None:
        # As bytes, so the file's CRLF line ends arrive as RFC 5545 wants them.
        message.add_attachment(email.calendar.ics, maintype="text", subtype="calendar", filename="invite.ics",
                               params={"method": email.calendar.method, "charset": "UTF-8"})
    return message
