"""The pages: each reads a form, asks the gateway, and renders or redirects. No business rules here.

This module: start, signing in with the emailed code, home, signing out and the session's clock.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from services.portal import accounts, forms
from services.portal.gateway_client import (
    SESSION_COOKIE,
    GatewayProblem,
    GatewayUnavailable,
    NotSignedIn,
)
from services.portal.pagekit import (
    GATEWAY,
    Journey,
    caller,
    client_address,
    gateway,
    portal_settings,
    redirect,
    render,
    render_signed_in,
)
from services.portal.qa_pages import grade_tag
from services.portal.security import RETURN_COOKIE, clear_cookie, is_return_path, renew_browser_secret, set_cookie
from shared.api import auth
from shared.api.identity import SessionInfo
from shared.api.qa import MY_PEP_RATINGS

__all__ = ["GATEWAY", "client_address", "routes"]

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

# Between the sign-in page and the code page: the attempt id (and the email, to say where the code
# went) in a signed, HttpOnly cookie that only the sign-in pages receive.
SIGN_IN = Journey(cookie="epep_sign_in", purpose="sign-in", path="/sign-in")
# Why someone is on the sign-in or signed-out page, when we know.
SIGNED_OUT_REASONS = ("timeout", "session-ended", "everywhere")


def _sign_in_attempt(request: web.Request) -> dict[str, Any] | None:
    attempt = SIGN_IN.read(request, portal_settings(request).sign_in_attempt_seconds)
    if attempt is None or not isinstance(attempt.get("attempt_id"), str):
        return None
    return attempt


def _remember_sign_in_attempt(request: web.Request, response: web.Response, attempt_id: str, email: str) -> None:
    SIGN_IN.remember(request, response, {"attempt_id": attempt_id, "email": email},
                     portal_settings(request).sign_in_attempt_seconds)


@routes.get("/")
async def start(request: web.Request) -> web.Response:
    return render(request, "start.html")


@routes.get("/accessibility")
async def accessibility(request: web.Request) -> web.Response:
    return render(request, "accessibility.html")


@routes.get("/privacy")
async def privacy(request: web.Request) -> web.Response:
    return render(request, "privacy.html")


@routes.get("/sign-in")
async def sign_in_form(request: web.Request) -> web.Response:
    reason = request.query.get("reason")
    return render(request, "sign_in.html", {"form": forms.SignInForm(),
                                            "signed_out_reason": reason if reason in SIGNED_OUT_REASONS else None,
                                            "idle_words": idle_words(request)})


@routes.post("/sign-in")
async def sign_in(request: web.Request) -> web.Response:
    data = await request.post()
    form = forms.check_sign_in(str(data.get("email", "")), str(data.get("password", "")))
    problem = None
    if not form.errors:
        try:
            started = await gateway(request).call(auth.SIGN_IN, caller(request),
                                                  {"email": form.email, "password": form.password})
        except GatewayProblem as p:
            # Throttling ("Try again in N seconds") or the gateway's own field checks.
            form.errors = {k: v for k, v in p.field_errors().items() if k in ("email", "password")}
            problem = None if form.errors else p.message
            log.info("sign-in refused", extra={"status": p.status, "code": p.code})
        else:
            # Right or wrong, the gateway answers the same: the code page says "if they were right".
            response = redirect("/sign-in/code")
            _remember_sign_in_attempt(request, response, str(started.attempt_id), form.email)
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
        signed_in = await gateway(request).verify_code(caller(request), attempt["attempt_id"], form.code)
    except GatewayProblem as p:
        log.info("code refused", extra={"status": p.status, "code": p.code})
        return _code_page(request, attempt, errors={"code": p.message})
    settings = portal_settings(request)
    back_to = request.cookies.get(RETURN_COOKIE, "")
    response = redirect(back_to if is_return_path(back_to) else "/home")
    clear_cookie(response, settings, RETURN_COOKIE)
    set_cookie(response, settings, SESSION_COOKIE, signed_in.session_token)
    SIGN_IN.forget(request, response)
    renew_browser_secret(request)
    log.info("signed in", extra={"user_id": signed_in.user_id})
    return response


@routes.post("/sign-in/code/resend")
async def send_new_code(request: web.Request) -> web.Response:
    attempt = _sign_in_attempt(request)
    if attempt is None:
        return redirect("/sign-in")
    try:
        started = await gateway(request).call(auth.RESEND_SIGN_IN_CODE, caller(request),
                                              {"attempt_id": attempt["attempt_id"]})
    except GatewayProblem as p:
        log.info("new code refused", extra={"status": p.status, "code": p.code})
        return _code_page(request, attempt, problem=p.message)
    response = redirect("/sign-in/code?new-code=sent")
    _remember_sign_in_attempt(request, response, str(started.attempt_id), str(attempt.get("email", "")))
    return response


RATING_READERS = ("social_worker", "designated_teacher", "iro")


@routes.get("/home")
async def home(request: web.Request) -> web.Response:
    if SESSION_COOKIE not in request.cookies:
        return redirect("/sign-in")
    me = await gateway(request).call(auth.GET_ME, caller(request, signed_in=True))
    groups = accounts.group_memberships(m.model_dump() for m in me.memberships)
    accepted = request.query.get("invitation") == "accepted"
    # The latest QA rating of each child a social worker, DT or IRO works with (Welfare Call's home page box).
    ratings = None
    if any(m.role in RATING_READERS for m in me.memberships):
        try:
            found = await gateway(request).call(MY_PEP_RATINGS, caller(request, signed_in=True))
        except (GatewayUnavailable, GatewayProblem) as exc:
            if isinstance(exc, GatewayProblem) and exc.status < 500:
                raise
            log.warning("home page without the latest ratings: pep did not answer")  # the rest still works
        else:
            ratings = [{"r": r, "tag": grade_tag(r.grade, r.grade_label) or {"text": "Not rated",
                                                                              "classes": "govuk-tag--grey"}}
                       for r in found.items]
    return await render_signed_in(request, "home.html", {"me": me, "groups": groups, "current_page": "home",
                                                         "ratings": ratings,
                                                         "done": {"heading": "Invitation accepted"} if accepted
                                                         else None})


async def end_session_here(request: web.Request, location: str) -> web.Response:
    """Sign this browser out (telling the gateway when it can be told) and go to `location`."""
    if SESSION_COOKIE in request.cookies:
        try:
            await gateway(request).call(auth.SIGN_OUT, caller(request, signed_in=True))
        except NotSignedIn:
            pass
        except GatewayUnavailable:
            # The browser forgets the token anyway; the session ends at its idle timeout.
            log.warning("sign-out not recorded by the gateway")
    response = redirect(location)
    clear_cookie(response, portal_settings(request), SESSION_COOKIE)
    renew_browser_secret(request)
    return response


@routes.post("/sign-out")
async def sign_out(request: web.Request) -> web.Response:
    data = await request.post()
    # The timeout warning's script signs out with reason=timeout when the time is up.
    timed_out = data.get("reason") == "timeout"
    return await end_session_here(request, "/signed-out?reason=timeout" if timed_out else "/signed-out")


def idle_words(request: web.Request) -> str:
    """How long without activity ended the session, in words: the person's own idle timeout, which the timeout
    warning's script passes as `after` (seconds) from the page's session clock; the usual one when not known."""
    after = request.query.get("after", "")
    seconds = int(after) if after.isdigit() and len(after) <= 5 else 0
    if not 0 < seconds <= 24 * 60 * 60:
        seconds = portal_settings(request).idle_timeout_minutes * 60
    if seconds % 60:  # only where a test has shrunk the LA's minutes to seconds
        return "1 second" if seconds == 1 else f"{seconds} seconds"
    minutes = seconds // 60
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


@routes.get("/signed-out")
async def signed_out(request: web.Request) -> web.Response:
    reason = request.query.get("reason")
    return render(request, "signed_out.html", {"reason": reason if reason in SIGNED_OUT_REASONS else None,
                                               "idle_words": idle_words(request)})


# ---- the session's clock, for the timeout warning's script ----------------------------------------


def _clock_json(times: SessionInfo) -> web.Response:
    return web.json_response({"idle_expires_at": times.idle_expires_at.isoformat(),
                              "warn_seconds": times.warn_seconds_before, "idle_seconds": times.idle_timeout_seconds,
                              "server_time": _now_iso()})


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


@routes.get("/session")
async def session_clock(request: web.Request) -> web.Response:
    """When the session ends if idle (asking does not extend it): JSON for the timeout warning."""
    if SESSION_COOKIE not in request.cookies:
        return web.json_response({"signed_in": False}, status=401)
    try:
        times = await gateway(request).call(auth.GET_SESSION, caller(request, signed_in=True))
    except NotSignedIn:
        return web.json_response({"signed_in": False}, status=401)
    return _clock_json(times)


@routes.post("/session/extend")
async def extend_session(request: web.Request) -> web.Response:
    """"Stay signed in": JSON for the script; a plain form post goes back to the page it came from."""
    wants_json = "application/json" in request.headers.get("Accept", "")
    try:
        if SESSION_COOKIE not in request.cookies:
            raise NotSignedIn()
        times = await gateway(request).call(auth.EXTEND_SESSION, caller(request, signed_in=True))
    except NotSignedIn as exc:
        if wants_json:
            return web.json_response({"signed_in": False}, status=401)
        raise exc
    if wants_json:
        return _clock_json(times)
    return redirect(forms.local_path(request.headers.get("Referer", ""), request.host) or "/home")
