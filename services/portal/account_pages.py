"""A person's own account: forgotten password, the account page, changing password or email, sessions."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from services.portal import accounts, forms
from services.portal.gateway_client import SESSION_COOKIE, Caller, GatewayProblem, GatewayUnavailable, NotSignedIn
from services.portal.pagekit import (
    Journey,
    caller,
    gateway,
    portal_settings,
    redirect,
    render,
    render_signed_in,
    require_uuid,
)
from services.portal.pages import end_session_here
from services.portal.security import clear_cookie, renew_browser_secret
from shared.api import auth, identity
from shared.api.auth import Me
from shared.api.notifications import GET_NOTIFICATION_PREFERENCES, SET_NOTIFICATION_PREFERENCES

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

RESET = Journey(cookie="epep_reset", purpose="password-reset", path="/forgotten-password")
EMAIL_CHANGE = Journey(cookie="epep_email_change", purpose="email-change", path="/account/email")
SUCCESS = {
    "password": {"heading": "Your password has been changed",
                 "body": "We have signed you out on your other devices and browsers."},
    "email": {"heading": "Your email address has been changed",
              "body": "Use your new email address next time you sign in."},
    "reminders": {"heading": "Your choice of reminders has been saved", "body": ""},
}
REMINDERS = {"immediate": "As they happen", "daily": "In one email a day, from 7am"}


# ---- forgotten password (signed out) ----------------------------------------------------------------


@routes.get("/forgotten-password")
async def forgotten_password_form(request: web.Request) -> web.Response:
    return render(request, "forgotten_password.html", {"form": forms.Form({"email": ""})})


@routes.post("/forgotten-password")
async def forgotten_password(request: web.Request) -> web.Response:
    form = forms.check_email(await request.post())
    if not form.errors:
        try:
            started = await gateway(request).call(identity.REQUEST_PASSWORD_RESET, caller(request),
                                                  {"email": form.values["email"]})
        except GatewayProblem as p:
            log.info("password reset refused", extra={"status": p.status, "code": p.code})
            problem = None if form.merge_gateway_errors(p.field_errors()) else p.message
            return render(request, "forgotten_password.html", {"form": form, "errors": form.errors,
                                                               "problem": problem})
        response = redirect("/forgotten-password/code")
        RESET.remember(request, response, {"attempt_id": str(started.attempt_id), "email": form.values["email"]},
                       portal_settings(request).journey_seconds)
        return response
    return render(request, "forgotten_password.html", {"form": form, "errors": form.errors})


def _reset_attempt(request: web.Request) -> dict[str, Any] | None:
    attempt = RESET.read(request, portal_settings(request).journey_seconds)
    if attempt is None or not isinstance(attempt.get("attempt_id"), str):
        return None
    return attempt


@routes.get("/forgotten-password/code")
async def reset_form(request: web.Request) -> web.Response:
    attempt = _reset_attempt(request)
    if attempt is None:
        return redirect("/forgotten-password")
    return render(request, "reset_password.html", {"email": attempt.get("email", ""),
                                                   "form": forms.Form({"code": "", "new_password": ""})})


@routes.post("/forgotten-password/code")
async def reset_password(request: web.Request) -> web.Response:
    attempt = _reset_attempt(request)
    if attempt is None:
        return redirect("/forgotten-password")
    form, code, password = forms.check_reset(await request.post())
    problem = None
    if not form.errors:
        try:
            await gateway(request).call(identity.COMPLETE_PASSWORD_RESET, caller(request), {
                "attempt_id": attempt["attempt_id"], "code": code.code, "new_password": password})
        except GatewayProblem as p:
            log.info("password reset code refused", extra={"status": p.status, "code": p.code})
            if p.status == 400 or p.code in ("code_invalid", "code_expired", "code_locked"):
                form.errors = {"code": p.message}
            elif not form.merge_gateway_errors(p.field_errors()):
                problem = p.message
        else:
            # Every session ended, this browser's too.
            response = redirect("/forgotten-password/done")
            RESET.forget(request, response)
            clear_cookie(response, portal_settings(request), SESSION_COOKIE)
            renew_browser_secret(request)
            return response
    return render(request, "reset_password.html", {"email": attempt.get("email", ""), "form": form,
                                                   "errors": form.errors, "problem": problem})


@routes.get("/forgotten-password/done")
async def password_reset_done(request: web.Request) -> web.Response:
    return render(request, "account_ready.html", {
        "heading": "Your password has been changed",
        "paragraphs": ["We have signed you out everywhere you were signed in.",
                       "Sign in with your new password."],
    })


# ---- the account page (signed in) -------------------------------------------------------------------


async def _me(request: web.Request) -> Me:
    if SESSION_COOKIE not in request.cookies:
        raise NotSignedIn()
    me: Me = await gateway(request).call(auth.GET_ME, caller(request, signed_in=True))
    return me


async def _reminders(request: web.Request, who: Caller) -> str:
    """How this person gets reminders: "immediate" or "daily"."""
    chosen = await gateway(request).call(GET_NOTIFICATION_PREFERENCES, who)
    return str(chosen.reminders)


@routes.get("/account")
async def account(request: web.Request) -> web.Response:
    me = await _me(request)
    groups = accounts.group_memberships(m.model_dump() for m in me.memberships)
    try:
        chosen = await _reminders(request, caller(request, signed_in=True))
        reminders = REMINDERS.get(chosen, chosen)
    except (GatewayProblem, GatewayUnavailable):
        reminders = "Not available just now"  # the page is still the person's account without it
    return await render_signed_in(request, "account.html", {
        "me": me, "groups": groups, "current_page": "account", "reminders": reminders,
        "success": SUCCESS.get(request.query.get("changed", ""))})


@routes.get("/account/reminders")
async def reminders_form(request: web.Request) -> web.Response:
    who = caller(request, signed_in=True)
    await _me(request)
    chosen = await _reminders(request, who)
    return await render_signed_in(request, "account_reminders.html", {
        "current_page": "account", "items": [{"value": k, "text": v, "checked": k == chosen}
                                             for k, v in REMINDERS.items()], "errors": {}})


@routes.post("/account/reminders")
async def change_reminders(request: web.Request) -> web.Response:
    who = caller(request, signed_in=True)
    await _me(request)
    chosen = str((await request.post()).get("reminders", ""))
    if chosen not in REMINDERS:
        return await render_signed_in(request, "account_reminders.html", {
            "current_page": "account", "items": [{"value": k, "text": v} for k, v in REMINDERS.items()],
            "errors": {"reminders": "Select how you want to get reminders"}})
    await gateway(request).call(SET_NOTIFICATION_PREFERENCES, who, {"reminders": chosen})
    return redirect("/account?changed=reminders")


@routes.get("/account/password")
async def change_password_form(request: web.Request) -> web.Response:
    await _me(request)
    return await render_signed_in(request, "change_password.html", {"current_page": "account"})


@routes.post("/account/password")
async def change_password(request: web.Request) -> web.Response:
    if SESSION_COOKIE not in request.cookies:
        raise NotSignedIn()
    form, current, new = forms.check_password_change(await request.post())
    problem = None
    if not form.errors:
        try:
            await gateway(request).call(identity.CHANGE_PASSWORD, caller(request, signed_in=True),
                                        {"current_password": current, "new_password": new})
        except GatewayProblem as p:
            log.info("password change refused", extra={"status": p.status, "code": p.code})
            problem = None if form.merge_gateway_errors(p.field_errors()) else p.message
        else:
            return redirect("/account?changed=password")
    return await render_signed_in(request, "change_password.html", {
        "current_page": "account", "form": form, "errors": form.errors, "problem": problem})


@routes.get("/account/email")
async def change_email_form(request: web.Request) -> web.Response:
    me = await _me(request)
    return await render_signed_in(request, "change_email.html", {
        "me": me, "current_page": "account", "form": forms.Form({"new_email": "", "password": ""})})


@routes.post("/account/email")
async def change_email(request: web.Request) -> web.Response:
    me = await _me(request)
    form, password = forms.check_email_change(await request.post(), me.email)
    problem = None
    if not form.errors:
        try:
            started = await gateway(request).call(identity.CHANGE_EMAIL, caller(request, signed_in=True),
                                                  {"new_email": form.values["new_email"], "password": password})
        except GatewayProblem as p:
            log.info("email change refused", extra={"status": p.status, "code": p.code})
            problem = None if form.merge_gateway_errors(p.field_errors()) else p.message
        else:
            response = redirect("/account/email/code")
            EMAIL_CHANGE.remember(request, response, {"change_id": str(started.change_id),
                                                      "email": form.values["new_email"]},
                                  portal_settings(request).journey_seconds)
            return response
    return await render_signed_in(request, "change_email.html", {
        "me": me, "current_page": "account", "form": form, "errors": form.errors, "problem": problem})


def _email_change(request: web.Request) -> dict[str, Any] | None:
    change = EMAIL_CHANGE.read(request, portal_settings(request).journey_seconds)
    if change is None or not isinstance(change.get("change_id"), str):
        return None
    return change


@routes.get("/account/email/code")
async def email_code_form(request: web.Request) -> web.Response:
    change = _email_change(request)
    if change is None:
        return redirect("/account/email")
    await _me(request)
    return await render_signed_in(request, "change_email_code.html", {
        "email": change.get("email", ""), "entered": "", "current_page": "account"})


@routes.post("/account/email/code")
async def check_email_code(request: web.Request) -> web.Response:
    change = _email_change(request)
    if change is None:
        return redirect("/account/email")
    if SESSION_COOKIE not in request.cookies:
        raise NotSignedIn()
    code = forms.check_code(str((await request.post()).get("code", "")))
    errors = code.errors
    if not errors:
        try:
            await gateway(request).call(identity.VERIFY_EMAIL_CHANGE, caller(request, signed_in=True),
                                        {"change_id": change["change_id"], "code": code.code})
        except GatewayProblem as p:
            log.info("email change code refused", extra={"status": p.status, "code": p.code})
            errors = {"code": p.message}
        else:
            response = redirect("/account?changed=email")
            EMAIL_CHANGE.forget(request, response)
            return response
    return await render_signed_in(request, "change_email_code.html", {
        "email": change.get("email", ""), "entered": code.entered, "errors": errors, "current_page": "account"})


@routes.get("/account/sessions")
async def sessions(request: web.Request) -> web.Response:
    if SESSION_COOKIE not in request.cookies:
        raise NotSignedIn()
    found = await gateway(request).call(identity.LIST_MY_SESSIONS, caller(request, signed_in=True))
    found.sort(key=lambda s: (not s.current, -(s.last_seen_at or s.created_at).timestamp()))
    return await render_signed_in(request, "sessions.html", {
        "sessions": found, "current_page": "account", "ended": request.query.get("ended") == "1"})


@routes.post("/account/sessions/{session_id}/sign-out")
async def end_session(request: web.Request) -> web.Response:
    session_id = require_uuid(request, "session_id")
    if SESSION_COOKIE not in request.cookies:
        raise NotSignedIn()
    await gateway(request).call(identity.END_MY_SESSION, caller(request, signed_in=True), session_id=session_id)
    return redirect("/account/sessions?ended=1")


@routes.post("/account/sessions/sign-out-everywhere")
async def sign_out_everywhere(request: web.Request) -> web.Response:
    if SESSION_COOKIE in request.cookies:
        await gateway(request).call(auth.SIGN_OUT_EVERYWHERE, caller(request, signed_in=True))
    return await end_session_here(request, "/signed-out?reason=everywhere")

