"""Sending one delivery with aiosmtplib, behind a status guard: created -> sending -> sent | failure."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
import weakref
from email.message import EmailMessage

import aiosmtplib
import asyncpg
from opentelemetry import trace

from services.notify.settings import NotifySettings
from shared.metrics import EMAILS
from shared.telemetry import tracer

log = logging.getLogger(__name__)
_tracer = tracer("epep.notify")


class TemporaryFailure(Exception):
    """The mail server is away or said 4xx: try again later."""


class PermanentFailure(Exception):
    """The mail server said 5xx for this message: trying again will not help."""


RELEASED = ("created", "temporary_failure")  # statuses a claim takes


async def claim(pool: asyncpg.Pool, delivery_id: uuid.UUID, lease_seconds: int) -> bool:
    """Take the right to send. False if it was sent, failed for good, or another worker is sending it now."""
    return bool(await pool.fetchval(
        "UPDATE deliveries SET status = 'sending', attempts = attempts + 1, sending_at = now(), updated_at = now() "
        "WHERE id = $1 AND (status = ANY($3::text[]) "
        "OR (status = 'sending' AND sending_at < now() - make_interval(secs => $2))) RETURNING 1",
        delivery_id, float(lease_seconds), list(RELEASED)))


async def status(pool: asyncpg.Pool, delivery_id: uuid.UUID) -> str | None:
    return await pool.fetchval("SELECT status FROM deliveries WHERE id = $1", delivery_id)


async def in_flight(pool: asyncpg.Pool, delivery_id: uuid.UUID) -> bool:
    """Whether another worker holds the right to send (its lease not yet run out), outcome still unknown."""
    return await pool.fetchval("SELECT status = 'sending' FROM deliveries WHERE id = $1", delivery_id) is True


async def smtp_send(settings: NotifySettings, message: EmailMessage) -> None:
    with _tracer.start_as_current_span("smtp send", kind=trace.SpanKind.CLIENT,
                                       attributes={"server.address": settings.smtp_host,
                                                   "server.port": settings.smtp_port}):
        try:
            await _connections(settings).send(message)
        except aiosmtplib.SMTPResponseException as exc:
            if 500 <= exc.code < 600:
                raise PermanentFailure(f"SMTP {exc.code}") from None
            raise TemporaryFailure(f"SMTP {exc.code}") from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise TemporaryFailure(type(exc).__name__) from None


class Connections:
    """SMTP connections kept open between emails, a few per process, so a burst does not pay a TCP (and TLS and
    login) handshake per email.

    A connection idle longer than `idle_seconds` is closed rather than reused (servers drop idle clients). One
    the server has dropped anyway fails on its first command, before anything is sent, so the email is tried
    once more on a new connection; any other failure closes the connection and is the caller's to handle.
    """

    def __init__(self, settings: NotifySettings, size: int, idle_seconds: float) -> None:
        self.settings, self.idle_seconds = settings, idle_seconds
        self._slots = asyncio.Semaphore(size)
        self._idle: list[tuple[float, aiosmtplib.SMTP]] = []

    async def send(self, message: EmailMessage) -> None:
        async with self._slots:
            client = self._take_idle()
            if client is not None:
                try:
                    await client.send_message(message)
                except (aiosmtplib.SMTPServerDisconnected, ConnectionError):
                    _close(client)  # dropped while idle: nothing was sent on it
                except BaseException:
                    _close(client)
                    raise
                else:
                    self._idle.append((time.monotonic(), client))
                    return
            client = await self._open()
            try:
                await client.send_message(message)
            except BaseException:
                _close(client)
                raise
            self._idle.append((time.monotonic(), client))

    def _take_idle(self) -> aiosmtplib.SMTP | None:
        now = time.monotonic()
        while self._idle:
            since, client = self._idle.pop()
            if client.is_connected and now - since < self.idle_seconds:
                return client
            _close(client)
        return None

    async def _open(self) -> aiosmtplib.SMTP:
        s = self.settings
        client = aiosmtplib.SMTP(hostname=s.smtp_host, port=s.smtp_port, username=s.smtp_username or None,
                                 password=s.smtp_password.get_secret_value() or None, use_tls=s.smtp_tls == "tls",
                                 start_tls=s.smtp_tls == "starttls", timeout=s.smtp_timeout)
        await client.connect()
        return client

    def close(self) -> None:
        while self._idle:
            _close(self._idle.pop()[1])


def _close(client: aiosmtplib.SMTP) -> None:
    # Not QUIT: the connection may be broken, and nothing waits on a polite goodbye.
    with contextlib.suppress(Exception):
        client.close()


# One set of connections per event loop (a test may run several loops in one process); they matter for speed only.
_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Connections] = weakref.WeakKeyDictionary()


def _connections(settings: NotifySettings) -> Connections:
    loop = asyncio.get_running_loop()
    found = _by_loop.get(loop)
    if found is None or found.settings is not settings:
        if found is not None:
            found.close()
        found = _by_loop[loop] = Connections(settings, settings.smtp_connections, settings.smtp_idle_seconds)
    return found


async def mark(pool: asyncpg.Pool, delivery_id: uuid.UUID, status: str, error: str | None = None) -> None:
    await pool.execute(
        "UPDATE deliveries SET status = $2, last_error = $3, updated_at = now(), "
        "sent_at = CASE WHEN $2 = 'sent' THEN now() ELSE sent_at END WHERE id = $1",
        delivery_id, status, error)
    if status in ("sent", "temporary_failure", "permanent_failure"):
        EMAILS.labels(status).inc()
