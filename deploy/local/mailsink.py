"""Development mail sink: SMTP on 127.0.0.1:1025 storing every message in the Maildir var/mail/,
readable at http://127.0.0.1:8025. Never use it for real mail.

    python -m deploy.local.mailsink [--smtp-port 1025] [--http-port 8025] [--maildir var/mail]
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import html
import mailbox
import signal
from email.message import EmailMessage
from pathlib import Path

from aiohttp import web
from aiosmtpd.smtp import SMTP, Envelope, Session


class MaildirHandler:
    def __init__(self, maildir: Path) -> None:
        self.box = mailbox.Maildir(maildir, create=True)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        self.box.add(mailbox.MaildirMessage(raw))
        return "250 Message accepted for delivery"


def _messages(maildir: Path) -> list[tuple[str, EmailMessage, float]]:
    box = mailbox.Maildir(maildir, create=True)
    found = []
    for key in box.keys():  # noqa: SIM118 - Maildir keys, not a dict
        path = Path(maildir) / ("new" if (Path(maildir) / "new" / key).exists() else "cur") / key
        if not path.exists():
            continue
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        found.append((key, msg, path.stat().st_mtime))
    return sorted(found, key=lambda m: m[2], reverse=True)


def http_app(maildir: Path) -> web.Application:
    async def index(request: web.Request) -> web.Response:
        rows = "".join(
            f"<tr><td>{html.escape(str(m['Date']))}</td><td>{html.escape(str(m['To']))}</td>"
            f"<td><a href='/messages/{html.escape(k)}'>{html.escape(str(m['Subject']))}</a></td></tr>"
            for k, m, _ in _messages(maildir))
        return web.Response(content_type="text/html", text=(
            "<!doctype html><html lang=en><meta charset=utf-8><title>Mail sink</title>"
            "<body style='font-family:Arial,sans-serif'><h1>Development mail sink</h1>"
            f"<table><tr><th>Date</th><th>To</th><th>Subject</th></tr>{rows}</table></body></html>"))

    async def show(request: web.Request) -> web.Response:
        key = request.match_info["key"]
        for k, msg, _ in _messages(maildir):
            if k == key:
                body = msg.get_body(preferencelist=("plain",))
                text = body.get_content() if body else ""
                return web.Response(content_type="text/html", text=(
                    f"<!doctype html><html lang=en><meta charset=utf-8><title>{html.escape(str(msg['Subject']))}"
                    f"</title><body style='font-family:Arial,sans-serif'><p><a href='/'>All messages</a></p>"
                    f"<h1>{html.escape(str(msg['Subject']))}</h1><p>To: {html.escape(str(msg['To']))}</p>"
                    f"<pre>{html.escape(text)}</pre></body></html>"))
        raise web.HTTPNotFound()

    app = web.Application()
    app.router.add_get("/", index)
    app.router.add_get("/messages/{key}", show)
    return app


async def serve(host: str, smtp_port: int, http_port: int, maildir: Path) -> None:
    loop = asyncio.get_running_loop()
    handler = MaildirHandler(maildir)
    smtp = await loop.create_server(lambda: SMTP(handler, hostname="mailsink.local"), host, smtp_port)
    runner = web.AppRunner(http_app(maildir), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, http_port).start()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"mail sink: smtp://{host}:{smtp_port} -> {maildir}, http://{host}:{http_port}", flush=True)
    await stop.wait()
    smtp.close()
    await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--smtp-port", type=int, default=1025)
    parser.add_argument("--http-port", type=int, default=8025)
    parser.add_argument("--maildir", type=Path, default=Path("var/mail"))
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.smtp_port, args.http_port, args.maildir))


if __name__ == "__main__":
    main()
