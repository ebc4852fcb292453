"""Accepting an invitation: the emailed link, creating the account, confirming the address with a code.

Opening the link (GET) only shows the invitation; its button (POST) leads on, so a mail scanner that
follows links changes nothing. The invitation token stays in the link's path; the pending registration
travels between the code pages in a signed cookie only those pages receive.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from aiohttp import web

from services.portal import accounts, forms
from services.portal.gateway_client import SESSION_COOKIE, GatewayProblem, NotSignedIn
from services.portal.pagekit import Journey, caller, gateway, portal_settings, redirect, render
from shared.api import identity
from shared.api.identity import InvitationPreview

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

REGISTRATION = Journey(cookie="epep_registration", purpose="registration", path="/create-account")
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{20,100}$")
INVITATION_GONE = "This invitation link has expired or has already been used."
ASK_AGAIN = "Ask the person who invited you to send a new one."


def _token(request: web.Request) -> str | None:
    token = request.match_info.get("token", "")
    return token if TOKEN_SHAPE.match(token) else None


def _invitation_gone(request: web.Request, problem: GatewayProblem | None = None) -> web.Response:
    detail = problem.detail if problem is not None and problem.detail else f"{INVITATION_GONE} {ASK_AGAIN}"
    return render(request, "message.html", {
        "heading": "You cannot use this invitation link",
        "paragraphs": [detail],
        "link": {"href": "/", "text": "Find out about ePEP"},
    }, status=404)


async def _invitation(request: web.Request) -> tuple[str, InvitationPreview] | web.Response:
    token = _token(request)
    if token is None:
        return _invitation_gone(request)
    try:
        return token, await gateway(request).call(identity.LOOKUP_INVITATION, caller(request), query={"token": token})
    except GatewayProblem as p:
        if p.status in (404, 410, 422):
            return _invitation_gone(request, p if p.status != 422 else None)
        raise


def _register_page(request: web.Request, token: str, invitation: InvitationPreview, form: forms.Form,
                   problem: str | None = None) -> web.Response:
    return render(request, "register.html", {"token": token, "invitation": invitation, "form": form,
                                             "errors": form.errors, "problem": problem})


@routes.get("/invitations/{token}")
async def invitation(request: web.Request) -> web.Response:
    found = await _invitation(request)
    if isinstance(found, web.Response):
        return found
    token, summary = found
    return render(request, "invitation.html", {"token": token, "invitation": summary,
                                               "role_words": accounts.role_name(summary.role),
                                               "signed_in": SESSION_COOKIE in request.cookies})


@routes.post("/invitations/{token}/accept")
async def accept_with_account(request: web.Request) -> web.Response:
    """One login across LAs and settings: someone signed in accepts an invitation sent to their address."""
    token = _token(request)
    if token is None:
        return _invitation_gone(request)
    if SESSION_COOKIE not in request.cookies:
        raise NotSignedIn()
    try:
        await gateway(request).call(identity.ACCEPT_INVITATION, caller(request, signed_in=True), {"token": token})
    except GatewayProblem as p:
        log.info("invitation not accepted", extra={"status": p.status, "code": p.code})
        if p.status in (404, 410, 422):
            return _invitation_gone(request, p if p.status != 422 else None)
        return render(request, "message.html", {
            "heading": "This invitation is for someone else" if p.code == "invitation_not_yours"
            else "You cannot use this invitation link",
            "paragraphs": [p.detail or p.title],
            "link": {"href": "/home", "text": "Go to your home page"},
        }, status=p.status if 400 <= p.status < 500 else 400)
    return redirect("/home?invitation=accepted")


@routes.post("/invitations/{token}")
async def start_registration(request: web.Request) -> web.Response:
    found = await _invitation(request)
    if isinstance(found, web.Response):
        return found
    token, summary = found
    return _register_page(request, token, summary, forms.Form())


@routes.post("/invitations/{token}/account")
async def register(request: web.Request) -> web.Response:
    found = await _invitation(request)
    if isinstance(found, web.Response):
        return found
    token, summary = found
    form, password = forms.check_registration(await request.post())
    if form.errors:
        return _register_page(request, token, summary, form)
    try:
        registration = await gateway(request).call(identity.REGISTER, caller(request), {
            "token": token, "given_name": form.values["given_name"], "family_name": form.values["family_name"],
            "email": form.values["email"], "password": password})
    except GatewayProblem as p:
        log.info("registration refused", extra={"status": p.status, "code": p.code})
        if p.status in (404, 410):
            return _invitation_gone(request, p)
        if form.merge_gateway_errors(p.field_errors()):
            return _register_page(request, token, summary, form)
        return _register_page(request, token, summary, form, problem=p.message)
    response = redirect("/create-account/code")
    REGISTRATION.remember(request, response, {"registration_id": str(registration.registration_id),
                                              "email": registration.email},
                          portal_settings(request).journey_seconds)
    return response


def _pending(request: web.Request) -> dict[str, Any] | None:
    pending = REGISTRATION.read(request, portal_settings(request).journey_seconds)
    if pending is None or not isinstance(pending.get("registration_id"), str):
        return None
    return pending


def _code_page(request: web.Request, pending: dict[str, Any], **context: Any) -> web.Response:
    return render(request, "code.html", {"email": pending.get("email", ""), "entered": "", "intro": "registration",
                                         "code_action": "/create-account/code",
                                         "resend_action": "/create-account/code/resend", **context})


def _no_registration(request: web.Request) -> web.Response:
    return render(request, "message.html", {
        "heading": "Open your invitation link again",
        "paragraphs": ["We could not find the account you were creating. This happens if it was more than an hour "
                       "ago, or if your browser blocks cookies.",
                       "Open the link in your invitation email again to start again."],
        "link": None,
    }, status=400)


@routes.get("/create-account/code")
async def registration_code_form(request: web.Request) -> web.Response:
    pending = _pending(request)
    if pending is None:
        return _no_registration(request)
    return _code_page(request, pending, new_code_sent=request.query.get("new-code") == "sent")


@routes.post("/create-account/code")
async def check_registration_code(request: web.Request) -> web.Response:
    pending = _pending(request)
    if pending is None:
        return _no_registration(request)
    code = forms.check_code(str((await request.post()).get("code", "")))
    if code.errors:
        return _code_page(request, pending, errors=code.errors, entered=code.entered)
    try:
        await gateway(request).call(identity.VERIFY_REGISTRATION, caller(request),
                                    {"registration_id": pending["registration_id"], "code": code.code})
    except GatewayProblem as p:
        log.info("registration code refused", extra={"status": p.status, "code": p.code})
        if p.status in (404, 410):
            return _no_registration(request)
        return _code_page(request, pending, errors={"code": p.message}, entered=code.entered)
    response = redirect("/create-account/done")
    REGISTRATION.forget(request, response)
    return response


@routes.post("/create-account/code/resend")
async def resend_registration_code(request: web.Request) -> web.Response:
    pending = _pending(request)
    if pending is None:
        return _no_registration(request)
    try:
        await gateway(request).call(identity.RESEND_REGISTRATION_CODE, caller(request),
                                    {"registration_id": pending["registration_id"]})
    except GatewayProblem as p:
        log.info("registration new code refused", extra={"status": p.status, "code": p.code})
        if p.status in (404, 410):
            return _no_registration(request)
        return _code_page(request, pending, problem=p.message)
    return redirect("/create-account/code?new-code=sent")


@routes.get("/create-account/done")
async def account_ready(request: web.Request) -> web.Response:
    return render(request, "account_ready.html", {
        "heading": "Your account is ready",
        "paragraphs": ["You can now sign in with your email address and password. Each time you sign in, "
                       "we’ll email you a code."],
    })
