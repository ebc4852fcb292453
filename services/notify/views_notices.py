"""The emails of a views invitation: the link to a young person or carer, and the code that opens it.

Pure functions, no I/O. The link's token and the code are in the email only: neither is kept with the
delivery (so neither can be resent from the delivery log; the person asks for a new code instead)."""

from __future__ import annotations

from urllib.parse import quote

from services.notify.emails import Email
from services.notify.settings import NotifySettings
from shared.contracts import Organisation, ViewsCodeIssued, ViewsInvitationSent

# The portal's page for an emailed views link: GET shows it; only its button (a POST) sends a code.
VIEWS_PATH = "/your-views"


def views_invitation(data: ViewsInvitationSent, settings: NotifySettings,
                     virtual_school: Organisation | None = None) -> list[Email]:
    link = f"{settings.portal_url.rstrip('/')}{VIEWS_PATH}/{quote(data.token, safe='')}"
    template = "views_invitation_carer" if data.audience == "carer" else "views_invitation"
    return [Email(template, data.email, {
        "given_name": data.given_name, "child": data.child_name, "invited_by_name": data.invited_by_name,
        "link": link, "expires_at": data.expires_at,
    }, virtual_school=virtual_school)]


def views_code(data: ViewsCodeIssued, settings: NotifySettings,
               virtual_school: Organisation | None = None) -> list[Email]:
    return [Email("views_code", data.email, {"given_name": data.given_name, "code": data.code},
                  virtual_school=virtual_school)]
