"""The HTTP side every service shares: middleware, health, request parsing, calls to other services."""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Container
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
from aiohttp import web
from opentelemetry.instrumentation.aiohttp_client import create_trace_config
from pydantic import BaseModel, ValidationError

from shared import internal_auth
from shared.api.operations import Operation
from shared.db import database_away
from shared.errors import Problem, validation_problem
from shared.telemetry import redact  # paths carry emailed tokens (/invitations/<token>): logged as traces hold them

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)
PROBLEM_JSON = "application/problem+json"
REQUEST_ID = web.RequestKey("request_id", str)
CLAIMS = web.RequestKey("claims", internal_auth.Claims)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def problem_response(problem: Problem, request_id: str | None = None) -> web.Response:
    body = problem.to_dict()
    if request_id:
        body["request_id"] = request_id
    return web.json_response(body, status=problem.status, content_type=PROBLEM_JSON, headers=problem.headers)


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    incoming = request.headers.get("X-Request-Id", "")
    rid = incoming if 8 <= len(incoming) <= 64 and incoming.replace("-", "").isalnum() else uuid.uuid4().hex
    request[REQUEST_ID] = rid
    response = await handler(request)
    response.headers["X-Request-Id"] = rid
    return response


# The database went away under a request (a restart, a failover, a dropped connection): the request may be tried
# again in a moment, so it is a 503 with Retry-After, not a 500 "something went wrong". (Whether a transaction whose
# commit was cut off took effect is unknown to us too; every such route is safe to retry, or refuses the repeat.)


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    rid = request.get(REQUEST_ID)
    try:
        return await handler(request)
    except Problem as problem:
        return problem_response(problem, rid)
    except ValidationError as exc:
        return problem_response(validation_problem(exc), rid)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return problem_response(Problem(exc.status, exc.reason), rid)
    except Exception as exc:
        if database_away(exc):
            log.warning("database unavailable", extra={"path": redact(request.path), "request_id": rid,
                                                       "error": type(exc).__name__})
            return problem_response(Problem(503, "The service is temporarily unavailable", "Try again in a moment.",
                                            code="unavailable", headers={"Retry-After": "1"}), rid)
        log.exception("unhandled error", extra={"path": redact(request.path), "request_id": rid})
        return problem_response(Problem(500, "Something went wrong", "Try again. If it keeps happening, "
                                        "contact support and quote the request id.", code="internal"), rid)


def internal_auth_middleware(audience: str, verifier: internal_auth.Verifier) -> Any:
    """Every route but health needs a signed token from an issuer this service trusts (the gateway, or a service
    speaking as itself); the claims go on the request, with the token they came in (to relay: internal_auth)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in ("/healthz", "/readyz", "/metrics"):  # the pod's own port only: see shared/metrics.py
            return await handler(request)
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise Problem(401, "Not authenticated", code="internal_token")
        request[CLAIMS] = verifier.verify(header[7:], audience)
        return await handler(request)

    return middleware


def path_uuid(request: web.Request, name: str) -> uuid.UUID:
    """An id from the path; one that is not a UUID names nothing, so it answers 404 like an unknown one."""
    try:
        return uuid.UUID(request.match_info[name])
    except ValueError:
        raise Problem(404, "Not found", "We could not find that page.", code="not_found") from None


async def parse_body(request: web.Request, model: type[M]) -> M:
    """The request's JSON body as `model`; a clear problem naming the fields when it is not."""
    if request.content_type != "application/json":
        raise Problem(415, "Send JSON", "The body must be application/json.", code="unsupported_media_type")
    try:
        raw = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise Problem(400, "The body is not valid JSON", code="bad_json") from None
    return model.model_validate(raw)


def serves(routes: web.RouteTableDef, op: Operation) -> Callable[[Callable[[web.Request], Awaitable[Any]]], Handler]:
    """Route the owning service's handler for a catalogue operation, at the operation's path. The handler returns
    what the operation declares (its response model, a list of them, or None), and that is what is sent: it is
    validated against the operation's response model and serialised from it, with the operation's status. A
    handler that must set headers of its own (a file) may return a web.StreamResponse, sent as it is."""

    def bind(answer: Callable[[web.Request], Awaitable[Any]]) -> Handler:
        adapter = op.response_adapter

        async def handler(request: web.Request) -> web.StreamResponse:
            result = await answer(request)
            if isinstance(result, web.StreamResponse):
                if adapter is not None:  # the gateway passes this JSON on unread: it must come through here
                    raise TypeError(f"{op.id}: return the data for its response model, not a response")
                return result
            if adapter is None:
                return web.Response(status=op.status)
            return web.Response(body=adapter.dump_json(adapter.validate_python(result)), status=op.status,
                                content_type="application/json")

        handler.operation = op  # type: ignore[attr-defined]  # how the contract test knows it
        handler.__name__ = answer.__name__
        handler.__doc__ = answer.__doc__
        routes.route(op.method.upper(), op.service_path)(handler)
        return handler

    return bind


def json_model(model: BaseModel | list[Any] | dict[str, Any], status: int = 200) -> web.Response:
    if isinstance(model, BaseModel):
        return web.Response(text=model.model_dump_json(), status=status, content_type="application/json")
    return web.json_response(model, status=status)


SUCCESS = (200, 201, 202, 204)
NOT_AN_ERROR = range(100, 400)


@dataclass(frozen=True)
class Answer:
    """A service's answer as it came: its status and its body, unread."""

    status: int
    body: bytes


class ServiceClient:
    """Calls another service's HTTP API with a signed internal token; its problems are re-raised as ours.

    The token: the one the claims arrived in, as it is, when it was signed for this target too (a service asking
    pep with the caller's own claims relays the gateway's token); otherwise one this process signs.

    `base_url` may name several replicas, comma-separated ("http://a:8103,http://b:8103"): calls go round-robin,
    and a replica that refuses the connection is skipped for the next. Only a refused connection fails over:
    the request never reached that replica, so sending it elsewhere cannot do anything twice. A replica that
    dies mid-request answers 503, as one replica always did; the caller decides whether to try again."""

    def __init__(self, service: str, base_url: str | list[str], signer: internal_auth.Signer,
                 session: aiohttp.ClientSession) -> None:
        urls = base_url.split(",") if isinstance(base_url, str) else base_url
        self.base_urls = [url.strip().rstrip("/") for url in urls if url.strip()]
        if not self.base_urls:
            raise ValueError(f"no URL for {service}")
        self.service, self.base_url, self.signer, self.session = service, self.base_urls[0], signer, session
        self._turn = 0

    def _headers(self, claims: internal_auth.Claims, request_id: str | None) -> dict[str, str]:
        token = claims.relayable_to(self.service) or self.signer.sign(
            claims, internal_auth.audience_for(self.signer.issuer, self.service, claims))
        headers = {"Authorization": f"Bearer {token}"}
        if request_id:
            headers["X-Request-Id"] = request_id
        return headers

    async def _send(self, method: str, path: str, **options: Any) -> aiohttp.ClientResponse:
        """The open response from the next replica in turn that accepts the connection."""
        start = self._turn % len(self.base_urls)
        self._turn = start + 1
        order = self.base_urls[start:] + self.base_urls[:start]
        for attempt, base in enumerate(order):
            try:
                return await self.session.request(method, base + path, **options)
            except aiohttp.ClientConnectorError:
                if attempt == len(order) - 1:
                    raise
                log.warning("replica refused the connection; trying the next", extra={"target": self.service})
        raise AssertionError("unreachable")

    @contextlib.asynccontextmanager
    async def _answered(self, method: str, path: str, claims: internal_auth.Claims, *, expect: Container[int],
                        request_id: str | None, headers: dict[str, str] | None = None,
                        **options: Any) -> AsyncIterator[aiohttp.ClientResponse]:
        """The open response to one call, when its status is one of `expect`: any other is raised as the
        service's problem, and no answer in time (a refused, broken or timed-out connection, while sending or
        while the caller reads) as 503 with Retry-After. Every way of calling shares these rules."""
        sent = {**(headers or {}), **self._headers(claims, request_id)}
        try:
            async with await self._send(method, path, headers=sent, **options) as resp:
                if resp.status not in expect:
                    raise await _problem_of(resp)
                yield resp
        except (aiohttp.ClientError, TimeoutError):  # no answer in time: unavailable, not a 500
            raise self._unavailable(path) from None

    async def call(self, method: str, path: str, claims: internal_auth.Claims, *, json_body: Any = None,
                   request_id: str | None = None, expect: tuple[int, ...] = SUCCESS) -> Any:
        """The service's JSON answer, parsed (None for a 204)."""
        async with self._answered(method, path, claims, expect=expect, request_id=request_id,
                                  json=json_body) as resp:
            return None if resp.status == 204 else await resp.json()

    async def answer(self, method: str, path: str, claims: internal_auth.Claims, *, json_body: Any = None,
                     request_id: str | None = None, expect: tuple[int, ...] = SUCCESS) -> Answer:
        """As `call`, with the JSON body as the service sent it, unread: for the gateway to pass on. The owning
        service's `serves` has already validated it against the operation and serialised it from the model, so
        reading, checking and writing it again would prove nothing new. A success that is not JSON is a 502."""
        async with self._answered(method, path, claims, expect=expect, request_id=request_id,
                                  json=json_body) as resp:
            body = await resp.read()
            if body and resp.content_type != "application/json":
                raise _unexpected()
            return Answer(resp.status, body)

    @contextlib.asynccontextmanager
    async def raw(self, method: str, path: str, claims: internal_auth.Claims, *, data: bytes | None = None,
                  headers: dict[str, str] | None = None, request_id: str | None = None,
                  timeout: float | None = None) -> AsyncIterator[aiohttp.ClientResponse]:
        """As `call`, for bodies that are not JSON (file uploads, downloads): the open response, to stream from.
        A 4xx or 5xx is raised as the service's problem before anything is yielded."""
        options: dict[str, Any] = {"timeout": aiohttp.ClientTimeout(total=timeout)} if timeout else {}
        async with self._answered(method, path, claims, expect=NOT_AN_ERROR, request_id=request_id,
                                  headers=headers, data=data, **options) as resp:
            yield resp

    def _unavailable(self, path: str) -> Problem:
        log.warning("service unreachable", extra={"target": self.service, "path": redact(path)})
        return Problem(503, "The service is temporarily unavailable", "Try again in a moment.",
                       code="unavailable", headers={"Retry-After": "2"})


async def _problem_of(resp: aiohttp.ClientResponse) -> Problem:
    """The problem a service answered with, to pass on as ours; 502 if it answered with something else."""
    if resp.content_type == PROBLEM_JSON:
        body = await resp.json()
        passed_headers = {k: v for k, v in resp.headers.items() if k in ("Retry-After",)}
        return Problem.from_dict(body, passed_headers)
    return _unexpected()


def _unexpected() -> Problem:
    return Problem(502, "A service answered unexpectedly", code="bad_gateway")


def client_session(timeout: float = 10.0) -> aiohttp.ClientSession:
    # No cookie jar: one shared session serves every user's calls, so nothing may be remembered between them.
    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout), cookie_jar=aiohttp.DummyCookieJar(),
                                 trace_configs=[create_trace_config()])
