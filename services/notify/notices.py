"""Which emails each event becomes: pure functions from an event's data to the emails to send, no I/O.

A function raises UnknownNotice when the event asks for something this version of notify cannot say
(a new code purpose, a new kind of account change); the consumer dead-letters it so an operator can
replay it once notify has learned the new template, instead of it being retried for nothing or lost.
"""

from __future__ import annotations

from urllib.parse import quote

from services.notify.emails import Email
from services.notify.settings import NotifySettings
from services.notify.wording import role_in_words
from shared.contracts import AccountChanged, EmailCodeIssued, InvitationCreated, SignedIn, SignInCodeIssued

# Each purpose of an emailed code has its own template (and so its own subject and wording).
CODE_TEMPLATES = {
    "verify_registration": "verify_registration",
    "change_email": "change_email",
    "reset_password": "reset_password",
}


# The portal's page for resetting a forgotten password, linked from every security notice.
RESET_PASSWORD_PATH = "/forgotten-password"


class UnknownNotice(ValueError):
    """The event is valid but names a purpose or change notify has no template for."""


def sign_in_code(data: SignInCodeIssued, settings: NotifySettings) -> list[Email]:
    return [Email("sign_in_code", data.email, {"given_name": data.given_name, "code": data.code})]


def invitation(data: InvitationCreated, settings: NotifySettings) -> list[Email]:
    # The link opens a page that shows the invitation; only that page's button (a POST) uses the token,
    # so a mail scanner following links cannot use it up.
    link = f"{_portal(settings)}/invitations/{quote(data.token, safe='')}"
    return [Email("invitation", data.email, {
        "given_name": data.given_name,
        "invited_by_name": data.invited_by_name,
        "role_words": role_in_words(data.role),
        "organisation_name": data.organisation_name,
        "link": link,
        "expires_at": data.expires_at,
    }, virtual_school=data.virtual_school)]


def email_code(data: EmailCodeIssued, settings: NotifySettings) -> list[Email]:
    template = CODE_TEMPLATES.get(data.purpose)
    if template is None:
        raise UnknownNotice(f"no template for code purpose {data.purpose!r}")
    return [Email(template, data.email, {"given_name": data.given_name, "code": data.code})]


def new_sign_in(data: SignedIn, settings: NotifySettings) -> list[Email]:
    return [Email("new_sign_in", data.email, {
        "given_name": data.given_name,
        "signed_in_at": data.signed_in_at,
        "reset_link": f"{_portal(settings)}{RESET_PASSWORD_PATH}",
    })]


def account_changed(data: AccountChanged, settings: NotifySettings) -> list[Email]:
    if data.change == "password_changed":
        return [Email("password_changed", data.email, {
            "given_name": data.given_name,
            "changed_at": data.changed_at,
            "reset_link": f"{_portal(settings)}{RESET_PASSWORD_PATH}",
        })]
    if data.change == "email_changed":
        values = {"given_name": data.given_name, "changed_at": data.changed_at, "email": data.email,
                  "previous_email": data.previous_email}
        # Both addresses hear of it: the old one so a takeover does not go unnoticed, the new one to confirm.
        recipients = [data.email]
        if data.previous_email and data.previous_email.casefold() != data.email.casefold():
            recipients.insert(0, data.previous_email)
        return [Email("email_changed", recipient, values) for recipient in recipients]
    raise UnknownNotice(f"no template for account change {data.change!r}")


def _portal(settings: NotifySettings) -> str:
    return settings.portal_url.rstrip("/")
