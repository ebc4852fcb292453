from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, SecretStr

from shared.settings import ServiceSettings


class NotifySettings(ServiceSettings):
    holds_message_keys: ClassVar[bool] = True  # the codes and tokens notify emails: shared/sealed.py
    port: int = 8104
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_tls: Literal["none", "starttls", "tls"] = "none"
    smtp_timeout: float = 10.0
    # Connections kept open between emails, per process, and how long one may sit idle before it is closed.
    smtp_connections: int = 4
    smtp_idle_seconds: float = 30.0
    mail_from: str = "ePEP <no-reply@epep.invalid>"
    service_name: str = "ePEP"
    portal_url: str = "http://127.0.0.1:8080"
    # A send that claimed a delivery but never finished (process killed) may be retried after this.
    sending_lease_seconds: int = 120
    # Daily digests and meeting reminders: how often each replica looks for work (its clock: shared/schedule.py).
    digest_interval_seconds: float = Field(default=60.0, gt=0)
    # A PEP meeting's reminder goes this many days before it (from 07:00 UK time), to everyone invited.
    meeting_reminder_days: int = Field(default=2, ge=0, le=28)
