from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network
from typing import ClassVar

from pydantic import Field

from shared.api.attachments import ATTACHMENT_MAX_BYTES
from shared.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    uses_database: ClassVar[bool] = False
    internal_issuer: ClassVar[str | None] = "gateway"  # the one issuer that may speak for people
    verifies_internal_tokens: ClassVar[bool] = False  # it takes sessions, not internal tokens
    port: int = 8000
    # Each may name several replicas, comma-separated: calls take turns and skip one that refuses to connect.
    identity_url: str = "http://127.0.0.1:8101"
    pep_url: str = "http://127.0.0.1:8102"
    delegation_url: str = "http://127.0.0.1:8103"
    notify_url: str = "http://127.0.0.1:8104"
    qa_url: str = "http://127.0.0.1:8105"
    session_cookie: str = "epep_session"
    # Sessions resolved in the gateway (sessions.py): how long this process holds one before asking identity again
    # (30 at most: the bound on an event lost on the way; 0: ask identity on every request, with no broker
    # connection), how many it holds at most, and how often it sends identity the idle-clock restarts.
    session_cache_seconds: float = Field(default=30.0, ge=0, le=30)
    session_cache_max_entries: int = Field(default=20_000, ge=1)
    session_touch_flush_seconds: float = Field(default=1.0, gt=0, le=10)
    attachment_max_bytes: int = ATTACHMENT_MAX_BYTES  # EPEP_ATTACHMENT_MAX_BYTES, as pep reads it
    # X-Forwarded-For is believed only from peers in these networks (the portal, the ingress): in Kubernetes
    # give the pod network's range, since pods change address.
    trusted_proxies: list[IPv4Network | IPv6Network] = [IPv4Network("127.0.0.1/32"), IPv6Network("::1/128")]

    @property
    def secure_cookies(self) -> bool:
        return self.environment == "production"
