"""When an LA's PEPs go to quality assurance: its Virtual School sees the rule, its VS admin changes it.

pep decides who may (anyone outside the LA's Virtual School gets 404, its other roles 403 on a change); the page
only shows and collects the choice (shared/api/peps.py SubmissionSettings)."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from services.portal.children_pages import ensure_signed_in
from services.portal.contribution_words import RULE_HINTS, RULES
from services.portal.gateway_client import GatewayProblem
from services.portal.pagekit import gateway, redirect, render_signed_in, require_uuid
from shared.api.identity import GET_ORGANISATION
from shared.api.peps import GET_SUBMISSION_SETTINGS, SET_SUBMISSION_SETTINGS, SubmissionSettings

log = logging.getLogger(__name__)
routes = web.RouteTableDef()


async def _page(request: web.Request, la_id: str, value: str, error: str | None = None,
                status: int = 200) -> web.Response:
    org = await gateway(request).call(GET_ORGANISATION, ensure_signed_in(request), org_id=la_id)
    items: list[dict[str, Any]] = [{"value": key, "text": words, "hint": {"text": RULE_HINTS[key]},
                                    "checked": key == value} for key, words in RULES.items()]
    return await render_signed_in(request, "submission_settings.html", {
        "current_page": "home", "org": org, "items": items, "errors": {"goes_to_qa": error} if error else {},
        "error_list": [{"text": error, "href": "#goes_to_qa"}] if error else []}, status=status)


@routes.get("/organisations/{la_id}/submission-settings")
async def submission_settings_form(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    la_id = require_uuid(request, "la_id")
    current = await gateway(request).call(GET_SUBMISSION_SETTINGS, who, la_id=la_id)
    return await _page(request, la_id, current.goes_to_qa)


@routes.post("/organisations/{la_id}/submission-settings")
async def change_submission_settings(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    la_id = require_uuid(request, "la_id")
    value = str((await request.post()).get("goes_to_qa", ""))
    if value not in RULES:
        return await _page(request, la_id, "", "Select when a PEP goes to quality assurance")
    try:
        await gateway(request).call(SET_SUBMISSION_SETTINGS, who, SubmissionSettings.model_validate(
            {"goes_to_qa": value}), la_id=la_id)
    except GatewayProblem as p:
        if p.status == 404:
            raise
        log.info("submission settings refused", extra={"status": p.status, "code": p.code})
        return await _page(request, la_id, value, p.message, status=p.status if p.status == 403 else 200)
    return redirect(f"/organisations/{la_id}?done=submission-settings")
