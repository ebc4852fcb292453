from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import ClassVar

from pydantic import Field, SecretStr, model_validator

from shared.settings import ServiceSettings

DEV_CSRF_KEY = "dev-portal-csrf-key-not-for-production-use-0001"


class PortalSettings(ServiceSettings):
    # No database, and it only calls the public gateway: no internal tokens to sign.
    uses_database: ClassVar[bool] = False
    uses_internal_tokens: ClassVar[bool] = False

    port: int = 8080
    gateway_url: str = "http://127.0.0.1:8000"
    gateway_timeout: float = 10.0
    # Networks of the load balancers in front of the portal, whose X-Forwarded-For is believed (the
    # gateway throttles sign-in per client address: it must get the person's, not the balancer's).
    trusted_proxies: list[IPv4Network | IPv6Network] = Field(default_factory=list)
    # Signs the portal's own cookies: CSRF tokens and the sign-in attempt between its two pages.
    csrf_key: SecretStr = SecretStr(DEV_CSRF_KEY)
    # None: Secure everywhere but local development and tests (plain http on 127.0.0.1).
    session_cookie_secure: bool | None = None
    # Built by `npm run build:portal`.
    static_dir: Path = Path(__file__).parent / "static" / "dist"
    # How long the gap between the sign-in page and the code page may be (codes last 10 minutes,
    # and a new one can be asked for).
    sign_in_attempt_seconds: int = 30 * 60
    # How long the other journeys' pages stay linked (registering, resetting a password, changing an email).
    journey_seconds: int = 60 * 60
    # Only for words on the signed-out pages ("you did not do anything for 20 minutes") when the person's own idle
    # timeout is not known: identity owns the real one (its default, or the LA's own rule), and the timeout
    # warning's timing comes from the gateway. Keep this in step with identity's default.
    idle_timeout_minutes: int = 20

    @model_validator(mode="after")
    def _portal_secrets(self) -> PortalSettings:
        if self.session_cookie_secure is None:
            self.session_cookie_secure = self.environment not in ("development", "test")
        if self.environment == "production" and self.csrf_key.get_secret_value() == DEV_CSRF_KEY:
            raise ValueError("EPEP_CSRF_KEY must be set in production")
        if len(self.csrf_key.get_secret_value()) < 32:
            raise ValueError("EPEP_CSRF_KEY must be at least 32 characters")
        return self
