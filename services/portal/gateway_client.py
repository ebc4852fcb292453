"""The portal's only way to the system: the gateway's public API, one method per thing a page does.

The portal holds the session token in its own cookie and passes it on; the gateway's answers are
turned into three exceptions the pages understand. Nothing here logs an email, password, code or token.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from opentelemetry.instrumentation.aiohttp_client import create_trace_config
from pydantic import BaseModel, ConfigDict

log = logging.getLogger(__name__)
SESSION_COOKIE = "epep_session"
PROBLEM_JSON = "application/problem+json"


class GatewayUnavailable(Exception):
    """The gateway could not be reached, timed out, or said it is unavailable."""


class NotSignedIn(Exception):
    """The session cookie is missing, ended or unknown (the gateway answered 401)."""


@dataclass(eq=False)
class GatewayProblem(Exception):
    """An RFC 9457 problem the person can act on: `title` and `detail` are written for them."""

    status: int
    title: str
    detail: str | None = None
    code: str | None = None
    errors: list[dict[str, str]] = field(default_factory=list)
    retry_after: int | None = None

    def __post_init__(self) -> None:
        super().__init__(self.code or self.status)

    @property
    def message(self) -> str:
        """Title and detail as one sentence pair, for an error message."""
        title = self.title.rstrip(".")
        return f"{title}. {self.detail}" if self.detail else title

    def field_errors(self) -> dict[str, str]:
        return {e["field"]: e["message"] for e in self.errors if e.get("field") and e.get("message")}


@dataclass(frozen=True)
class Caller:
    """Who the portal is calling on behalf of: passed on so throttling and traces see the person."""

    client_address: str
    request_id: str
    session_token: str | None = None


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Membership(_Answer):
    organisation_id: str
    organisation_name: str
    organisation_type: str
    role: str


class Me(_Answer):
    id: str
    email: str
    given_name: str
    family_name: str
    memberships: list[Membership] = []

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip()


@dataclass(frozen=True)
class SignedIn:
    session_token: str
    user_id: str


def gateway_session(timeout: float) -> aiohttp.ClientSession:
    """A client session that never keeps cookies: it serves every browser at once, so a session
    cookie the gateway sets for one person must never be sent on another person's call."""
    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout),
                                 cookie_jar=aiohttp.DummyCookieJar(),
                                 trace_configs=[create_trace_config()])


class GatewayClient:
    def __init__(self, base_url: str, session: aiohttp.ClientSession) -> None:
        self.base_url = base_url.rstrip("/") + "/api/v1"
        self.session = session

    async def start_sign_in(self, caller: Caller, email: str, password: str) -> str:
        """Email and password: always an attempt id, right or wrong (a code is emailed only if right)."""
        body, _ = await self._call("POST", "/auth/sign-in", caller, {"email": email, "password": password})
        return str(body["attempt_id"])

    async def verify_code(self, caller: Caller, attempt_id: str, code: str) -> SignedIn:
        body, resp = await self._call("POST", "/auth/sign-in/verify", caller,
                                      {"attempt_id": attempt_id, "code": code})
        cookie = resp.cookies.get(SESSION_COOKIE)
        if cookie is None or not cookie.value:
            log.error("gateway signed in without a session cookie", extra={"request_id": caller.request_id})
            raise GatewayUnavailable("no session cookie")
        return SignedIn(session_token=cookie.value, user_id=str(body.get("user_id", "")))

    async def send_new_code(self, caller: Caller, attempt_id: str) -> str:
        body, _ = await self._call("POST", "/auth/sign-in/resend", caller, {"attempt_id": attempt_id})
        return str(body.get("attempt_id") or attempt_id)

    async def me(self, caller: Caller) -> Me:
        body, _ = await self._call("GET", "/me", caller)
        return Me.model_validate(body)

    async def sign_out(self, caller: Caller) -> None:
        await self._call("POST", "/auth/sign-out", caller)

    async def _call(self, method: str, path: str, caller: Caller,
                    json_body: Any = None) -> tuple[dict[str, Any], aiohttp.ClientResponse]:
        headers = {"X-Forwarded-For": caller.client_address, "X-Request-Id": caller.request_id,
                   "Accept": "application/json"}
        if caller.session_token:
            headers["Cookie"] = f"{SESSION_COOKIE}={caller.session_token}"
        try:
            async with self.session.request(method, self.base_url + path, json=json_body,
                                            headers=headers) as resp:
                if resp.status == 204:
                    return {}, resp
                if 200 <= resp.status < 300:
                    return await resp.json(content_type=None) or {}, resp
                problem = await _problem(resp)
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            log.warning("gateway unreachable", extra={"path": path, "error": type(exc).__name__,
                                                      "request_id": caller.request_id})
            raise GatewayUnavailable(path) from None
        if problem.status == 401:
            raise NotSignedIn()
        if problem.status in (502, 503, 504):
            log.warning("gateway unavailable", extra={"path": path, "status": problem.status,
                                                      "request_id": caller.request_id})
            raise GatewayUnavailable(path)
        if problem.status >= 500:
            raise RuntimeError(f"gateway answered {problem.status} on {path} ({problem.code})")
        raise problem


async def _problem(resp: aiohttp.ClientResponse) -> GatewayProblem:
    body: dict[str, Any] = {}
    if resp.content_type in (PROBLEM_JSON, "application/json"):
        try:
            raw = await resp.json(content_type=None)
            body = raw if isinstance(raw, dict) else {}
        except ValueError:
            body = {}
    retry_after = body.get("retry_after", resp.headers.get("Retry-After"))
    try:
        retry = int(retry_after) if retry_after is not None else None
    except (TypeError, ValueError):
        retry = None
    errors = [e for e in body.get("errors", []) if isinstance(e, dict)]
    return GatewayProblem(status=resp.status, title=str(body.get("title") or resp.reason or "Error"),
                          detail=body.get("detail"), code=body.get("code"), errors=errors, retry_after=retry)
