"""Sending one delivery with aiosmtplib, behind a status guard: created -> sending -> sent | failure."""

from __future__ import annotations

import logging
import uuid
from email.message import EmailMessage

import aiosmtplib
import asyncpg
from opentelemetry import trace

from services.notify.settings import NotifySettings
from shared.telemetry import tracer

log = logging.getLogger(__name__)
_tracer = tracer("epep.notify")


class TemporaryFailure(Exception):
    """The mail server is away or said 4xx: try again later."""


class PermanentFailure(Exception):
    """The mail server said 5xx for this message: trying again will not help."""


async def claim(pool: asyncpg.Pool, delivery_id: uuid.UUID, lease_seconds: int) -> bool:
    """Take the right to send. False if it was sent, failed for good, or another worker is sending it now."""
    return bool(await pool.fetchval(
        "UPDATE deliveries SET status = 'sending', attempts = attempts + 1, sending_at = now(), updated_at = now() "
        "WHERE id = $1 AND (status IN ('created', 'temporary_failure') "
        "OR (status = 'sending' AND sending_at < now() - make_interval(secs => $2))) RETURNING 1",
        delivery_id, float(lease_seconds)))


async def in_flight(pool: asyncpg.Pool, delivery_id: uuid.UUID) -> bool:
    """Whether another worker holds the right to send (its lease not yet run out), outcome still unknown."""
    return await pool.fetchval("SELECT status = 'sending' FROM deliveries WHERE id = $1", delivery_id) is True


async def smtp_send(settings: NotifySettings, message: EmailMessage) -> None:
    with _tracer.start_as_current_span("smtp send", kind=trace.SpanKind.CLIENT,
                                       attributes={"server.address": settings.smtp_host,
                                                   "server.port": settings.smtp_port}):
        try:
            await aiosmtplib.send(
                message, hostname=settings.smtp_host, port=settings.smtp_port,
                username=settings.smtp_username or None,
                password=settings.smtp_password.get_secret_value() or None,
                use_tls=settings.smtp_tls == "tls", start_tls=settings.smtp_tls == "starttls",
                timeout=settings.smtp_timeout)
        except aiosmtplib.SMTPResponseException as exc:
            if 500 <= exc.code < 600:
                raise PermanentFailure(f"SMTP {exc.code}") from None
            raise TemporaryFailure(f"SMTP {exc.code}") from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise TemporaryFailure(type(exc).__name__) from None


async def mark(pool: asyncpg.Pool, delivery_id: uuid.UUID, status: str, error: str | None = None) -> None:
    await pool.execute(
        "UPDATE deliveries SET status = $2, last_error = $3, updated_at = now(), "
        "sent_at = CASE WHEN $2 = 'sent' THEN now() ELSE sent_at END WHERE id = $1",
        delivery_id, status, error)
