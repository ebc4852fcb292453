"""How long the LA keeps a child's records: until which birthday (its VS admin decides; 75 unless changed)."""

from __future__ import annotations

import logging

from aiohttp import web

from services.portal.children_pages import ensure_signed_in
from services.portal.gateway_client import GatewayProblem
from services.portal.pagekit import gateway, redirect, render_signed_in, require_uuid
from shared.api.children import GET_RETENTION, SET_RETENTION
from shared.api.identity import GET_ORGANISATION
from shared.api.retention import RetentionRule

log = logging.getLogger(__name__)
routes = web.RouteTableDef()


async def _page(request: web.Request, la_id: str, value: str, error: str | None = None) -> web.Response:
    org = await gateway(request).call(GET_ORGANISATION, ensure_signed_in(request), org_id=la_id)
    return await render_signed_in(request, "retention.html", {
        "current_page": "home", "org": org, "value": value, "errors": {"keep_until_age": error} if error else {}})


@routes.get("/organisations/{la_id}/retention")
async def retention_form(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    la_id = require_uuid(request, "la_id")
    rule = await gateway(request).call(GET_RETENTION, who, la_id=la_id)
    return await _page(request, la_id, str(rule.keep_until_age))


@routes.post("/organisations/{la_id}/retention")
async def change_retention(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    la_id = require_uuid(request, "la_id")
    value = str((await request.post()).get("keep_until_age", "")).strip()
    if not value.isdigit() or not 25 <= int(value) <= 100:
        return await _page(request, la_id, value, "Enter an age from 25 to 100")
    try:
        await gateway(request).call(SET_RETENTION, who, RetentionRule(keep_until_age=int(value)), la_id=la_id)
    except GatewayProblem as p:
        if p.status == 404:
            raise
        log.info("retention rule refused", extra={"status": p.status, "code": p.code})
        return await _page(request, la_id, value, p.field_errors().get("keep_until_age") or p.message)
    return redirect(f"/organisations/{la_id}?done=retention")
