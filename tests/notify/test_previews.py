"""The preview page's emails: one of every template, rendered as sent, from the admin's own Virtual School."""

from __future__ import annotations

from services.notify import emails, previews
from services.notify.handlers import TEMPLATE_NAMES
from services.notify.settings import NotifySettings
from shared.contracts import Organisation

SETTINGS = NotifySettings(portal_url="https://epep.northshire.test/")


def test_there_is_a_preview_of_every_template_in_the_order_of_the_registry() -> None:
    shown = previews.one_of_each(SETTINGS)
    assert [e.template for e in shown] == list(emails.SUBJECTS) == list(TEMPLATE_NAMES)


def test_each_preview_is_the_email_as_sent_with_the_admins_own_virtual_school() -> None:
    school = Organisation(name="Southshire Virtual School", contact_email="vs@southshire.test", contact_phone=None)
    for email in previews.one_of_each(SETTINGS, school):
        page = previews.rendered(email, SETTINGS, TEMPLATE_NAMES[email.template])
        assert page.subject == emails.subject_for(email.template, "ePEP", email.values)
        assert page.name == TEMPLATE_NAMES[email.template]
        assert "Southshire Virtual School" in page.text and "vs@southshire.test" in page.html
        assert page.html.lstrip().lower().startswith("<!doctype html>")
        assert "{{" not in page.text and "{{" not in page.html
    meeting = next(e for e in previews.one_of_each(SETTINGS) if e.template == "meeting_invitation")
    assert previews.rendered(meeting, SETTINGS, "PEP meeting invitation").calendar is True
