"""When an LA's people are signed out for doing nothing: its Virtual School sees the rule, its VS admin changes it.

identity decides who may (anyone outside the LA's Virtual School gets 404, its other roles 403 on a change) and
which minutes are allowed (it names the field and the bounds); the page only shows and collects the minutes
(shared/api/identity.py SessionRules)."""

from __future__ import annotations

import logging

from aiohttp import web

from services.portal.children_pages import ensure_signed_in
from services.portal.gateway_client import GatewayProblem
from services.portal.pagekit import gateway, redirect, render_signed_in, require_uuid
from shared.api.identity import GET_ORGANISATION, GET_SESSION_RULES, SET_SESSION_RULES, SessionRules, SessionRulesOut

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

FIELDS = ("idle_minutes", "warning_minutes")
NOT_A_NUMBER = {"idle_minutes": "Enter the minutes before signing people out as a whole number, like 20",
                "warning_minutes": "Enter the minutes of warning as a whole number, like 2"}


async def _page(request: web.Request, la_id: str, current: SessionRulesOut, values: dict[str, str],
                errors: dict[str, str] | None = None, status: int = 200) -> web.Response:
    org = await gateway(request).call(GET_ORGANISATION, ensure_signed_in(request), org_id=la_id)
    errors = errors or {}
    return await render_signed_in(request, "session_rules.html", {
        "current_page": "home", "org": org, "current": current, "values": values, "errors": errors,
        "error_list": [{"text": errors[f], "href": f"#{f}"} for f in FIELDS if f in errors]}, status=status)


@routes.get("/organisations/{la_id}/session-rules")
async def session_rules_form(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    la_id = require_uuid(request, "la_id")
    current = await gateway(request).call(GET_SESSION_RULES, who, la_id=la_id)
    return await _page(request, la_id, current, {f: str(getattr(current, f)) for f in FIELDS})


@routes.post("/organisations/{la_id}/session-rules")
async def change_session_rules(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    la_id = require_uuid(request, "la_id")
    form = await request.post()
    values = {f: str(form.get(f, "")).strip() for f in FIELDS}
    current = await gateway(request).call(GET_SESSION_RULES, who, la_id=la_id)
    errors = {f: NOT_A_NUMBER[f] for f in FIELDS if not values[f].isdigit() or len(values[f]) > 4}
    if errors:
        return await _page(request, la_id, current, values, errors)
    try:
        await gateway(request).call(SET_SESSION_RULES, who, SessionRules(
            idle_minutes=int(values["idle_minutes"]), warning_minutes=int(values["warning_minutes"])), la_id=la_id)
    except GatewayProblem as p:
        if p.status == 404:
            raise
        log.info("session rules refused", extra={"status": p.status, "code": p.code})
        found = {f: m for f, m in p.field_errors().items() if f in FIELDS} or {"idle_minutes": p.message}
        return await _page(request, la_id, current, values, found, status=p.status if p.status == 403 else 200)
    return redirect(f"/organisations/{la_id}?done=session-rules")
