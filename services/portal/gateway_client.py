"""The portal's only way to the system: the gateway's public API, by the operations of its catalogue.

`GatewayClient.call(operation, caller, body, query=..., **params)` builds the path from the operation's template and
its typed parameters, and answers with the operation's response model (shared/api). Files go through `download` and
`upload`, their paths from their operations too; finishing signing in keeps a method of its own, since it needs the
session cookie the gateway sets. The portal holds the session token in its own cookie and passes it on; the gateway's
refusals become three exceptions the pages understand. Nothing here logs an email, password, code or token.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import yarl
from opentelemetry.instrumentation.aiohttp_client import create_trace_config
from pydantic import BaseModel

from shared.api import auth
from shared.api.operations import InvalidParameter, Operation, encode_query
from shared.telemetry import redact

log = logging.getLogger(__name__)
SESSION_COOKIE = "epep_session"
VIEWS_COOKIE = "epep_views"
PROBLEM_JSON = "application/problem+json"
DOWNLOAD_TIMEOUT = 120.0  # a long PEP's PDF or a 20 MB file takes longer than a JSON call


class GatewayUnavailable(Exception):
    """The gateway could not be reached, timed out, or said it is unavailable."""


class NotSignedIn(Exception):
    """The session cookie is missing, ended or unknown (the gateway answered 401).

    `code` is the gateway's reason: `session_ended` when a session the person had has ended (idle
    timeout, lifetime, signed out elsewhere), so the sign-in page can say they were signed out."""

    def __init__(self, code: str | None = None) -> None:
        super().__init__(code or "not_signed_in")
        self.code = code


@dataclass(eq=False)
class GatewayProblem(Exception):
    """An RFC 9457 problem the person can act on: `title` and `detail` are written for them."""

    status: int
    title: str
    detail: str | None = None
    code: str | None = None
    errors: list[dict[str, str]] = field(default_factory=list)
    retry_after: int | None = None
    # The rest of the problem's body: e.g. `current` on a 409 conflict, `missing` when a PEP cannot be submitted.
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.code or self.status)

    @property
    def message(self) -> str:
        """Title and detail as one sentence pair, for an error message."""
        title = self.title.rstrip(".")
        return f"{title}. {self.detail}" if self.detail else title

    def field_errors(self) -> dict[str, str]:
        """{field: message}, the first message for each field (GOV.UK shows one error per field)."""
        found: dict[str, str] = {}
        for e in self.errors:
            if e.get("field") and e.get("message"):
                found.setdefault(str(e["field"]), str(e["message"]))
        return found


@dataclass(frozen=True)
class Caller:
    """Who the portal is calling on behalf of: passed on so throttling and traces see the person."""

    client_address: str
    request_id: str
    session_token: str | None = None
    views_token: str | None = None  # an invited young person's or carer's views session (no account, no session)


@dataclass(frozen=True)
class SignedIn:
    session_token: str
    user_id: str


def gateway_session(timeout: float) -> aiohttp.ClientSession:
    """A client session that never keeps cookies: it serves every browser at once, so a session
    cookie the gateway sets for one person must never be sent on another person's call."""
    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout),
                                 cookie_jar=aiohttp.DummyCookieJar(),
                                 trace_configs=[create_trace_config(url_filter=traced_url)])


def traced_url(url: yarl.URL) -> str:
    """The URL as traces record it: without its query, which can carry an emailed invitation token."""
    return str(url.with_query(None).with_fragment(None))


class GatewayClient:
    def __init__(self, base_url: str, session: aiohttp.ClientSession) -> None:
        self.base_url = base_url.rstrip("/") + "/api/v1"
        self.session = session

    async def verify_code(self, caller: Caller, attempt_id: str, code: str) -> SignedIn:
        """Finish signing in (auth.VERIFY_SIGN_IN): its own method, as the page needs the session cookie the
        gateway sets, which `call` does not give."""
        op = auth.VERIFY_SIGN_IN
        body, resp = await self._call(op.method.upper(), op.path, caller, {"attempt_id": attempt_id, "code": code})
        cookie = resp.cookies.get(SESSION_COOKIE)
        if cookie is None or not cookie.value:
            log.error("gateway signed in without a session cookie", extra={"request_id": caller.request_id})
            raise GatewayUnavailable("no session cookie")
        return SignedIn(session_token=cookie.value, user_id=str(body.get("user_id", "")))

    async def call(self, op: Operation, caller: Caller, body: BaseModel | dict[str, Any] | None = None, *,
                   query: BaseModel | dict[str, Any] | None = None, **params: Any) -> Any:
        """Call an operation of the public API: its path built from `params` (each validated and quoted whole),
        its answer as the operation's response model (a list of them, or None where it has none). A parameter
        that is not of its type names nothing: 404, as the gateway would answer."""
        path = _path(op, params)
        payload = body.model_dump(mode="json", exclude_unset=True) if isinstance(body, BaseModel) else body
        encoded = encode_query(query)
        answer, _ = await self._call(op.method.upper(), path + (f"?{encoded}" if encoded else ""), caller, payload)
        return _answer(op, answer)

    async def upload(self, op: Operation, caller: Caller, form: aiohttp.FormData, **params: Any) -> Any:
        """A multipart upload to `op` as the gateway takes it, answered with the operation's response model:
        413 too big, 415 or 422 naming `file` when refused."""
        body, _ = await self._call(op.method.upper(), _path(op, params), caller, data=form)
        return _answer(op, body)

    @asynccontextmanager
    async def download(self, caller: Caller, path: str,
                       params: dict[str, str] | None = None) -> AsyncIterator[aiohttp.ClientResponse]:
        """The gateway's open response for a file (an export, a blank form, an attachment), to stream from.
        A refusal is raised as for any call, before anything is yielded."""
        try:
            async with self.session.request("GET", self.base_url + path, params=params,
                                            headers=self._headers(caller, "*/*"),
                                            timeout=aiohttp.ClientTimeout(total=DOWNLOAD_TIMEOUT)) as resp:
                if resp.status >= 400:
                    self._raise(await _problem(resp), path, caller)
                yield resp
        except (TimeoutError, aiohttp.ClientError) as exc:
            log.warning("gateway unreachable", extra={"path": redact(path), "error": type(exc).__name__,
                                                      "request_id": caller.request_id})
            raise GatewayUnavailable(str(redact(path))) from None

    def _headers(self, caller: Caller, accept: str = "application/json") -> dict[str, str]:
        headers = {"X-Forwarded-For": caller.client_address, "X-Request-Id": caller.request_id, "Accept": accept}
        if caller.session_token:
            headers["Cookie"] = f"{SESSION_COOKIE}={caller.session_token}"
        elif caller.views_token:
            headers["Cookie"] = f"{VIEWS_COOKIE}={caller.views_token}"
        return headers

    def _raise(self, problem: GatewayProblem, path: str, caller: Caller) -> None:
        if problem.status == 401:
            raise NotSignedIn(problem.code)
        if problem.status in (502, 503, 504):
            log.warning("gateway unavailable", extra={"path": redact(path), "status": problem.status,
                                                      "request_id": caller.request_id})
            raise GatewayUnavailable(str(redact(path)))
        if problem.status >= 500:
            raise RuntimeError(f"gateway answered {problem.status} on {redact(path)} ({problem.code})")
        raise problem

    async def _call(self, method: str, path: str, caller: Caller, json_body: Any = None,
                    data: Any = None) -> tuple[Any, aiohttp.ClientResponse]:
        headers = self._headers(caller)
        try:
            async with self.session.request(method, self.base_url + path, json=json_body, data=data,
                                            headers=headers) as resp:
                if resp.status == 204:
                    return {}, resp
                if 200 <= resp.status < 300:
                    answer = await resp.json(content_type=None)  # an empty list is an answer: only no body is {}
                    return ({} if answer is None else answer), resp
                problem = await _problem(resp)
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            log.warning("gateway unreachable", extra={"path": redact(path), "error": type(exc).__name__,
                                                      "request_id": caller.request_id})
            raise GatewayUnavailable(str(redact(path))) from None
        self._raise(problem, path, caller)
        raise problem  # not reached: _raise always raises


def _path(op: Operation, params: dict[str, Any]) -> str:
    """The operation's public path with its parameters; one not of its type is a page that does not exist."""
    try:
        return op.bind(op.path, **params)
    except InvalidParameter:
        raise GatewayProblem(status=404, title="Not found", code="not_found") from None


def _answer(op: Operation, body: Any) -> Any:
    adapter = op.response_adapter
    return None if adapter is None else adapter.validate_python(body)


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
    extra = {k: v for k, v in body.items()
             if k not in ("type", "title", "status", "detail", "code", "errors", "retry_after", "instance")}
    return GatewayProblem(status=resp.status, title=str(body.get("title") or resp.reason or "Error"),
                          detail=body.get("detail"), code=body.get("code"), errors=errors, retry_after=retry,
                          extra=extra)
