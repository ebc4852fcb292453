"""How long the LA keeps a child's records: until which birthday (its VS admin decides; 75 unless changed).

An increase applies at once. A reduction waits: the page says from which day it takes effect (30 days on) and that
another VS administrator must confirm it, and offers them the button to do so."""

from __future__ import annotations

import logging

from aiohttp import web

from services.portal.children_pages import ensure_signed_in
from services.portal.gateway_client import GatewayProblem
from services.portal.pagekit import gateway, redirect, render_signed_in, require_uuid
from shared.api.children import CONFIRM_RETENTION, GET_RETENTION, SET_RETENTION
from shared.api.identity import GET_ORGANISATION
from shared.api.retention import RetentionConfirm, RetentionRule, RetentionState

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
DONE = {"proposed": "Reduction proposed: it takes effect on the date shown, once another Virtual School "
                    "administrator confirms it.",
        "confirmed": "Reduction confirmed: it takes effect on the date shown."}


async def _page(request: web.Request, la_id: str, value: str, error: str | None = None,
                confirm_error: str | None = None) -> web.Response:
    who = ensure_signed_in(request)
    rule: RetentionState = await gateway(request).call(GET_RETENTION, who, la_id=la_id)
    org = await gateway(request).call(GET_ORGANISATION, who, org_id=la_id)
    return await render_signed_in(request, "retention.html", {
        "current_page": "home", "org": org, "value": value or str(rule.keep_until_age), "rule": rule,
        "done": DONE.get(request.query.get("done", "")), "confirm_error": confirm_error,
        "errors": {"keep_until_age": error} if error else {}})


@routes.get("/organisations/{la_id}/retention")
async def retention_form(request: web.Request) -> web.Response:
    ensure_signed_in(request)
    return await _page(request, require_uuid(request, "la_id"), "")


@routes.post("/organisations/{la_id}/retention")
async def change_retention(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    la_id = require_uuid(request, "la_id")
    value = str((await request.post()).get("keep_until_age", "")).strip()
    if not value.isdigit() or not 25 <= int(value) <= 100:
        return await _page(request, la_id, value, "Enter an age from 25 to 100")
    try:
        state: RetentionState = await gateway(request).call(
            SET_RETENTION, who, RetentionRule(keep_until_age=int(value)), la_id=la_id)
    except GatewayProblem as p:
        if p.status == 404:
            raise
        log.info("retention rule refused", extra={"status": p.status, "code": p.code})
        return await _page(request, la_id, value, p.field_errors().get("keep_until_age") or p.message)
    if state.pending is not None:
        return redirect(f"/organisations/{la_id}/retention?done=proposed")
    return redirect(f"/organisations/{la_id}?done=retention")


@routes.post("/organisations/{la_id}/retention/confirm")
async def confirm_retention(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    la_id = require_uuid(request, "la_id")
    value = str((await request.post()).get("keep_until_age", "")).strip()
    if not value.isdigit() or not 25 <= int(value) <= 100:
        return await _page(request, la_id, "", confirm_error="This reduction could not be confirmed")
    try:
        await gateway(request).call(CONFIRM_RETENTION, who, RetentionConfirm(keep_until_age=int(value)), la_id=la_id)
    except GatewayProblem as p:
        if p.status == 404:
            raise
        log.info("retention reduction not confirmed", extra={"status": p.status, "code": p.code})
        return await _page(request, la_id, "", confirm_error=p.message)  # the page again, saying why
    return redirect(f"/organisations/{la_id}/retention?done=confirmed")
