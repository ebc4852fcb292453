"""The delivery log through the gateway: notify decides who may see an LA's emails (its VS admins only)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from services.gateway.forwarding import forward


class Delivery(BaseModel):
    """One email: what kind, to whom, how it went. Never its words, a code or a link."""

    id: str
    template: str
    template_name: str
    recipient: str
    status: str  # created | sending | sent | temporary_failure | permanent_failure
    attempts: int
    error: str | None = None  # the mail server's answer ("SMTP 550") or why it could not be reached
    created_at: str
    sent_at: str | None = None
    updated_at: str
    resent_at: str | None = None
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


tags = ("notifications",)
forward("get", "/organisations/{la_id}/deliveries", "An LA's emails, newest first (VS admin; query: recipient, "
        "template, status, page)", response=DeliveryPage, service="notify", tags=tags)
forward("post", "/organisations/{la_id}/deliveries/{delivery_id}/resend", "Send a failed email again (VS admin)",
        response=Delivery, service="notify", tags=tags)


class NotificationPreferences(BaseModel):
    reminders: Literal["immediate", "daily"] = Field(description="Reminders (due soon, due today, overdue, "
                                                                 "escalated) as they happen, or in one email a day")


forward("get", "/me/notification-preferences", "How I get reminders", response=NotificationPreferences,
        service="notify", tags=tags)
forward("put", "/me/notification-preferences", "Choose how I get reminders (codes and security notices always come "
        "at once)", body=NotificationPreferences, response=NotificationPreferences, service="notify", tags=tags)


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


forward("get", "/email-previews", "Every kind of email, with sample values: subject, text and HTML (VS admin)",
        response=EmailPreviews, service="notify", tags=tags)
