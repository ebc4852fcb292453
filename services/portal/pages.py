"""The pages: each reads a form, asks the gateway, and renders or redirects. No business rules here."""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Network
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from services.portal import accounts, forms, tokens
from services.portal.gateway_client import (
    SESSION_COOKIE,
    Caller,
    GatewayClient,
    GatewayProblem,
    GatewayUnavailable,
    NotSignedIn,
)
from services.portal.security import clear_cookie, renew_browser_secret, set_cookie
from services.portal.settings import PortalSettings
from shared.service import SETTINGS
from shared.web import REQUEST_ID

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
GATEWAY = web.AppKey("gateway", GatewayClient)

# Between the sign-in page and the code page: the attempt id (and the email, to say where the code
# went) in a signed, HttpOnly cookie that only the sign-in pages receive.
SIGN_IN_COOKIE = "epep_sign_in"
SIGN_IN_PATH = "/sign-in"


def _settings(request: web.Request) -> PortalSettings:
    settings = request.app[SETTINGS]
    assert isinstance(settings, PortalSettings)
    return settings


def _caller(request: web.Request, *, signed_in: bool = False) -> Caller:
    return Caller(client_address=client_address(request, _settings(request).trusted_proxies),
                  request_id=request[REQUEST_ID],
                  session_token=request.cookies.get(SESSION_COOKIE) if signed_in else None)


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
    context["error_list"] = forms.error_summary_items(errors)
    return aiohttp_jinja2.render_template(template, request, context, status=status)


def redirect(location: str) -> web.Response:
    """303 See Other: after a POST the browser fetches the next page with GET."""
    return web.Response(status=303, headers={"Location": location})


def _sign_in_attempt(request: web.Request) -> dict[str, Any] | None:
    settings = _settings(request)
    attempt = tokens.unsign(settings.csrf_key.get_secret_value(), "sign-in", request.cookies.get(SIGN_IN_COOKIE),
                            settings.sign_in_attempt_seconds, time.time())
    if attempt is None or not isinstance(attempt.get("attempt_id"), str):
        return None
    return attempt


def _remember_sign_in_attempt(request: web.Request, response: web.Response, attempt_id: str, email: str) -> None:
    settings = _settings(request)
    value = tokens.sign(settings.csrf_key.get_secret_value(), "sign-in",
                        {"attempt_id": attempt_id, "email": email}, time.time())
    set_cookie(response, settings, SIGN_IN_COOKIE, value, max_age=settings.sign_in_attempt_seconds,
               path=SIGN_IN_PATH)


@routes.get("/")
async def start(request: web.Request) -> web.Response:
    return render(request, "start.html")


@routes.get("/accessibility")
async def accessibility(request: web.Request) -> web.Response:
    return render(request, "accessibility.html")


@routes.get("/sign-in")
async def sign_in_form(request: web.Request) -> web.Response:
    return render(request, "sign_in.html", {"form": forms.SignInForm()})


@routes.post("/sign-in")
async def sign_in(request: web.Request) -> web.Response:
    data = await request.post()
    form = forms.check_sign_in(str(data.get("email", "")), str(data.get("password", "")))
    problem = None
    if not form.errors:
        try:
            attempt_id = await request.app[GATEWAY].start_sign_in(_caller(request), form.email, form.password)
        except GatewayProblem as p:
            # Throttling ("Try again in N seconds") or the gateway's own field checks.
            form.errors = {k: v for k, v in p.field_errors().items() if k in ("email", "password")}
            problem = None if form.errors else p.message
            log.info("sign-in refused", extra={"status": p.status, "code": p.code})
        else:
            # Right or wrong, the gateway answers the same: the code page says "if they were right".
            response = redirect("/sign-in/code")
            _remember_sign_in_attempt(request, response, attempt_id, form.email)
            return response
    form.password = ""  # never sent back to the browser
    return render(request, "sign_in.html", {"form": form, "errors": form.errors, "problem": problem})


def _code_page(request: web.Request, attempt: dict[str, Any], **context: Any) -> web.Response:
    return render(request, "code.html", {"email": attempt.get("email", ""), "entered": "", **context})


@routes.get("/sign-in/code")
async def code_form(request: web.Request) -> web.Response:
    attempt = _sign_in_attempt(request)
    if attempt is None:
        return redirect("/sign-in")
    return _code_page(request, attempt, new_code_sent=request.query.get("new-code") == "sent")


@routes.post("/sign-in/code")
async def check_code(request: web.Request) -> web.Response:
    attempt = _sign_in_attempt(request)
    if attempt is None:
        return redirect("/sign-in")
    data = await request.post()
    form = forms.check_code(str(data.get("code", "")))
    if form.errors:
        return _code_page(request, attempt, errors=form.errors, entered=form.entered)
    try:
        signed_in = await request.app[GATEWAY].verify_code(_caller(request), attempt["attempt_id"], form.code)
    except GatewayProblem as p:
        log.info("code refused", extra={"status": p.status, "code": p.code})
        return _code_page(request, attempt, errors={"code": p.message})
    settings = _settings(request)
    response = redirect("/home")
    set_cookie(response, settings, SESSION_COOKIE, signed_in.session_token)
    clear_cookie(response, settings, SIGN_IN_COOKIE, path=SIGN_IN_PATH)
    renew_browser_secret(request)
    log.info("signed in", extra={"user_id": signed_in.user_id})
    return response


@routes.post("/sign-in/code/resend")
async def send_new_code(request: web.Request) -> web.Response:
    attempt = _sign_in_attempt(request)
    if attempt is None:
        return redirect("/sign-in")
    try:
        attempt_id = await request.app[GATEWAY].send_new_code(_caller(request), attempt["attempt_id"])
    except GatewayProblem as p:
        log.info("new code refused", extra={"status": p.status, "code": p.code})
        return _code_page(request, attempt, problem=p.message)
    response = redirect("/sign-in/code?new-code=sent")
    _remember_sign_in_attempt(request, response, attempt_id, str(attempt.get("email", "")))
    return response


@routes.get("/home")
async def home(request: web.Request) -> web.Response:
    if SESSION_COOKIE not in request.cookies:
        return redirect("/sign-in")
    me = await request.app[GATEWAY].me(_caller(request, signed_in=True))
    groups = accounts.group_memberships(m.model_dump() for m in me.memberships)
    return render(request, "home.html", {"me": me, "groups": groups, "current_page": "home"})


@routes.post("/sign-out")
async def sign_out(request: web.Request) -> web.Response:
    if SESSION_COOKIE in request.cookies:
        try:
            await request.app[GATEWAY].sign_out(_caller(request, signed_in=True))
        except NotSignedIn:
            pass
        except GatewayUnavailable:
            # The browser forgets the token anyway; the session ends at its idle timeout.
            log.warning("sign-out not recorded by the gateway")
    response = redirect("/signed-out")
    clear_cookie(response, _settings(request), SESSION_COOKIE)
    renew_browser_secret(request)
    return response


@routes.get("/signed-out")
async def signed_out(request: web.Request) -> web.Response:
    return render(request, "signed_out.html")
