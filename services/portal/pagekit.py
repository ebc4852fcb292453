"""What every page handler uses: rendering, redirects, who is calling, and the signed cookies that carry
a journey (signing in, registering, resetting a password, changing an email) from one page to the next."""

from __future__ import annotations

import ipaddress
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from ipaddress import IPv4Network, IPv6Network
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from services.portal import forms, tokens
from services.portal.gateway_client import (
    SESSION_COOKIE,
    Caller,
    GatewayClient,
    GatewayProblem,
    GatewayUnavailable,
    NotSignedIn,
)
from services.portal.security import clear_cookie, set_cookie
from services.portal.settings import PortalSettings
from shared.api.auth import GET_ME, GET_SESSION
from shared.service import SETTINGS
from shared.web import REQUEST_ID

log = logging.getLogger(__name__)
GATEWAY = web.AppKey("gateway", GatewayClient)
QA_ROLES = frozenset({"vs_admin", "vs_caseworker", "vs_approver"})


def portal_settings(request: web.Request) -> PortalSettings:
    settings = request.app[SETTINGS]
    assert isinstance(settings, PortalSettings)
    return settings


def gateway(request: web.Request) -> GatewayClient:
    return request.app[GATEWAY]


def caller(request: web.Request, *, signed_in: bool = False) -> Caller:
    return Caller(client_address=client_address(request, portal_settings(request).trusted_proxies),
                  request_id=request[REQUEST_ID],
                  session_token=request.cookies.get(SESSION_COOKIE) if signed_in else None)


# Forms anyone may post: signing in and out, registering, a forgotten password, the views link. Every other form is
# for a signed-in person, and their session is checked before its body is read.
PUBLIC_FORMS = ("/sign-in", "/sign-out", "/session/extend", "/forgotten-password", "/create-account/", "/invitations/",
                "/your-views/")


async def session_before_body(request: web.Request) -> web.StreamResponse | None:
    """Refuses, before the body is read, a form that needs signing in and comes without a live session: the cookie's
    presence is not enough (anyone can send one), so the gateway is asked, without extending the session. The sign-in
    page for a form; for a script's autosave the JSON answer it understands."""
    if request.path.startswith(PUBLIC_FORMS):
        return None
    try:
        if SESSION_COOKIE not in request.cookies:
            raise NotSignedIn()
        await gateway(request).call(GET_SESSION, caller(request, signed_in=True))
    except GatewayUnavailable:
        pass  # the form is still checked for its CSRF token; the page's own calls then answer that we are away
    except NotSignedIn:
        if request.path.endswith("/autosave"):
            return web.json_response({"status": "signed_out", "message": "You have been signed out. Your latest "
                                      "answers are not saved."}, status=401)
        raise
    return None


def client_address(request: web.Request, trusted_proxies: Sequence[IPv4Network | IPv6Network]) -> str:
    """The person's address: the peer, or what a trusted load balancer in front of us says it saw."""
    peer = request.remote or "unknown"
    forwarded = request.headers.get("X-Forwarded-For", "")
    if forwarded and _in_networks(peer, trusted_proxies):
        # The right-most address is the one our balancer saw; anything left of it the client could forge.
        candidate = forwarded.split(",")[-1].strip()
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            pass
    return peer


def _in_networks(address: str, networks: Sequence[IPv4Network | IPv6Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def render(request: web.Request, template: str, context: dict[str, Any] | None = None,
           status: int = 200) -> web.Response:
    context = dict(context or {})
    errors: dict[str, str] = context.setdefault("errors", {})
    if "error_list" not in context:  # a page may link its errors elsewhere (another page's questions)
        context["error_list"] = forms.error_summary_items(errors)
    return aiohttp_jinja2.render_template(template, request, context, status=status)


async def render_signed_in(request: web.Request, template: str, context: dict[str, Any] | None = None,
                           status: int = 200) -> web.Response:
    """A page for a signed-in person, carrying the session's clock for the timeout warning.

    Asked last, after the page's own calls (which count as activity), so the idle deadline is current.
    Raises NotSignedIn (to the sign-in page) when the session has ended; if only the clock cannot be had,
    the page is shown without the warning rather than not at all."""
    context = dict(context or {})
    context.setdefault("may_qa", await _may_qa(request, context.get("me")))
    try:
        times = await gateway(request).call(GET_SESSION, caller(request, signed_in=True))
    except GatewayUnavailable:
        log.warning("page shown without the timeout warning: no session clock")
    else:
        context["session_clock"] = {
            "idle_expires_at": times.idle_expires_at.astimezone(UTC).isoformat(),
            "warn_seconds": max(times.warn_seconds_before, 0),
            "idle_seconds": times.idle_timeout_seconds,
            "server_time": datetime.now(UTC).isoformat(),
        }
    return render(request, template, context, status)


async def _may_qa(request: web.Request, me: Any) -> bool:
    """Whether the navigation offers quality assurance: to those at a Virtual School (the page's own `me` when it
    has one). If identity cannot say, the item is left out; the QA pages still answer for themselves."""
    if me is None:
        try:
            me = await gateway(request).call(GET_ME, caller(request, signed_in=True))
        except (GatewayUnavailable, GatewayProblem):
            return False
    return any(m.role in QA_ROLES for m in getattr(me, "memberships", []))


def redirect(location: str) -> web.Response:
    """303 See Other: after a POST the browser fetches the next page with GET."""
    return web.Response(status=303, headers={"Location": location})


def require_uuid(request: web.Request, name: str) -> str:
    """A path part that must be an id: anything else is a page that does not exist."""
    value = request.match_info.get(name, "")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise web.HTTPNotFound() from None


def optional_uuid(value: str) -> str:
    """An id from a form or query, or "" when it is missing or not an id."""
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        return ""


@dataclass(frozen=True)
class Journey:
    """A signed, HttpOnly cookie that carries one journey's ids between its pages, seen only under `path`.

    The browser cannot change what is in it, and it stops working after `max_age` seconds."""

    cookie: str
    purpose: str
    path: str

    def read(self, request: web.Request, max_age: int) -> dict[str, Any] | None:
        key = portal_settings(request).csrf_key.get_secret_value()
        return tokens.unsign(key, self.purpose, request.cookies.get(self.cookie), max_age, time.time())

    def remember(self, request: web.Request, response: web.StreamResponse, payload: dict[str, Any],
                 max_age: int) -> None:
        settings = portal_settings(request)
        value = tokens.sign(settings.csrf_key.get_secret_value(), self.purpose, payload, time.time())
        set_cookie(response, settings, self.cookie, value, max_age=max_age, path=self.path)

    def forget(self, request: web.Request, response: web.StreamResponse) -> None:
        clear_cookie(response, portal_settings(request), self.cookie, path=self.path)
