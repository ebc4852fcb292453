"""Rendering an email from a template and the event's data: plain text and HTML, never stored."""

from __future__ import annotations

import uuid
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

_env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), undefined=StrictUndefined,
                   autoescape=select_autoescape(["html"]), keep_trailing_newline=True)

SUBJECTS = {"sign_in_code": "Your {service_name} sign-in code"}


def subject_for(template: str, service_name: str) -> str:
    return SUBJECTS[template].format(service_name=service_name)


def render(template: str, delivery_id: uuid.UUID, sender: str, recipient: str, subject: str,
           values: dict[str, Any]) -> EmailMessage:
    context = {**values, "subject": subject}
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, recipient, subject
    message["Date"] = formatdate(localtime=False)
    # Stable per delivery, so a resend after a lost acknowledgement is recognisably the same message.
    message["Message-ID"] = make_msgid(idstring=delivery_id.hex, domain="epep.invalid")
    message["X-EPEP-Delivery"] = str(delivery_id)
    message.set_content(_env.get_template(f"{template}.txt").render(context))
    message.add_alternative(_env.get_template(f"{template}.html").render(context), subtype="html")
    return message
