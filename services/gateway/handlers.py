"""The one public API. It knows who is asking (the session cookie, checked with identity) and passes the
request on with a short-lived signed token carrying their claims; services authorise on their own data."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Awaitable, Callable

from aiohttp import web

from services.gateway.bound import answers
from services.gateway.openapi import document
from services.gateway.sessions import Sessions, token_key
from services.gateway.settings import GatewaySettings
from shared.api import auth
from shared.api.identity import SessionInfo
from shared.api.operations import of_service
from shared.api.sessions import RESOLVE_PATH, ResolvedSession
from shared.errors import Problem
from shared.internal_auth import Claims
from shared.service import SETTINGS
from shared.web import REQUEST_ID, ServiceClient, json_model, parse_body

IDENTITY = web.AppKey("identity_client", ServiceClient)
CLIENTS = web.AppKey("service_clients", dict[str, ServiceClient])
SESSIONS = web.AppKey("sessions", Sessions)
GATEWAY = Claims(sub="service:gateway")


# ---- helpers --------------------------------------------------------------------------------------


def _settings(request: web.Request) -> GatewaySettings:
    settings = request.app[SETTINGS]
    assert isinstance(settings, GatewaySettings)
    return settings


def client_address(request: web.Request) -> str:
    """The browser's address: from X-Forwarded-For only when the peer is a trusted proxy (the portal)."""
    peer = request.remote or "unknown"
    forwarded = request.headers.get("X-Forwarded-For", "")
    if forwarded and _trusted(peer, _settings(request)):
        # The right-most address is the one our own proxy saw; anything left of it the client could forge.
        candidate = forwarded.split(",")[-1].strip()
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            pass
    return peer


def _trusted(peer: str, settings: GatewaySettings) -> bool:
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in network for network in settings.trusted_proxies)


async def authenticate(request: web.Request) -> Claims:
    """Who holds this session cookie (401 if nobody): from the sessions this process holds, or asked of identity
    (sessions.py), which refuses an idle, expired or ended one."""
    token = request.cookies.get(_settings(request).session_cookie)
    if not token or len(token) > 128:
        raise Problem(401, "Not signed in", "Sign in to continue.", code="not_signed_in")

    async def ask() -> ResolvedSession:
        found = await request.app[IDENTITY].call("POST", RESOLVE_PATH, GATEWAY, json_body={"session_token": token},
                                                 request_id=request[REQUEST_ID])
        return ResolvedSession.model_validate(found)

    session = await request.app[SESSIONS].resolve(token, ask)
    return Claims(sub=session.user_id, session_id=session.session_id, memberships=session.memberships,
                  address=client_address(request))


@functools.cache
def _identity_operations() -> frozenset[str]:
    """identity's operations for a signed-in caller. The public ones (registering, a password reset) are left to
    identity's events: anyone can send them, so they must not be a way to empty every process's sessions."""
    return frozenset(op.id for op in of_service("identity") if not op.public)


@web.middleware
async def identity_writes_drop_held_sessions(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    """A change a signed-in person makes through identity (a deactivation, a grant, a password, a session rule...)
    holds in this process from its answer on: everything held here is dropped before the answer leaves, so the next
    request, whoever makes it, is resolved with identity. The other processes hear it from identity's events within
    moments. identity's writes are rare beside reads, and this needs no knowledge here of what each one changes."""
    response = await handler(request)
    if request.method not in ("GET", "HEAD", "OPTIONS") and response.status < 400 \
            and request.match_info.route.name in _identity_operations() and SESSIONS in request.app:
        request.app[SESSIONS].cache.clear()
    return response


def _set_session_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    settings = _settings(request)
    response.set_cookie(settings.session_cookie, token, httponly=True, samesite="Lax", path="/",
                        secure=settings.secure_cookies)


# ---- handlers -------------------------------------------------------------------------------------


@answers(auth.SIGN_IN)
async def sign_in(request: web.Request) -> web.Response:
    body = await parse_body(request, auth.SignIn)
    result = await request.app[IDENTITY].call(
        "POST", "/sign-in", GATEWAY, request_id=request[REQUEST_ID],
        json_body={**body.model_dump(), "client_address": client_address(request)})
    return json_model(auth.SignInStarted(**result), status=202)


@answers(auth.RESEND_SIGN_IN_CODE)
async def resend(request: web.Request) -> web.Response:
    body = await parse_body(request, auth.ResendCode)
    result = await request.app[IDENTITY].call(
        "POST", "/sign-in/resend", GATEWAY, request_id=request[REQUEST_ID],
        json_body={"attempt_id": str(body.attempt_id), "client_address": client_address(request)})
    return json_model(auth.SignInStarted(**result), status=202)


@answers(auth.VERIFY_SIGN_IN)
async def verify(request: web.Request) -> web.Response:
    body = await parse_body(request, auth.VerifyCode)
    result = await request.app[IDENTITY].call(
        "POST", "/sign-in/verify", GATEWAY, request_id=request[REQUEST_ID],
        json_body={"attempt_id": str(body.attempt_id), "code": body.code, "client_address": client_address(request)})
    response = json_model(auth.SignedIn(**result))
    _set_session_cookie(request, response, result["session_token"])
    return response


@answers(auth.GET_ME)
async def me(request: web.Request) -> web.Response:
    claims = await authenticate(request)
    user = await request.app[IDENTITY].call("GET", "/users/me", claims, request_id=request[REQUEST_ID])
    return json_model(auth.Me(**user))


@answers(auth.SIGN_OUT)
async def sign_out(request: web.Request) -> web.Response:
    settings = _settings(request)
    token = request.cookies.get(settings.session_cookie)
    if token and len(token) <= 128:
        request.app[SESSIONS].cache.drop_token(token_key(token))  # the other processes hear it from identity
        await request.app[IDENTITY].call("POST", "/sessions/revoke", GATEWAY, request_id=request[REQUEST_ID],
                                         json_body={"session_token": token})
    response = web.Response(status=204)
    response.del_cookie(settings.session_cookie, path="/")
    return response


@answers(auth.SIGN_OUT_EVERYWHERE)
async def sign_out_everywhere(request: web.Request) -> web.Response:
    claims = await authenticate(request)
    request.app[SESSIONS].cache.drop_user(claims.sub)
    await request.app[IDENTITY].call("POST", "/users/me/sessions/revoke-all", claims, request_id=request[REQUEST_ID])
    response = web.Response(status=204)
    response.del_cookie(_settings(request).session_cookie, path="/")
    return response


@answers(auth.GET_OPENAPI)
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(document())


async def _session(request: web.Request, touch: bool) -> web.Response:
    token = request.cookies.get(_settings(request).session_cookie, "")
    if not token or len(token) > 128:
        await authenticate(request)  # answers the usual 401
    try:
        found = await request.app[IDENTITY].call("POST", RESOLVE_PATH, GATEWAY, request_id=request[REQUEST_ID],
                                                 json_body={"session_token": token, "touch": touch})
    except Problem as problem:
        if problem.status == 401:
            request.app[SESSIONS].cache.drop_token(token_key(token))
        raise
    if touch:
        request.app[SESSIONS].cache.restarted(token_key(token), ResolvedSession.model_validate(found)
                                              .idle_expires_at.timestamp())
    info = SessionInfo(expires_at=found["expires_at"], idle_expires_at=found["idle_expires_at"],
                       warn_seconds_before=found["warning_seconds"],
                       idle_timeout_seconds=found["idle_timeout_seconds"])
    return web.Response(text=info.model_dump_json(), content_type="application/json")


@answers(auth.GET_SESSION)
async def session_info(request: web.Request) -> web.Response:
    """When this session ends; asking does not keep it alive (the timeout warning polls this)."""
    return await _session(request, touch=False)


@answers(auth.EXTEND_SESSION)
async def extend_session(request: web.Request) -> web.Response:
    """'Stay signed in': restart the idle clock."""
    return await _session(request, touch=True)
