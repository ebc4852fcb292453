"""The child's and carer's views by secure invitation (issue: the child's voice), over HTTP.

The inviter's half (signed in): invite a young person or carer to one section of a child's open PEP, list the
invitations, revoke one. The invited person's half (no account; the gateway calls as itself): open the link
(a code is emailed), enter the code (a session for that invitation only), read and save their answers. Every
use is written to the child's access log, and nothing here answers with anything but that one section.
The rules are in domain/views.py, the SQL in views_store.py.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from typing import Any

import asyncpg
from aiohttp import web
from pydantic import BaseModel, Field

from services.pep import pep_store, peps
from services.pep import views_store as store
from services.pep.domain import lifecycle
from services.pep.domain import views as rules
from services.pep.domain.templates import clean_answers
from shared import codes
from shared.api import views as api
from shared.api.views import ViewsInvitationOut, ViewsInvite, ViewsOpen, ViewsSave, ViewsVerify
from shared.authz import not_found
from shared.errors import FieldError, Problem
from shared.service import POOL, SETTINGS
from shared.web import CLAIMS, REQUEST_ID, parse_body, path_uuid, serves

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

# One answer for every link that does not work (unknown, expired, revoked, the PEP moved on), so a link says
# nothing about why; the words are kind, because a child may read them.
def link_closed() -> Problem:
    return Problem(404, "This link no longer works", "It may have run out of time, been cancelled, or the PEP "
                   "meeting may have happened already. Thank you for wanting to share your views: ask the person "
                   "who sent you the link for a new one.", code="views_link_closed")


def invitation_ended(invitation: asyncpg.Record) -> Problem:
    """To someone with a session, whose invitation has ended since (revoked, run out, or the PEP moved on): they
    proved who they are, so they are told plainly, and who to talk to (the person who invited them, named in their
    email already). No code can help, so none is offered."""
    return Problem(404, "This invitation has ended", "Everything you saved is kept. If you want to say something "
                   "else, talk to the person who sent you the link.", code="views_invitation_ended",
                   extra={"ask": invitation["created_by_name"]})


def session_ended() -> Problem:
    return Problem(401, "Enter a new code to carry on", "For your safety we ask for a code from your email again "
                   "after a while. Your answers so far are saved.", code="views_session_ended")


class _SessionCall(BaseModel):
    session_token: str = Field(min_length=20, max_length=100)
    answers: dict[str, Any] | None = None


def _settings(request: web.Request) -> Any:
    return request.app[SETTINGS]


# ---- the inviter ---------------------------------------------------------------------------------------------


def _out(row: asyncpg.Record, pep_status: str) -> ViewsInvitationOut:
    return ViewsInvitationOut(id=row["id"], pep_id=row["pep_id"], section=row["section_key"],
                              audience=row["audience"], given_name=row["given_name"], email=row["email"],
                              question_set=row["question_set"],
                              status=rules.status(row["revoked_at"] is not None, row["expired"], pep_status),
                              created_at=row["created_at"], expires_at=row["expires_at"],
                              revoked_at=row["revoked_at"], last_used_at=row["last_used_at"],
                              created_by_name=row["created_by_name"])


@serves(routes, api.LIST_VIEWS_INVITATIONS)
async def list_invitations(request: web.Request) -> list[ViewsInvitationOut]:
    async with request.app[POOL].acquire() as conn:
        pep, access, _ = await peps._pep_or_404(conn, request[CLAIMS], path_uuid(request, "pep_id"))
        rows = await store.of_pep(conn, pep["id"])
    return [_out(r, pep["status"]) for r in rows if access.may_see_section(r["section_key"])]


@serves(routes, api.INVITE_VIEWS)
async def invite(request: web.Request) -> ViewsInvitationOut:
    """Email a young person or carer a link to this PEP's views section (theirs only), for `days` days."""
    claims = request[CLAIMS]
    body = await parse_body(request, ViewsInvite)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        pep, access, template = await peps._pep_or_404(conn, claims, path_uuid(request, "pep_id"), lock=True)
        section = template.section(body.section)
        if section is None or not access.may_see_section(section.key):
            raise not_found("section")
        if not rules.may_invite(access.can_edit, access.via, section.owner, pep["status"]):
            raise Problem(403, "You cannot invite anyone to this section now", code="read_only",
                          detail=f"This PEP is {pep['status'].replace('_', ' ')}." if pep["status"] not in
                          lifecycle.EDITABLE else "Another role writes this section.")
        question_set = body.question_set if section.field("question_set") is not None else None
        invitation_id = await store.create(conn, pep, section.key, body.given_name.strip(), body.email.strip(),
                                           question_set, body.days, uuid.UUID(claims.sub), request[REQUEST_ID])
        row = await store.invitation(conn, invitation_id)
    log.info("views invitation sent", extra={"invitation_id": str(invitation_id), "section": section.key})
    return _out(row, pep["status"])


@serves(routes, api.REVOKE_VIEWS_INVITATION)
async def revoke(request: web.Request) -> ViewsInvitationOut:
    claims = request[CLAIMS]
    async with request.app[POOL].acquire() as conn, conn.transaction():
        pep, access, template = await peps._pep_or_404(conn, claims, path_uuid(request, "pep_id"))
        row = await store.invitation(conn, path_uuid(request, "invitation_id"), pep["id"], lock=True)
        if row is None or not access.may_see_section(row["section_key"]):
            raise not_found("invitation")
        section = template.section(row["section_key"])
        if section is None or not rules.may_revoke(access.can_edit, access.via, section.owner):
            raise Problem(403, "You cannot revoke this invitation", code="forbidden")
        await store.revoke(conn, row["id"], uuid.UUID(claims.sub))
        row = await store.invitation(conn, row["id"])
    return _out(row, pep["status"])


# ---- the invited person -------------------------------------------------------------------------------------


async def _audit(conn: asyncpg.Connection, request: web.Request, invitation: asyncpg.Record, method: str,
                 endpoint: str) -> None:
    await store.audit(conn, invitation, method, endpoint, request.get(REQUEST_ID), request[CLAIMS].address)


def _open(row: asyncpg.Record) -> bool:
    return rules.is_open(row["revoked_at"] is not None, row["expired"], row["pep_status"])


async def _by_token(conn: asyncpg.Connection, token: str, *, lock: bool = False) -> asyncpg.Record:
    row = await store.by_token(conn, token, lock=lock)
    if row is None or not _open(row):
        raise link_closed()
    return row


def _service_only(request: web.Request) -> None:
    if not request[CLAIMS].is_service:  # only the gateway, for a person with a link
        raise not_found("page")


@routes.post("/views/check")
async def check_link(request: web.Request) -> web.Response:
    """The link is being opened (GET in the browser): does it still work? Nothing is sent and nothing changes, so
    a mail scanner that follows it does no harm; a link that does not work is told so at once, the same whatever
    the reason."""
    _service_only(request)
    body = await parse_body(request, ViewsOpen)
    async with request.app[POOL].acquire() as conn:
        await _by_token(conn, body.token)
    return web.Response(status=204)


@routes.post("/views/open")
async def open_link(request: web.Request) -> web.Response:
    """The person pressed the button on the link's page: email them a code (a new one replaces the old)."""
    _service_only(request)
    body = await parse_body(request, ViewsOpen)
    settings = _settings(request)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        row = await _by_token(conn, body.token, lock=True)
        in_window = await store.in_codes_window(conn, row)
        if in_window and row["codes_sent"] >= settings.views_codes_per_hour:
            raise Problem(429, "Too many codes asked for", "Wait an hour, then ask for a new code. Your answers "
                          "so far are saved.", code="too_many_codes")
        code = codes.new_code()
        key_id, code_hmac = rules.code_digest(settings.views_code_keys, row["id"], code)
        expires_at = await store.issue_code(conn, row, key_id, code_hmac, codes.display(code),
                                            float(settings.views_code_ttl_seconds), in_window, request[REQUEST_ID])
        await _audit(conn, request, row, "POST", "/views/open")
    return web.json_response({"code_expires_at": expires_at.isoformat()}, status=202)


@routes.post("/views/verify")
async def verify(request: web.Request) -> web.Response:
    """The emailed code: right, and a session for this invitation begins (its token is kept only hashed)."""
    _service_only(request)
    body = await parse_body(request, ViewsVerify)
    settings = _settings(request)
    async with request.app[POOL].acquire() as conn:
        async with conn.transaction():
            row = await _by_token(conn, body.token, lock=True)
            outcome = rules.judge_code(settings.views_code_keys, row["id"], body.code, key_id=row["code_key_id"],
                                       stored=row["code_hmac"], tries=row["code_tries"],
                                       max_tries=settings.views_code_max_tries,
                                       expired=await store.code_expired(conn, row),
                                       used=row["code_used_at"] is not None)
            if outcome is rules.CodeOutcome.WRONG:
                await store.wrong_code(conn, row["id"])
            await _audit(conn, request, row, "POST", "/views/verify" if outcome is rules.CodeOutcome.ACCEPTED
                         else "/views/verify/refused")
            if outcome is rules.CodeOutcome.ACCEPTED:
                session = secrets.token_urlsafe(32)
                expires_at = await store.start_session(conn, row, session, float(settings.views_session_seconds))
    if outcome is rules.CodeOutcome.WRONG:
        raise Problem(400, "The code is not right", "Check the code in your email and try again.",
                      code="code_wrong", errors=[FieldError(field="code", message="Enter the code from your email")])
    if outcome is rules.CodeOutcome.NEED_NEW:
        raise Problem(400, "Ask for a new code", "This code has run out of time or was tried too many times.",
                      code="code_expired", errors=[FieldError(field="code", message="Ask for a new code")])
    return web.json_response({"session_token": session, "expires_at": expires_at.isoformat()})


async def _by_session(conn: asyncpg.Connection, token: str, *, lock: bool = False) -> asyncpg.Record:
    row = await store.by_session(conn, token, lock=lock)
    if row is None:
        raise session_ended()
    if not _open(row):
        raise invitation_ended(row)
    return row


async def _form(conn: asyncpg.Connection, invitation: asyncpg.Record) -> dict[str, Any]:
    pep = await pep_store.pep(conn, invitation["pep_id"])
    assert pep is not None
    template = await pep_store.template_by_id(conn, pep["template_id"])
    section = template.section(invitation["section_key"])
    if section is None:
        raise invitation_ended(invitation)
    questions = rules.questions_for(section, invitation["question_set"])
    saved = await store.section_answers(conn, pep["id"], section.key)
    keys = {q.key for q in questions}
    return {"audience": invitation["audience"], "given_name": invitation["given_name"], "title": section.title,
            "questions": [q.model_dump(mode="json", exclude_none=True) for q in questions],
            "answers": {k: v for k, v in saved["answers"].items() if k in keys},
            "saved_at": saved["updated_at"].isoformat() if saved["version"] else None,
            "expires_at": invitation["expires_at"].isoformat()}


@routes.post("/views/form")
async def read_form(request: web.Request) -> web.Response:
    _service_only(request)
    body = await parse_body(request, _SessionCall)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        invitation = await _by_session(conn, body.session_token)
        form = await _form(conn, invitation)
        await _audit(conn, request, invitation, "GET", "/views/form")
    return web.json_response(form)


@routes.put("/views/form")
async def save_form(request: web.Request) -> web.Response:
    """Save some answers as they go: only those sent change, and nobody's other answers are touched. No version
    to match: a young person's phone that slept must never lose what they wrote."""
    _service_only(request)
    body = await parse_body(request, _SessionCall)
    answers = ViewsSave(answers=body.answers or {}).answers
    async with request.app[POOL].acquire() as conn, conn.transaction():
        invitation = await _by_session(conn, body.session_token, lock=True)
        pep = await pep_store.pep(conn, invitation["pep_id"], lock=True)
        assert pep is not None
        if pep["status"] not in lifecycle.EDITABLE:
            raise invitation_ended(invitation)
        template = await pep_store.template_by_id(conn, pep["template_id"])
        section = template.section(invitation["section_key"])
        if section is None:
            raise invitation_ended(invitation)
        clean, errors = clean_answers(rules.questions_for(section, invitation["question_set"]), answers)
        if errors:
            raise Problem(422, "Some answers need changing", code="validation",
                          errors=[FieldError(field=f"answers.{e.field}", message=e.message) for e in errors])
        if clean:
            current = await store.section_answers(conn, pep["id"], section.key)
            clean.update(rules.recorded_how(section, invitation["question_set"], current["answers"],
                                            current["to_check"]))
            await pep_store.save_section_as(conn, pep["id"], section.key, clean, invitation["id"])
            await store.answered(conn, invitation, pep)
            await _audit(conn, request, invitation, "PUT", "/views/form")
        form = await _form(conn, invitation)
    return web.json_response(form)


@routes.post("/views/end")
async def end_session(request: web.Request) -> web.Response:
    """I have finished: the session ends on the server now, not only in the browser, so its cookie replayed opens
    nothing. Their answers stay; the link works again (with a new code) until the invitation ends."""
    _service_only(request)
    body = await parse_body(request, _SessionCall)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        invitation = await store.end_session(conn, body.session_token)
        if invitation is None:
            raise session_ended()
        await store.audit(conn, invitation, "POST", "/views/end", request.get(REQUEST_ID), request[CLAIMS].address)
    return web.Response(status=204)
