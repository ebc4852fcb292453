"""Every email's HTML, with every piece of text in it `<b>Bold</b> & Co`: shown as text, escaped once."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import replace
from datetime import date, datetime
from typing import Any

import pytest

from services.notify import emails, previews
from services.notify.settings import NotifySettings
from shared.contracts import Organisation
from tests.portal.test_every_page_escapes import escaped_once

SETTINGS = NotifySettings(portal_url="https://epep.northshire.test/")
EVIL = "<b>Bold</b> & Co"


def _is_shaped(text: str) -> bool:
    """Text with a shape the email reads (a date, a link, an address, a code): kept as it is."""
    try:
        datetime.fromisoformat(text)
        return True
    except ValueError:
        pass
    return text.startswith(("http://", "https://", "/")) or "@" in text or text.replace(" ", "").isdigit()


def evil(value: Any) -> Any:
    """The same values with every piece of free text made EVIL."""
    if isinstance(value, str):
        return value if _is_shaped(value) else EVIL
    if isinstance(value, dict):
        return {k: evil(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(evil(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return replace(value, **{f.name: evil(getattr(value, f.name)) for f in dataclasses.fields(value)
                                 if f.init and isinstance(getattr(value, f.name), str | list | dict | tuple)})
    if isinstance(value, date | datetime | uuid.UUID):
        return value
    return value


@pytest.mark.parametrize("email", previews.one_of_each(SETTINGS, Organisation(name=EVIL)),
                         ids=lambda e: e.template)
def test_every_email_shows_text_as_text_escaped_once(email: emails.Email) -> None:
    made_evil = replace(email, values=evil(dict(email.values)))
    message = emails.render(made_evil, delivery_id=uuid.UUID(int=0), sender=SETTINGS.mail_from, subject="Subject",
                            service_name=SETTINGS.service_name)
    html_part = message.get_body(("html",))
    assert html_part is not None
    html = str(html_part.get_content())
    assert escaped_once(html) == []
