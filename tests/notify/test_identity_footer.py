"""Identity's emails (codes and security notices) carry the footer of the Virtual School they are signed by.

Their events name no LA: the consumer finds the Virtual School from the recipient's account (tested against
Postgres in test_consumers.py); here, that an identity email given one renders its name and contact details.
"""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest

from services.notify import emails, notices
from services.notify.emails import Email
from services.notify.settings import NotifySettings
from shared.contracts import Organisation
from tests.notify import samples

SETTINGS = NotifySettings(portal_url="https://epep.northshire.test/")
SCHOOL = Organisation(name="Eastmoor Virtual School", contact_email="vs@eastmoor.test", contact_phone="01632 960 123")
IDENTITY = [*notices.sign_in_code(samples.sign_in_code(), SETTINGS),
            *(email for purpose in notices.CODE_TEMPLATES
              for email in notices.email_code(samples.email_code(purpose), SETTINGS)),
            *notices.new_sign_in(samples.signed_in(), SETTINGS),
            *notices.account_changed(samples.password_changed(), SETTINGS),
            *notices.account_changed(samples.email_changed(), SETTINGS)]


def parts(email: Email) -> tuple[str, str]:
    message = emails.render(email, delivery_id=uuid.uuid4(), sender=SETTINGS.mail_from,
                            subject=emails.subject_for(email.template, SETTINGS.service_name, email.values),
                            service_name=SETTINGS.service_name)
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    return " ".join(text.get_content().split()), html.get_content()


def test_every_identity_template_is_covered() -> None:
    assert {e.template for e in IDENTITY} == {"sign_in_code", "verify_registration", "change_email",
                                              "reset_password", "new_sign_in", "password_changed", "email_changed"}


@pytest.mark.parametrize("email", IDENTITY, ids=lambda e: f"{e.template}-{e.recipient}")
def test_an_identity_email_given_a_virtual_school_names_it_with_its_contact_details(email: Email) -> None:
    assert email.virtual_school is None  # composing stays pure: the consumer adds the account's Virtual School
    text, html = parts(replace(email, virtual_school=SCHOOL))
    assert ("This email was sent by ePEP on behalf of your Virtual School. Eastmoor Virtual School "
            "Email: vs@eastmoor.test Phone: 01632 960 123") in text
    assert "Eastmoor Virtual School" in html
    assert 'href="mailto:vs@eastmoor.test"' in html and 'href="tel:01632960123"' in html
    # Without one (an address with no account), the footer is just the sentence, as before.
    text, html = parts(email)
    assert text.endswith("This email was sent by ePEP on behalf of your Virtual School.")
    assert "Eastmoor" not in html
