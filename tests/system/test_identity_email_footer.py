"""Identity's emails through the whole system: a sign-in code and the new-sign-in notice name the Virtual School of
the account they go to, from notify's read models, like every PEP email does."""

from __future__ import annotations

import time
from email.message import EmailMessage

import pytest

from tests.conftest import RunningSystem

FOOTER = "This email was sent by ePEP on behalf of your Virtual School."


def text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return " ".join(body.get_content().split())


def known_to_notify(system: RunningSystem, email: str, timeout: float = 30.0) -> None:
    """notify keeps its read models from identity's events: wait until it knows this person and their LA."""
    deadline = time.monotonic() + timeout
    while not system.admin_sql(
            "SELECT 1 FROM notify.users u CROSS JOIN LATERAL jsonb_array_elements(u.memberships) m "
            "JOIN notify.organisations o ON o.id::text = m->>'organisation_id' "
            "JOIN notify.organisations la ON la.id = coalesce(o.la_id, o.id) WHERE lower(u.email) = lower($1)", email):
        assert time.monotonic() < deadline, f"notify never heard of {email}"
        time.sleep(0.1)


def sent_since(system: RunningSystem, to: str, since: float, subject: str, timeout: float = 30.0) -> EmailMessage:
    deadline = time.monotonic() + timeout
    while not (found := [m for m in system.mailbox.messages(to, since) if str(m["Subject"]) == subject]):
        assert time.monotonic() < deadline, f"no {subject!r} to {to}"
        time.sleep(0.1)
    return found[-1]


@pytest.mark.parametrize(("email", "footer"), [
    ("dt@demo.test", "Demo Virtual School Email: virtual.school@demo.test Phone: 01632 960000"),
    ("admin@northshire.test", "Northshire Virtual School Email: virtual.school@northshire.test"),
])
def test_a_sign_in_code_and_the_new_sign_in_notice_name_the_accounts_virtual_school(
        system: RunningSystem, email: str, footer: str) -> None:
    known_to_notify(system, email)
    since = time.time()
    system.sign_in(email)  # reads the code from the sign-in code email

    code_email = sent_since(system, email, since, "Your ePEP sign-in code")
    text = text_of(code_email)
    assert f"{FOOTER} {footer}" in text
    assert text.endswith(footer)  # nobody else's details after it (Northshire has no phone number)
    html = code_email.get_body(("html",))
    assert html is not None and footer.split(" Email: ")[0] in html.get_content()

    notice = sent_since(system, email, since, "New sign-in to your ePEP account")
    assert text_of(notice).endswith(f"{FOOTER} {footer}")
