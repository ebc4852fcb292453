"""Sending over kept-open SMTP connections: one connection serves a run of emails, a connection the server
dropped while idle is replaced without losing or repeating the email, and a server that is away is a
temporary failure. Against the development mail sink's handler, run in-process."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP

from deploy.local.mailsink import MaildirHandler
from services.notify import sending
from services.notify.settings import NotifySettings
from tests.support.mailbox import Mailbox


def message(to: str) -> EmailMessage:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "ePEP <no-reply@epep.invalid>", to, "Test"
    m.set_content("Hello")
    return m


async def test_emails_share_a_connection_and_a_dropped_one_is_replaced(tmp_path: Path) -> None:
    sessions: list[SMTP] = []

    def session() -> SMTP:
        sessions.append(SMTP(MaildirHandler(tmp_path / "mail"), hostname="sink.test"))
        return sessions[-1]

    loop = asyncio.get_running_loop()
    server = await loop.create_server(session, "127.0.0.1", 0)
    settings = NotifySettings(smtp_port=server.sockets[0].getsockname()[1], smtp_timeout=5)
    mailbox = Mailbox(tmp_path / "mail")
    try:
        for n in range(5):
            await sending.smtp_send(settings, message(f"n{n}@example.test"))
        assert len(sessions) == 1 and len(mailbox.messages()) == 5

        # The server hangs up on the idle connection: the next email goes on a new one, once.
        transport = sessions[0].transport
        assert transport is not None
        transport.close()
        await asyncio.sleep(0.1)
        await sending.smtp_send(settings, message("after@example.test"))
        assert len(sessions) == 2 and len(mailbox.messages("after@example.test")) == 1
    finally:
        server.close()
        await server.wait_closed()
    for s in sessions:
        if s.transport is not None:
            s.transport.close()
    await asyncio.sleep(0.1)
    with pytest.raises(sending.TemporaryFailure):
        await sending.smtp_send(settings, message("away@example.test"))
