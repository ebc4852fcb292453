"""The delivery log, reminder preferences and email previews: notify decides who may see an LA's emails (its VS
admins only)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from shared.api.operations import Operation, operation


class Delivery(BaseModel):
    """One email: what kind, to whom, how it went. Never its words, a code or a link."""

    id: str
    template: str
    template_name: str
    recipient: str
    status: str  # created | sending | sent | temporary_failure | permanent_failure
    attempts: int
    error: str | None = None  # the mail server's answer ("SMTP 550") or why it could not be reached
    created_at: datetime
    sent_at: datetime | None = None
    updated_at: datetime
    resent_at: datetime | None = None
    can_resend: bool


class TemplateChoice(BaseModel):
    value: str
    name: str


class DeliveryPage(BaseModel):
    items: list[Delivery]
    page: int
    pages: int
    total: int
    templates: list[TemplateChoice]
    statuses: list[str]


class DeliveryQuery(BaseModel):
    recipient: str | None = Field(default=None, max_length=254, description="Part of an address")
    template: str | None = Field(default=None, max_length=60, description="A kind of email")
    status: str | None = Field(default=None, max_length=40)
    page: int = Field(default=1, ge=1)


class NotificationPreferences(BaseModel):
    reminders: Literal["immediate", "daily"] = Field(description="Reminders (due soon, due today, overdue, "
                                                                 "escalated) as they happen, or in one email a day")


class EmailPreview(BaseModel):
    """One kind of email as its recipient gets it, made from sample values (no one's real data)."""

    template: str
    name: str
    subject: str
    text: str
    html: str
    calendar: bool = Field(description="Whether it carries a calendar invitation (invite.ics)")


class EmailPreviews(BaseModel):
    items: list[EmailPreview]


# ---- operations ------------------------------------------------------------------------------------

def _op(id: str, method: str, path: str, summary: str, **options: Any) -> Operation:
    return operation(id, method, path, summary, service="notify", **options)


LIST_DELIVERIES = _op("list_deliveries", "get", "/organisations/{la_id}/deliveries", "An LA's emails, newest first "
                      "(VS admin; query: recipient, template, status, page)", query=DeliveryQuery,
                      response=DeliveryPage, tags=("notifications",))
RESEND_DELIVERY = _op("resend_delivery", "post", "/organisations/{la_id}/deliveries/{delivery_id}/resend", "Send a "
                      "failed email again (VS admin)", response=Delivery, tags=("notifications",))
GET_NOTIFICATION_PREFERENCES = _op("get_notification_preferences", "get", "/me/notification-preferences", "How I get "
                                   "reminders", response=NotificationPreferences, tags=("notifications",))
SET_NOTIFICATION_PREFERENCES = _op("set_notification_preferences", "put", "/me/notification-preferences", "Choose how "
                                   "I get reminders (codes and security notices always come at once)",
                                   body=NotificationPreferences, response=NotificationPreferences,
                                   tags=("notifications",))
EMAIL_PREVIEWS = _op("email_previews", "get", "/email-previews", "Every kind of email, with sample values: subject, "
                     "text and HTML (VS admin)", response=EmailPreviews, tags=("notifications",))
