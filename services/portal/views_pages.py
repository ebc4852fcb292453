"""The child's voice: a young person or carer gives their views from an emailed link, on their phone, without an
account; and the Designated Teacher or social worker invites them and sees who was asked.

The invited person's pages show nothing about the child but the questions meant for them. Opening the link (GET)
only shows a button: pressing it (POST) emails a code, so a mail scanner that follows links changes nothing. The
right code gives a views session, kept in an HttpOnly cookie sent only to /your-views. Answers save as they go
(the same script as a PEP section's autosave) and with a plain Save button; nothing times out and loses them.
"""

from __future__ import annotations

import contextlib
import logging
import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from services.portal import pep_forms
from services.portal.accounts import UK
from services.portal.children_pages import ensure_signed_in
from services.portal.gateway_client import VIEWS_COOKIE, Caller, GatewayProblem, GatewayUnavailable, NotSignedIn
from services.portal.pagekit import caller, gateway, portal_settings, redirect, render, render_signed_in, require_uuid
from services.portal.security import clear_cookie, set_cookie
from shared.api import views as views_api
from shared.api.children import GET_CHILD
from shared.api.identity import email_error
from shared.api.operations import Operation
from shared.api.peps import GET_PEP, GET_SECTION
from shared.api.templates import TemplateField
from shared.api.views import ViewsForm, ViewsInvitationOut, ViewsSession

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
VIEWS_PATH = "/your-views"
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{20,100}$")
CLOSED = {"heading": "This link no longer works",
          "paragraphs": ["It may have run out of time, been cancelled, or the PEP meeting may have happened already.",
                         "Thank you for wanting to share your views. Ask the person who sent you the link for a "
                         "new one."]}
# For someone who had a session when their invitation ended (revoked, run out, the PEP moved on): no code can help.
def ended_words(ask: str | None) -> dict[str, Any]:
    who = f"{ask}, who sent you the link," if ask else "the person who sent you the link"
    return {"heading": "This invitation has ended",
            "paragraphs": ["You cannot add to your answers here any more. Everything you saved is kept, and the "
                           "adults at your PEP meeting will read it.",
                           f"If you want to say anything else, talk to {who} or another adult you trust."]}


NEW_CODE = {"heading": "Open the link in your email again",
            "paragraphs": ["To keep your answers safe, we ask for a new code from your email after a while.",
                           "Everything you have written so far is saved. Open the link in the email we sent you, "
                           "and we’ll send you a new code."]}


class ViewsSessionEnded(Exception):
    """The views cookie is missing or its session has ended."""


def _ended(p: GatewayProblem) -> bool:
    return p.code == "views_invitation_ended"


def _ask(p: GatewayProblem) -> str | None:
    ask = p.extra.get("ask")
    return ask if isinstance(ask, str) and ask else None


# ---- calls to the gateway (the views cookie is passed on; the portal's own session is not involved) ----------


async def _call(request: web.Request, op: Operation, body: Any = None, session: str | None = None) -> Any:
    """An operation of the views pages: as the invited person (their views cookie, never a staff session)."""
    who = replace(caller(request), views_token=session)
    try:
        return await gateway(request).call(op, who, body)
    except NotSignedIn:
        raise ViewsSessionEnded() from None


def _message(request: web.Request, words: dict[str, Any], status: int) -> web.Response:
    return render(request, "message.html", {**words, "views_page": True}, status=status)


class LinkClosed(Exception):
    """A link that does not work: the kind page, the same whatever the reason (revoked, expired, unknown, cut short)."""


def _token(request: web.Request) -> str:
    token = request.match_info.get("token", "")
    if not TOKEN_SHAPE.match(token):
        raise LinkClosed()  # cut short in the email, or made up: the same page as any link that does not work
    return token


def _closed(request: web.Request) -> web.Response:
    return _message(request, CLOSED, 404)


# ---- the invited young person or carer ------------------------------------------------------------------------


@routes.get(VIEWS_PATH + "/{token}")
async def link(request: web.Request) -> web.Response:
    """The emailed link, opened: it is checked now (nothing is sent: a mail scanner following it changes nothing),
    so a link that does not work says so at once rather than after "Email me a code"."""
    try:
        token = _token(request)
        await _call(request, views_api.CHECK_VIEWS_LINK, {"token": token})
    except (LinkClosed, ViewsSessionEnded):
        return _closed(request)
    except GatewayProblem as p:
        if p.status == 429:
            return _message(request, {"heading": "Please wait a little", "paragraphs": [p.detail or p.title]}, 429)
        return _closed(request)
    return render(request, "views_start.html", {"action": f"{VIEWS_PATH}/{token}", "views_page": True})


@routes.post(VIEWS_PATH + "/{token}")
async def send_code(request: web.Request) -> web.Response:
    try:
        token = _token(request)
    except LinkClosed:
        return _closed(request)
    try:
        await _call(request, views_api.OPEN_VIEWS_LINK, {"token": token})
    except GatewayProblem as p:
        if p.status == 429:
            return _message(request, {"heading": "Please wait a little", "paragraphs": [p.detail or p.title]}, 429)
        return _message(request, CLOSED, 404)
    return _code_page(request, token)


def _code_page(request: web.Request, token: str, error: str | None = None, entered: str = "") -> web.Response:
    errors = {"code": error} if error else {}
    return render(request, "views_code.html", {
        "action": f"{VIEWS_PATH}/{token}/code", "resend": f"{VIEWS_PATH}/{token}", "errors": errors,
        "entered": entered, "views_page": True}, status=400 if error else 200)


@routes.post(VIEWS_PATH + "/{token}/code")
async def enter_code(request: web.Request) -> web.Response:
    try:
        token = _token(request)
    except LinkClosed:
        return _closed(request)
    entered = str((await request.post()).get("code", "")).strip()[:32]
    if not entered:
        return _code_page(request, token, "Enter the code from your email")
    try:
        session: ViewsSession = await _call(request, views_api.VERIFY_VIEWS_CODE, {"token": token, "code": entered})
    except GatewayProblem as p:
        if p.status == 404:
            return _message(request, CLOSED, 404)
        if p.code == "code_expired":
            return _code_page(request, token, "This code has stopped working. Ask for a new code below", entered)
        return _code_page(request, token, "That code is not right. Check your email and try again", entered)
    response = redirect(f"{VIEWS_PATH}/answers")
    max_age = max(int((session.expires_at - datetime.now(UTC)).total_seconds()), 60)
    set_cookie(response, portal_settings(request), VIEWS_COOKIE, session.session_token, max_age=max_age,
               path=VIEWS_PATH)
    return response


def _questions(form: ViewsForm) -> list[TemplateField]:
    return [TemplateField.model_validate(q) for q in form.questions]


def _form_context(form: ViewsForm, raw: dict[str, Any], errors: dict[str, str], **more: Any) -> dict[str, Any]:
    questions = _questions(form)
    ordered = pep_forms.in_page_order(questions, errors)
    return {"form": form, "views_page": True, "carer": form.audience == "carer",
            "widgets": pep_forms.widgets(questions, raw, ordered, []),
            "errors": {pep_forms.element_id(p): m for p, m in ordered.items()},
            "error_list": pep_forms.summary_items(ordered), **more}


async def _form(request: web.Request) -> ViewsForm | web.Response:
    session = request.cookies.get(VIEWS_COOKIE, "")
    try:
        if not TOKEN_SHAPE.match(session):
            raise ViewsSessionEnded()
        form: ViewsForm = await _call(request, views_api.GET_VIEWS_FORM, session=session)
        return form
    except ViewsSessionEnded:
        return _message(request, NEW_CODE, 401)
    except GatewayProblem as p:
        return _message(request, ended_words(_ask(p)) if _ended(p) else CLOSED, 404)


@routes.get(VIEWS_PATH + "/answers")
async def answers(request: web.Request) -> web.Response:
    form = await _form(request)
    if isinstance(form, web.Response):
        return form
    raw = pep_forms.answers_to_raw(_questions(form), form.answers)
    saved = request.query.get("saved") == "1"
    return render(request, "views_answers.html", _form_context(form, raw, {}, saved=saved,
                                                               saved_at=_saved_words(form)))


def _saved_words(form: ViewsForm) -> str:
    """The status line's words: when their answers were last saved, in the portal's time ("Saved at 9:41am")."""
    return f"Saved at {pep_forms.saved_time(form.saved_at, UK)}" if form.saved_at else ""


async def _save(request: web.Request, form: ViewsForm) -> tuple[ViewsForm, dict[str, str], dict[str, Any]]:
    """Save what changed; return (the form now, errors by question, the raw form)."""
    questions = _questions(form)
    data = await request.post()
    raw = pep_forms.raw_from_post(questions, data)
    parsed = pep_forms.raw_to_answers(questions, raw)
    errors = dict(parsed.errors)
    mine = {k: v for k, v in parsed.answers.items() if not any(p.split(".")[0] == k for p in errors)}
    changed = pep_forms.changes(questions, mine, form.answers)
    if changed:
        try:
            form = await _call(request, views_api.SAVE_VIEWS_FORM, {"answers": changed},
                               session=request.cookies.get(VIEWS_COOKIE, ""))
        except GatewayProblem as p:
            if p.status != 422:
                raise
            errors.update(pep_forms.gateway_errors(questions, p.errors, parsed.rows)[0])
    return form, errors, raw


@routes.post(VIEWS_PATH + "/answers")
async def save_answers(request: web.Request) -> web.Response:
    form = await _form(request)
    if isinstance(form, web.Response):
        return form
    try:
        form, errors, raw = await _save(request, form)
    except ViewsSessionEnded:
        return _message(request, NEW_CODE, 401)
    except GatewayProblem as p:
        return _message(request, ended_words(_ask(p)) if _ended(p) else CLOSED, 404)
    if errors:
        return render(request, "views_answers.html", _form_context(form, raw, errors, saved_at=_saved_words(form)),
                      status=400)
    if str((await request.post()).get("action", "")) == "finish":
        # Ended on the server, not only in this browser: the cookie replayed opens nothing. If it had ended
        # already, their answers are saved all the same.
        with contextlib.suppress(ViewsSessionEnded):
            await _call(request, views_api.END_VIEWS_SESSION, session=request.cookies.get(VIEWS_COOKIE, ""))
        response = render(request, "views_done.html", {"form": form, "views_page": True,
                                                       "carer": form.audience == "carer"})
        clear_cookie(response, portal_settings(request), VIEWS_COOKIE, path=VIEWS_PATH)
        return response
    return redirect(f"{VIEWS_PATH}/answers?saved=1")


@routes.post(VIEWS_PATH + "/autosave")
async def autosave(request: web.Request) -> web.Response:
    """The page's script posts the form a moment after typing stops (pep-section.js): never a conflict, since
    only this person writes these questions."""
    def say(http_status: int, **body: Any) -> web.Response:
        return web.json_response(body, status=http_status)
    ended = ("This invitation has ended, so your latest answers are not saved. Everything you saved before is "
             "kept.")
    try:
        form = await _form(request)
        if isinstance(form, web.Response):
            if form.status == 401:
                return say(401, status="error", message="Your latest answers are not saved. Open the link in your "
                           "email again.")
            return say(404, status="error", message=ended)
        form, errors, _ = await _save(request, form)
    except ViewsSessionEnded:
        return say(401, status="error", message="Your latest answers are not saved. Open the link in your email "
                   "again.")
    except GatewayProblem as p:
        if p.status == 404:
            return say(404, status="error", message=ended)
        return say(503, status="error", message="Your answers could not be saved just now. Use the Save button.")
    except GatewayUnavailable:
        return say(503, status="error", message="Your answers could not be saved just now. Use the Save button.")
    message = _saved_words(form) or "Saved"
    if errors:
        message += ". Some answers need changing before they can be saved."
    return say(200, status="saved", version=0, message=message,
               errors=[{"id": pep_forms.element_id(p), "message": m} for p, m in errors.items()])


# ---- the inviter: the Designated Teacher or social worker --------------------------------------------------------

SECTIONS = {"views": "the child or young person", "carer_views": "the carer"}


def _section(request: web.Request) -> str:
    key = request.match_info.get("key", "")
    if key not in SECTIONS:
        raise web.HTTPNotFound()
    return key


async def _invite_page(request: web.Request, who: Caller, pep_id: str, key: str, *,
                       values: dict[str, str] | None = None, errors: dict[str, str] | None = None, status: int = 200,
                       done: str = "") -> web.Response:
    pep = await gateway(request).call(GET_PEP, who, pep_id=pep_id)
    child = await gateway(request).call(GET_CHILD, who, child_id=pep.child_id)
    section = await gateway(request).call(GET_SECTION, who, pep_id=pep_id, key=key)
    invitations: list[ViewsInvitationOut] = await gateway(request).call(views_api.LIST_VIEWS_INVITATIONS, who,
                                                                        pep_id=pep_id)
    question_sets = section.definition.field("question_set") is not None
    return await render_signed_in(request, "views_invite.html", {
        "current_page": "children", "pep": pep, "child": child, "section": section, "key": key,
        "who_words": SECTIONS[key], "question_sets": question_sets, "values": values or {"days": "14"},
        "errors": errors or {}, "done": done,
        "invitations": [i for i in invitations if i.section == key], "can_invite": section.can_edit,
        "base": f"/peps/{pep_id}/sections/{key}"}, status=status)


@routes.get("/peps/{pep_id}/sections/{key}/invitations")
async def invitations(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    done = {"sent": "Invitation sent", "revoked": "Invitation revoked"}.get(request.query.get("done", ""), "")
    return await _invite_page(request, who, require_uuid(request, "pep_id"), _section(request), done=done)


@routes.post("/peps/{pep_id}/sections/{key}/invitations")
async def send_invitation(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    pep_id, key = require_uuid(request, "pep_id"), _section(request)
    data = await request.post()
    values = {k: str(data.get(k, "")).strip() for k in ("given_name", "email", "days", "question_set")}
    errors = {}
    if not values["given_name"]:
        errors["given_name"] = "Enter their first name"
    if email_problem := email_error(values["email"], "Enter their email address"):
        errors["email"] = email_problem
    if not values["days"].isdigit() or not 1 <= int(values["days"]) <= 28:
        errors["days"] = "Enter a number of days from 1 to 28"
    if not errors:
        body: dict[str, Any] = {"section": key, "given_name": values["given_name"], "email": values["email"],
                                "days": int(values["days"])}
        if values["question_set"] in ("primary", "secondary", "symbols"):
            body["question_set"] = values["question_set"]
        try:
            await gateway(request).call(views_api.INVITE_VIEWS, who, body, pep_id=pep_id)
        except GatewayProblem as p:
            found = p.field_errors()
            errors = {k: v for k, v in found.items() if k in values} or {"given_name": p.message}
        else:
            return redirect(f"/peps/{pep_id}/sections/{key}/invitations?done=sent")
    return await _invite_page(request, who, pep_id, key, values=values, errors=errors, status=400)


@routes.post("/peps/{pep_id}/sections/{key}/invitations/{invitation_id}/revoke")
async def revoke_invitation(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    pep_id, key = require_uuid(request, "pep_id"), _section(request)
    invitation_id = require_uuid(request, "invitation_id")
    await gateway(request).call(views_api.REVOKE_VIEWS_INVITATION, who, pep_id=pep_id, invitation_id=invitation_id)
    return redirect(f"/peps/{pep_id}/sections/{key}/invitations?done=revoked")

