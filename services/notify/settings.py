from __future__ import annotations

from typing import Literal

from pydantic import SecretStr

from shared.settings import ServiceSettings


class NotifySettings(ServiceSettings):
    port: int = 8104
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_tls: Literal["none", "starttls", "tls"] = "none"
    smtp_timeout: float = 10.0
    mail_from: str = "ePEP <no-reply@epep.invalid>"
    service_name: str = "ePEP"
    portal_url: str = "http://127.0.0.1:8080"
    # A send that claimed a delivery but never finished (process killed) may be retried after this.
    sending_lease_seconds: int = 120
