"""One sample of every event notify turns into email, with values easy to spot in what it sends.

They live in `services.notify.previews`, which the VS admins' preview page shows too: the tests check the very
emails the page shows."""

from __future__ import annotations

from services.notify.directory import Person
from services.notify.previews import (
    CASEWORKER,
    CHILD,
    CHILD_ID,
    DT,
    LA_ID,
    PEP_ID,
    SETTING_ID,
    SW,
    TASK_ID,
    VIRTUAL_SCHOOL,
    WHEN,
    email_changed,
    email_code,
    every_event,
    funding_decided,
    funding_emails,
    invitation,
    meeting_changed,
    password_changed,
    pep_emails,
    sign_in_code,
    signed_in,
    status_changed,
    task_changed,
    task_emails,
    task_reminder,
)

__all__ = ["CASEWORKER", "CHILD", "CHILD_ID", "DT", "LA_ID", "PEP_ID", "SETTING_ID", "SW", "TASK_ID", "VIRTUAL_SCHOOL",
           "WHEN", "Person", "email_changed", "email_code", "every_event", "funding_decided", "funding_emails",
           "invitation", "meeting_changed", "password_changed", "pep_emails", "sign_in_code", "signed_in",
           "status_changed", "task_changed", "task_emails", "task_reminder"]
